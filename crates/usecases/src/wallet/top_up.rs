//! A top-up, in three steps that never hold a transaction open across the processor call:
//!
//! 1. one transaction claims the idempotency key and inserts the top-up (`processing`);
//! 2. the processor is asked, outside any transaction, with the top-up id as its key and
//!    `wallet.processor_timeout_seconds` as the bound;
//! 3. one transaction settles it: guarded update to `completed` + the ledger movement
//!    clearing → wallet + the stored reply, or `failed` + the reply.
//!
//! A crash between 1 and 3 leaves the top-up `processing` and its key without a reply: a
//! retry with the key waits, then gets 409 "still processing"; the recovery job
//! ([`recover_stuck`]) asks the processor again with the same key (no second charge) and
//! settles it, after which a retry gets the stored reply.

use super::processor::{charge_within, ChargeOutcome, ChargeRequest};
use super::replies::settled_reply;
use super::{WalletPorts, WalletServiceError};
use crate::idempotency::{answer_repeat, new_record};
use tmcp_domain::ids::uuid_v7_at;
use tmcp_domain::wallet::{TopUpState, WalletAccountId};
use tmcp_domain::{Money, UserId};
use tmcp_repository::{
    IdempotencyScope, NewTopUp, NewWalletAccount, StoredReply, TopUp, TopUpBegin, TopUpError,
    TopUpSettlement, WalletOwner,
};
use uuid::Uuid;

pub const OPERATION: &str = "top_up";

/// A validated top-up request.
#[derive(Debug, Clone)]
pub struct TopUpRequest {
    pub user: UserId,
    pub amount: Money,
    pub payment_method_id: Uuid,
    pub idempotency_key: String,
    /// `idempotency::fingerprint` of the request.
    pub fingerprint: [u8; 32],
    /// Goes into a failure's stored envelope.
    pub request_id: String,
}

/// Runs the top-up, or answers for the first request with this key. Returns the reply to
/// send: 201 with the top-up, or a failure envelope (402/502/504) — both stored for replays.
pub async fn top_up(
    ports: WalletPorts<'_>,
    request: TopUpRequest,
) -> Result<StoredReply, WalletServiceError> {
    let now = ports.clock.now();
    let id = uuid_v7_at(now);
    let scope = IdempotencyScope {
        app_id: None,
        user_id: request.user,
    };
    let new = NewTopUp {
        top_up: TopUp {
            id,
            user_id: request.user,
            payment_method_id: request.payment_method_id,
            amount: request.amount,
            state: TopUpState::Processing,
            // Filled from the payment method inside the transaction.
            processor: String::new(),
            provider_method_id: String::new(),
            idempotency_key: request.idempotency_key.clone(),
            processor_transaction_id: None,
            failure_reason: None,
            movement_id: None,
            created_at: now,
            updated_at: now,
            settled_at: None,
        },
        idempotency: new_record(
            scope,
            &request.idempotency_key,
            OPERATION,
            request.fingerprint,
            id.to_string(),
            now,
            ports.settings.idempotency_retention,
        ),
    };
    let top_up = match ports.db.begin_top_up(&new).await? {
        TopUpBegin::Created(top_up) => top_up,
        TopUpBegin::Existing(record) => {
            let answer = answer_repeat(
                ports.db,
                record,
                &request.fingerprint,
                ports.settings.duplicate_wait,
            )
            .await?;
            return Ok(answer?);
        }
    };
    // Open the accounts before asking the processor: each opening is its own small
    // transaction that settles races on the owner's unique index, so the settlement only
    // locks accounts that exist.
    let accounts = open_accounts(ports, &top_up).await?;
    let outcome = ask_processor(ports, &top_up).await;
    settle(ports, &top_up, accounts, outcome, &request.request_id).await
}

async fn open_accounts(
    ports: WalletPorts<'_>,
    top_up: &TopUp,
) -> Result<(WalletAccountId, WalletAccountId), WalletServiceError> {
    let mut ids = Vec::with_capacity(2);
    for owner in [WalletOwner::Clearing, WalletOwner::User(top_up.user_id)] {
        let account = ports
            .db
            .open_wallet_account(NewWalletAccount {
                // Account ids are random by design (docs/ledger.md); unused if it exists.
                id: WalletAccountId::generate(&mut rand::rngs::OsRng),
                owner,
                currency: top_up.amount.currency,
                at: ports.clock.now(),
            })
            .await?;
        ids.push(account.id);
    }
    match (ids.pop(), ids.pop()) {
        (Some(wallet), Some(clearing)) => Ok((clearing, wallet)),
        _ => Err(WalletServiceError::Internal("accounts not opened".into())),
    }
}

async fn ask_processor(ports: WalletPorts<'_>, top_up: &TopUp) -> ChargeOutcome {
    let request = ChargeRequest {
        idempotency_key: top_up.id.to_string(),
        amount: top_up.amount,
        provider_method_id: top_up.provider_method_id.clone(),
    };
    charge_within(
        ports.processors.get(&top_up.processor),
        &request,
        ports.settings.processor_timeout,
    )
    .await
}

/// The settled form of `top_up` for `outcome` (the domain transition decides).
fn settled(
    ports: WalletPorts<'_>,
    top_up: &TopUp,
    outcome: ChargeOutcome,
) -> Result<TopUp, WalletServiceError> {
    let at = ports.clock.now();
    let transition = |r: Result<TopUpState, _>| {
        r.map_err(|e: tmcp_domain::wallet::TopUpTransitionError| {
            WalletServiceError::Internal(e.to_string())
        })
    };
    let mut next = top_up.clone();
    match outcome {
        ChargeOutcome::Approved {
            processor_transaction_id,
        } => {
            next.state = transition(top_up.state.complete())?;
            next.processor_transaction_id = Some(processor_transaction_id);
            next.movement_id = Some(uuid_v7_at(at));
        }
        ChargeOutcome::Declined { reason } => {
            next.state = transition(top_up.state.fail())?;
            next.failure_reason = Some(reason);
        }
        ChargeOutcome::Failed(failure) => {
            next.state = transition(top_up.state.fail())?;
            next.failure_reason = Some(failure.reason().to_owned());
        }
    }
    next.updated_at = at;
    next.settled_at = Some(at);
    Ok(next)
}

/// Settles `top_up` with `outcome` and returns its reply. If someone else settled it first
/// (a racing recovery), their stored reply is the answer.
async fn settle(
    ports: WalletPorts<'_>,
    top_up: &TopUp,
    (clearing, wallet): (WalletAccountId, WalletAccountId),
    outcome: ChargeOutcome,
    request_id: &str,
) -> Result<StoredReply, WalletServiceError> {
    let next = settled(ports, top_up, outcome)?;
    let reply = settled_reply(&next, ports.clock.now(), request_id);
    let settlement = TopUpSettlement {
        settled: next,
        clearing,
        wallet,
        reply: reply.clone(),
    };
    match ports.db.settle_top_up(&settlement).await {
        Ok(_) => Ok(reply),
        Err(TopUpError::AlreadySettled(_)) => {
            let record = ports
                .db
                .idempotency_record(&top_up.idempotency_scope(), &top_up.idempotency_key)
                .await?;
            record
                .and_then(|r| r.reply)
                .ok_or(WalletServiceError::DuplicateTransaction { in_flight: true })
        }
        Err(other) => Err(other.into()),
    }
}

/// The recovery job's batch: top-ups still processing although the processor timeout plus
/// `wallet.recovery_margin_seconds` has passed since they were created (their request died
/// between its two transactions). The processor is asked again with the same key — it
/// returns the first call's outcome or makes the one charge — and the top-up is settled with
/// its reply. Returns how many were settled.
pub async fn recover_stuck(
    ports: WalletPorts<'_>,
    limit: u32,
) -> Result<usize, WalletServiceError> {
    let grace = ports.settings.processor_timeout + ports.settings.recovery_margin;
    let before = ports.clock.now() - grace;
    let stuck = ports.db.processing_top_ups(before, limit).await?;
    let mut settled_count = 0;
    for top_up in stuck {
        let accounts = open_accounts(ports, &top_up).await?;
        let outcome = ask_processor(ports, &top_up).await;
        let marker = format!("recovery_{}", top_up.id.simple());
        settle(ports, &top_up, accounts, outcome, &marker).await?;
        settled_count += 1;
    }
    Ok(settled_count)
}

/// The age of the oldest top-up the recovery job should have settled by now (for the lag
/// metric), if any.
pub async fn oldest_stuck(
    ports: WalletPorts<'_>,
) -> Result<Option<time::OffsetDateTime>, WalletServiceError> {
    let grace = ports.settings.processor_timeout + ports.settings.recovery_margin;
    let before = ports.clock.now() - grace;
    let stuck = ports.db.processing_top_ups(before, 1).await?;
    Ok(stuck.first().map(|t| t.created_at))
}
