//! The payment rules shared by every engine, over a [`PaymentTx`]: the engine's wallet unit
//! of work (`PgWalletTx` / `SqliteWalletTx`) plus the SQL of the payment rows. Each rule
//! changes a payment's state through the domain state machine and a guarded update
//! (`WHERE state = expected`, one row), moves the money with the `wallet_tx` functions and
//! queues the webhook rows, all in the one unit of work the engine commits — or, on any
//! refusal, rolls back.
//!
//! Lock order: the payment row first, then wallet accounts (ascending id), then at most one
//! hold — `wallet_tx`'s order with the payment in front. Nothing locks a payment after an
//! account, so payment units of work never wait on each other (or on wallet ones) in a cycle.

use crate::idempotency::{IdempotencyRecord, IdempotencyTx};
use crate::oauth::OutboxEvent;
use crate::payments::{
    ChallengeMethod, ChallengeStatus, HoldOutcome, MfaChallenge, MfaOutcome, Payment,
    PaymentTxError, PaymentTxResult, PaymentViewer, Refund, RefundOutcome, Settled,
};
use crate::wallet_tx::{self, WalletTx};
use crate::wallets::{HoldCapture, NewHold};
use crate::wallets::{WalletError, WalletOwner};
use crate::{RepoError, RepoResult};
use async_trait::async_trait;
use serde_json::json;
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};
use tmcp_domain::ids::uuid_v7_at;
use tmcp_domain::payment_state::PaymentState;
use tmcp_domain::wallet::{EntryType, MovementBuilder, WalletAccountId};
use tmcp_domain::{Money, PaymentId};
use uuid::Uuid;

pub const PAYMENT_COMPLETED: &str = "payment.completed";
pub const PAYMENT_FAILED: &str = "payment.failed";
pub const PAYMENT_REFUNDED: &str = "payment.refunded";
pub const WALLET_UPDATED: &str = "wallet.updated";

/// Basis points are hundredths of a percent.
const BASIS_POINTS: i64 = 10_000;

/// One engine's open unit of work on the payment and wallet tables.
#[async_trait]
pub trait PaymentTx: WalletTx {
    async fn insert_payment(&mut self, payment: &Payment) -> RepoResult<()>;

    /// Locks the payment row until the unit of work ends and returns it.
    async fn lock_payment(&mut self, id: PaymentId) -> RepoResult<Option<Payment>>;

    /// Stores the payment's changing columns if its row is still in `expected`; `false`
    /// when it is not (rows affected 0).
    async fn update_payment(
        &mut self,
        payment: &Payment,
        expected: PaymentState,
    ) -> RepoResult<bool>;

    async fn insert_refund(&mut self, refund: &Refund) -> RepoResult<()>;

    async fn insert_challenge(&mut self, challenge: &MfaChallenge) -> RepoResult<()>;

    /// Locks the challenge until the unit of work ends and returns it.
    async fn lock_challenge(&mut self, id: Uuid) -> RepoResult<Option<MfaChallenge>>;

    /// Stores the challenge's status, attempts, method and verified_at.
    async fn update_challenge(&mut self, challenge: &MfaChallenge) -> RepoResult<()>;

    /// Marks the payment's pending challenges `expired` (a fresh one replaces them).
    async fn expire_pending_challenges(&mut self, payment: PaymentId) -> RepoResult<()>;

    /// Inserts a `webhook_outbox` row.
    async fn enqueue(&mut self, event: &OutboxEvent) -> RepoResult<()>;
}

/// Failed MFA verifications a payment survives; the last one fails it.
pub const MAX_MFA_ATTEMPTS: i32 = 3;

/// Holding a payment's amount while the user proves a second factor.
#[derive(Debug, Clone)]
pub struct HoldForMfa {
    pub payment_id: PaymentId,
    pub viewer: PaymentViewer,
    /// The user's enrolled methods; never empty.
    pub methods: Vec<ChallengeMethod>,
    pub challenge_ttl: Duration,
    pub at: OffsetDateTime,
}

/// A fresh challenge for a payment waiting for MFA.
#[derive(Debug, Clone)]
pub struct NewChallenge {
    pub payment_id: PaymentId,
    pub viewer: PaymentViewer,
    pub methods: Vec<ChallengeMethod>,
    pub challenge_ttl: Duration,
    pub at: OffsetDateTime,
}

/// The result of checking a proof against a challenge (checked by the caller, before the
/// unit of work: TOTP and PIN checks have their own replay guards).
#[derive(Debug, Clone)]
pub struct MfaAttempt {
    pub payment_id: PaymentId,
    pub challenge_id: Uuid,
    pub viewer: PaymentViewer,
    /// The method that accepted the proof, `None` when none did.
    pub verified: Option<ChallengeMethod>,
    pub fee_basis_points: u32,
    pub at: OffsetDateTime,
}

/// Settling a pending payment at once (below the MFA threshold).
#[derive(Debug, Clone)]
pub struct Settle {
    pub payment_id: PaymentId,
    /// Who authorizes: the payment must be theirs.
    pub viewer: PaymentViewer,
    /// The platform's share, in basis points of the amount (rounded down).
    pub fee_basis_points: u32,
    pub at: OffsetDateTime,
}

/// The platform fee of `amount` at `basis_points`, rounded down (the merchant keeps the
/// remainder), never above the amount.
pub fn fee_of(amount: i64, basis_points: u32) -> i64 {
    let fee = i128::from(amount) * i128::from(basis_points) / i128::from(BASIS_POINTS);
    i64::try_from(fee).unwrap_or(amount).clamp(0, amount)
}

/// Claims the request's idempotency key and inserts the payment, or — the key exists —
/// writes nothing and returns the existing record (the caller replays or refuses it).
pub async fn create<T: PaymentTx + IdempotencyTx + ?Sized>(
    tx: &mut T,
    payment: &Payment,
    key: &IdempotencyRecord,
) -> PaymentTxResult<Option<IdempotencyRecord>> {
    if payment.state != PaymentState::Initiated {
        return Err(RepoError::Internal("a new payment starts Initiated".into()).into());
    }
    if let Some(existing) = tx.claim_idempotency_key(key).await? {
        return Ok(Some(existing));
    }
    tx.insert_payment(payment).await?;
    Ok(None)
}

/// Locks the payment and checks the viewer may act on it; another owner's payment is "not
/// found", so its existence is not revealed.
async fn lock_visible<T: PaymentTx + ?Sized>(
    tx: &mut T,
    id: PaymentId,
    viewer: &PaymentViewer,
) -> PaymentTxResult<Payment> {
    match tx.lock_payment(id).await? {
        Some(payment) if viewer.may_see(&payment) => Ok(payment),
        _ => Err(PaymentTxError::NotFound),
    }
}

/// Writes `payment` (already moved to its new state) if its row is still in `expected`.
async fn store<T: PaymentTx + ?Sized>(
    tx: &mut T,
    payment: &Payment,
    expected: PaymentState,
) -> PaymentTxResult<()> {
    if tx.update_payment(payment, expected).await? {
        Ok(())
    } else {
        Err(PaymentTxError::StateChanged)
    }
}

/// Walks the state machine through `path`; any illegal step refuses the whole move.
fn walk(from: PaymentState, path: &[PaymentState]) -> PaymentTxResult<PaymentState> {
    let mut state = from;
    for next in path {
        state = state.transition(*next)?;
    }
    Ok(state)
}

fn money(minor: i64, like: Money) -> Money {
    Money {
        minor,
        currency: like.currency,
    }
}

/// Settles the payment: the amount moves from the user's wallet to the merchant's (the
/// platform fee to the platform account) and the payment completes, with its events. When
/// the user cannot pay, nothing moves and the payment fails instead — also committed.
pub async fn settle<T: PaymentTx + ?Sized>(tx: &mut T, s: &Settle) -> PaymentTxResult<Settled> {
    let mut payment = lock_visible(tx, s.payment_id, &s.viewer).await?;
    let expected = payment.state;
    use PaymentState::*;
    let completed = walk(expected, &[Validating, Authorized, Processing, Completed])?;
    let app = payment.app_id.clone().ok_or(PaymentTxError::NoMerchant)?;
    let amount = payment.amount;
    let fee = fee_of(amount.minor, s.fee_basis_points);

    let user = tx
        .find_account(&WalletOwner::User(payment.user_id), amount.currency)
        .await?;
    let Some(user) = user else {
        return fail_unpaid(tx, payment, expected, 0, s.at).await;
    };
    let merchant = existing_account(tx, WalletOwner::Merchant(app.clone()), amount).await?;
    let mut builder = MovementBuilder::new(EntryType::Payment)
        .debit(user.id.clone(), amount)
        .credit(merchant.clone(), money(amount.minor - fee, amount))
        .payment(payment.id);
    if fee > 0 {
        let platform = existing_account(tx, WalletOwner::Platform, amount).await?;
        builder = builder.credit(platform, money(fee, amount));
    }
    let movement = builder.build(uuid_v7_at(s.at)).map_err(WalletError::from)?;
    match wallet_tx::post_movement(tx, &movement, s.at).await {
        Ok(_) => {}
        // Refused before any leg was written: the payment fails in this same unit of work.
        Err(WalletError::InsufficientFunds(_)) => {
            let available = tx
                .lock_accounts(std::slice::from_ref(&user.id))
                .await?
                .first()
                .map_or(0, |a| a.available());
            return fail_unpaid(tx, payment, expected, available, s.at).await;
        }
        Err(other) => return Err(other.into()),
    }
    payment.state = completed;
    payment.fee = fee;
    payment.updated_at = s.at;
    payment.completed_at = Some(s.at);
    store(tx, &payment, expected).await?;
    tx.enqueue(&payment_event(PAYMENT_COMPLETED, &payment, s.at)?)
        .await?;
    wallet_updated(tx, &merchant, &payment, s.at).await?;
    Ok(Settled::Completed(payment))
}

/// The merchant and platform accounts are opened by the caller before the unit of work
/// (opening races on a unique index, which would abort a PostgreSQL transaction).
async fn existing_account<T: PaymentTx + ?Sized>(
    tx: &mut T,
    owner: WalletOwner,
    amount: Money,
) -> PaymentTxResult<WalletAccountId> {
    tx.find_account(&owner, amount.currency)
        .await?
        .map(|a| a.id)
        .ok_or_else(|| RepoError::Internal(format!("no {owner:?} account open")).into())
}

/// The user could not pay: the payment fails (and its hold, if any, is released by the
/// caller's rule), `payment.failed` is queued.
async fn fail_unpaid<T: PaymentTx + ?Sized>(
    tx: &mut T,
    mut payment: Payment,
    expected: PaymentState,
    available: i64,
    at: OffsetDateTime,
) -> PaymentTxResult<Settled> {
    payment.state = payment.state.transition(PaymentState::Failed)?;
    payment.failure_reason = Some("insufficient_funds".into());
    payment.updated_at = at;
    store(tx, &payment, expected).await?;
    tx.enqueue(&payment_event(PAYMENT_FAILED, &payment, at)?)
        .await?;
    let required = payment.amount;
    Ok(Settled::InsufficientFunds {
        available: money(available, required),
        required,
        payment,
    })
}

/// Cancels a payment before settlement (pending or waiting for MFA): a hold is released,
/// the state becomes `Cancelled` and `payment.failed` (status `cancelled`) is queued.
pub async fn cancel<T: PaymentTx + ?Sized>(
    tx: &mut T,
    id: PaymentId,
    viewer: &PaymentViewer,
    at: OffsetDateTime,
) -> PaymentTxResult<Payment> {
    let mut payment = lock_visible(tx, id, viewer).await?;
    let expected = payment.state;
    payment.state = expected.transition(PaymentState::Cancelled)?;
    if let Some(hold) = payment.hold_id {
        wallet_tx::release_hold(tx, hold, at).await?;
    }
    tx.expire_pending_challenges(payment.id).await?;
    payment.failure_reason = Some("cancelled".into());
    payment.updated_at = at;
    store(tx, &payment, expected).await?;
    tx.enqueue(&payment_event(PAYMENT_FAILED, &payment, at)?)
        .await?;
    Ok(payment)
}

/// A refund of (part of) a completed payment, by its app's backend or an administrator.
#[derive(Debug, Clone)]
pub struct RefundRequest {
    pub payment_id: PaymentId,
    pub viewer: PaymentViewer,
    /// Minor units; `None` refunds what is left.
    pub amount: Option<i64>,
    pub reason: String,
    /// A v7 id from the injected clock.
    pub refund_id: Uuid,
    /// The key, claimed in this unit of work (its reply is stored when the refund is made).
    pub key: IdempotencyRecord,
    /// Renders the answer stored for the key (the wire shape is the caller's).
    pub render: fn(&Payment, &Refund) -> String,
    pub at: OffsetDateTime,
}

/// The platform's share of a refund: the fee pro rata to the cumulative refunded amount,
/// rounded down, less what earlier refunds took back. The shares of all refunds sum to the
/// whole fee exactly when the whole amount is refunded, and never more.
pub fn fee_share(fee: i64, amount: i64, refunded_before: i64, refund: i64) -> i64 {
    let upto = |refunded: i64| {
        let share = i128::from(fee) * i128::from(refunded) / i128::from(amount.max(1));
        i64::try_from(share).unwrap_or(fee)
    };
    upto(refunded_before + refund) - upto(refunded_before)
}

/// Refunds: merchant (and platform, its fee share) → user, one movement per refund, the
/// refund row, `payment.refunded` and `wallet.updated` events and the key's reply, all in
/// this unit of work. The sum of refunds never exceeds the captured amount: checked here
/// under the payment's lock and by the `refunded_amount <= amount` constraint.
pub async fn refund<T: PaymentTx + IdempotencyTx + ?Sized>(
    tx: &mut T,
    r: &RefundRequest,
) -> PaymentTxResult<RefundOutcome> {
    if let Some(existing) = tx.claim_idempotency_key(&r.key).await? {
        return Ok(RefundOutcome::Existing(existing));
    }
    let mut payment = lock_visible(tx, r.payment_id, &r.viewer).await?;
    let expected = payment.state;
    if expected != PaymentState::Completed {
        return Err(expected.transition(PaymentState::Refunded).err().map_or(
            PaymentTxError::StateChanged,
            PaymentTxError::InvalidTransition,
        ));
    }
    let refundable = payment.amount.minor - payment.refunded;
    let amount = r.amount.unwrap_or(refundable);
    if amount <= 0 || amount > refundable {
        return Err(PaymentTxError::RefundTooLarge {
            requested: amount,
            refundable,
        });
    }
    let app = payment.app_id.clone().ok_or(PaymentTxError::NoMerchant)?;
    let like = payment.amount;
    let fee_back = fee_share(payment.fee, like.minor, payment.refunded, amount);
    let merchant = existing_account(tx, WalletOwner::Merchant(app), like).await?;
    let user = existing_account(tx, WalletOwner::User(payment.user_id), like).await?;
    let mut builder = MovementBuilder::new(EntryType::Refund)
        .credit(user, money(amount, like))
        .payment(payment.id)
        .refund(r.refund_id);
    if amount - fee_back > 0 {
        builder = builder.debit(merchant.clone(), money(amount - fee_back, like));
    }
    if fee_back > 0 {
        let platform = existing_account(tx, WalletOwner::Platform, like).await?;
        builder = builder.debit(platform, money(fee_back, like));
    }
    let movement = builder.build(uuid_v7_at(r.at)).map_err(WalletError::from)?;
    match wallet_tx::post_movement(tx, &movement, r.at).await {
        Ok(_) => {}
        Err(WalletError::InsufficientFunds(account)) => {
            let available = tx
                .lock_accounts(std::slice::from_ref(&account))
                .await?
                .first()
                .map_or(0, |a| a.available());
            let required = if account == merchant {
                amount - fee_back
            } else {
                fee_back
            };
            return Err(PaymentTxError::InsufficientFunds {
                required: money(required, like),
                available: money(available, like),
            });
        }
        Err(other) => return Err(other.into()),
    }
    payment.refunded += amount;
    if payment.refunded == payment.amount.minor {
        payment.state = expected.transition(PaymentState::Refunded)?;
    }
    payment.updated_at = r.at;
    store(tx, &payment, expected).await?;
    let refund = Refund {
        id: r.refund_id,
        payment_id: payment.id,
        payment_created_at: payment.created_at,
        user_id: payment.user_id,
        app_id: payment.app_id.clone(),
        amount: money(amount, like),
        fee: fee_back,
        reason: r.reason.clone(),
        movement_id: movement.id(),
        created_at: r.at,
    };
    tx.insert_refund(&refund).await?;
    let mut event = payment_event(PAYMENT_REFUNDED, &payment, r.at)?;
    if let Some(data) = event.payload.as_object_mut() {
        data.insert("refund_id".into(), json!(refund.id.to_string()));
        data.insert(
            "refund_amount".into(),
            json!(refund.amount.to_major_string()),
        );
        data.insert("reason".into(), json!(refund.reason));
    }
    tx.enqueue(&event).await?;
    wallet_updated(tx, &merchant, &payment, r.at).await?;
    let reply = crate::idempotency::StoredReply {
        status: 200,
        body: (r.render)(&payment, &refund),
    };
    tx.store_idempotent_reply(&r.key.scope, &r.key.key, &reply)
        .await?;
    Ok(RefundOutcome::Refunded(Box::new((payment, refund, reply))))
}

/// Expires the payment if it is still waiting and past its deadline: a hold is released,
/// the state becomes `Expired` and `payment.failed` (status `expired`) is queued. `None`
/// when there is nothing to expire (already moved on, or not due yet).
pub async fn expire<T: PaymentTx + ?Sized>(
    tx: &mut T,
    id: PaymentId,
    at: OffsetDateTime,
) -> PaymentTxResult<Option<Payment>> {
    let Some(mut payment) = tx.lock_payment(id).await? else {
        return Ok(None);
    };
    if !payment.is_due(at) {
        return Ok(None);
    }
    let expected = payment.state;
    payment.state = expected.transition(PaymentState::Expired)?;
    if let Some(hold) = payment.hold_id {
        wallet_tx::release_hold(tx, hold, at).await?;
    }
    tx.expire_pending_challenges(payment.id).await?;
    payment.failure_reason = Some("expired".into());
    payment.updated_at = at;
    store(tx, &payment, expected).await?;
    tx.enqueue(&payment_event(PAYMENT_FAILED, &payment, at)?)
        .await?;
    Ok(Some(payment))
}

/// At or above the threshold: holds the amount on the user's wallet, moves the payment to
/// `MFA_Required` and issues the first challenge. Without the funds the payment fails, as in
/// [`settle`].
pub async fn hold_for_mfa<T: PaymentTx + ?Sized>(
    tx: &mut T,
    h: &HoldForMfa,
) -> PaymentTxResult<HoldOutcome> {
    let mut payment = lock_visible(tx, h.payment_id, &h.viewer).await?;
    let expected = payment.state;
    use PaymentState::*;
    let waiting = walk(expected, &[Validating, MfaRequired])?;
    let amount = payment.amount;
    let user = tx
        .find_account(&WalletOwner::User(payment.user_id), amount.currency)
        .await?;
    let Some(user) = user else {
        return unpaid_hold(tx, payment, expected, 0, h.at).await;
    };
    let new = NewHold {
        id: uuid_v7_at(h.at),
        account: user.id.clone(),
        amount,
        payment_id: Some(payment.id),
        at: h.at,
    };
    let hold = match wallet_tx::place_hold(tx, &new).await {
        Ok(hold) => hold,
        Err(WalletError::InsufficientFunds(_)) => {
            return unpaid_hold(tx, payment, expected, user.available(), h.at).await
        }
        Err(other) => return Err(other.into()),
    };
    payment.state = waiting;
    payment.mfa_required = true;
    payment.hold_id = Some(hold.id);
    payment.updated_at = h.at;
    store(tx, &payment, expected).await?;
    let challenge = challenge_for(&payment, &h.methods, h.challenge_ttl, h.at)?;
    tx.insert_challenge(&challenge).await?;
    Ok(HoldOutcome::Challenged(payment, challenge))
}

/// [`fail_unpaid`] as a hold's outcome.
async fn unpaid_hold<T: PaymentTx + ?Sized>(
    tx: &mut T,
    payment: Payment,
    expected: PaymentState,
    available: i64,
    at: OffsetDateTime,
) -> PaymentTxResult<HoldOutcome> {
    match fail_unpaid(tx, payment, expected, available, at).await? {
        Settled::InsufficientFunds {
            payment,
            required,
            available,
        } => Ok(HoldOutcome::InsufficientFunds {
            payment,
            required,
            available,
        }),
        Settled::Completed(_) => Err(RepoError::Internal("unpaid payment completed".into()).into()),
    }
}

fn challenge_for(
    payment: &Payment,
    methods: &[ChallengeMethod],
    ttl: Duration,
    at: OffsetDateTime,
) -> PaymentTxResult<MfaChallenge> {
    let first = *methods
        .first()
        .ok_or_else(|| RepoError::Internal("a challenge needs a method".into()))?;
    Ok(MfaChallenge {
        id: uuid_v7_at(at),
        payment_id: payment.id,
        payment_created_at: payment.created_at,
        user_id: payment.user_id,
        methods: methods.to_vec(),
        method: first,
        status: ChallengeStatus::Pending,
        attempts: 0,
        max_attempts: MAX_MFA_ATTEMPTS - payment.mfa_attempts,
        expires_at: at + ttl,
        created_at: at,
        verified_at: None,
    })
}

/// A fresh challenge while the payment waits for MFA and attempts remain; earlier pending
/// challenges expire. The attempts are the payment's: a new challenge does not reset them.
pub async fn new_challenge<T: PaymentTx + ?Sized>(
    tx: &mut T,
    c: &NewChallenge,
) -> PaymentTxResult<MfaChallenge> {
    let payment = lock_visible(tx, c.payment_id, &c.viewer).await?;
    if payment.state != PaymentState::MfaRequired || payment.mfa_attempts >= MAX_MFA_ATTEMPTS {
        return Err(payment
            .state
            .transition(PaymentState::MfaRequired)
            .err()
            .map_or(
                PaymentTxError::StateChanged,
                PaymentTxError::InvalidTransition,
            ));
    }
    tx.expire_pending_challenges(payment.id).await?;
    let challenge = challenge_for(&payment, &c.methods, c.challenge_ttl, c.at)?;
    tx.insert_challenge(&challenge).await?;
    Ok(challenge)
}

/// Records a verification attempt. Verified: the hold is captured (merchant and fee) and the
/// payment completes. Wrong: one attempt fewer; the last one fails the payment and releases
/// the hold. An expired or no longer pending challenge changes nothing but itself.
pub async fn record_mfa<T: PaymentTx + ?Sized>(
    tx: &mut T,
    a: &MfaAttempt,
) -> PaymentTxResult<MfaOutcome> {
    let mut payment = lock_visible(tx, a.payment_id, &a.viewer).await?;
    let expected = payment.state;
    if expected != PaymentState::MfaRequired {
        return Err(expected.transition(PaymentState::Authorized).err().map_or(
            PaymentTxError::StateChanged,
            PaymentTxError::InvalidTransition,
        ));
    }
    let mut challenge = match tx.lock_challenge(a.challenge_id).await? {
        Some(c) if c.payment_id == payment.id => c,
        _ => return Err(PaymentTxError::ChallengeNotFound),
    };
    if challenge.status != ChallengeStatus::Pending || challenge.expires_at <= a.at {
        if challenge.status == ChallengeStatus::Pending {
            challenge.status = ChallengeStatus::Expired;
            tx.update_challenge(&challenge).await?;
        }
        return Ok(MfaOutcome::Expired);
    }
    let hold = payment
        .hold_id
        .ok_or_else(|| RepoError::Internal("MFA payment without a hold".into()))?;
    let Some(method) = a.verified else {
        payment.mfa_attempts += 1;
        challenge.attempts += 1;
        payment.updated_at = a.at;
        let remaining = MAX_MFA_ATTEMPTS - payment.mfa_attempts;
        if remaining > 0 {
            tx.update_challenge(&challenge).await?;
            store(tx, &payment, expected).await?;
            return Ok(MfaOutcome::Wrong {
                attempts_remaining: remaining,
            });
        }
        challenge.status = ChallengeStatus::Failed;
        tx.update_challenge(&challenge).await?;
        wallet_tx::release_hold(tx, hold, a.at).await?;
        payment.state = expected.transition(PaymentState::Failed)?;
        payment.failure_reason = Some("mfa_locked".into());
        store(tx, &payment, expected).await?;
        tx.enqueue(&payment_event(PAYMENT_FAILED, &payment, a.at)?)
            .await?;
        return Ok(MfaOutcome::Locked(payment));
    };
    use PaymentState::*;
    let completed = walk(expected, &[Authorized, Processing, Completed])?;
    let app = payment.app_id.clone().ok_or(PaymentTxError::NoMerchant)?;
    let amount = payment.amount;
    let fee = fee_of(amount.minor, a.fee_basis_points);
    let merchant = existing_account(tx, WalletOwner::Merchant(app), amount).await?;
    let mut credits = vec![(merchant.clone(), amount.minor - fee)];
    if fee > 0 {
        credits.push((
            existing_account(tx, WalletOwner::Platform, amount).await?,
            fee,
        ));
    }
    wallet_tx::capture_hold(
        tx,
        &HoldCapture {
            hold_id: hold,
            movement_id: uuid_v7_at(a.at),
            entry_type: EntryType::Payment,
            credits,
            at: a.at,
        },
    )
    .await?;
    challenge.status = ChallengeStatus::Verified;
    challenge.method = method;
    challenge.verified_at = Some(a.at);
    tx.update_challenge(&challenge).await?;
    payment.state = completed;
    payment.fee = fee;
    payment.mfa_verified = true;
    payment.mfa_method = Some(method.as_db().to_owned());
    payment.updated_at = a.at;
    payment.completed_at = Some(a.at);
    store(tx, &payment, expected).await?;
    tx.enqueue(&payment_event(PAYMENT_COMPLETED, &payment, a.at)?)
        .await?;
    wallet_updated(tx, &merchant, &payment, a.at).await?;
    Ok(MfaOutcome::Completed(payment))
}

fn rfc3339(at: OffsetDateTime) -> RepoResult<String> {
    at.format(&Rfc3339)
        .map_err(|e| RepoError::Internal(format!("payment instant: {e}")))
}

/// A payment event to the merchant app, with the fields the protocol names.
pub fn payment_event(
    event: &str,
    payment: &Payment,
    at: OffsetDateTime,
) -> RepoResult<OutboxEvent> {
    let app = payment
        .app_id
        .as_ref()
        .ok_or_else(|| RepoError::Internal("payment event without an app".into()))?;
    let data = json!({
        "event": event,
        "payment_id": payment.id.to_string(),
        "merchant_order_id": payment.merchant_order_id,
        "user_id": payment.user_id.to_string(),
        "amount": payment.amount.to_major_string(),
        "currency": payment.amount.currency.code(),
        "status": payment.status().as_db(),
        "refunded_amount": money(payment.refunded, payment.amount).to_major_string(),
        "fee": money(payment.fee, payment.amount).to_major_string(),
        "failure_reason": payment.failure_reason,
        "created_at": rfc3339(payment.created_at)?,
        "completed_at": payment.completed_at.map(rfc3339).transpose()?,
        "timestamp": rfc3339(at)?,
    });
    Ok(OutboxEvent {
        id: uuid_v7_at(at),
        app_id: app.as_str().to_owned(),
        event: event.to_owned(),
        payload: data,
        created_at: at,
    })
}

/// `wallet.updated` to the merchant app: its wallet's balance after the change.
async fn wallet_updated<T: PaymentTx + ?Sized>(
    tx: &mut T,
    merchant: &WalletAccountId,
    payment: &Payment,
    at: OffsetDateTime,
) -> PaymentTxResult<()> {
    let account = tx
        .lock_accounts(std::slice::from_ref(merchant))
        .await?
        .into_iter()
        .next()
        .ok_or(WalletError::AccountNotFound)?;
    let Some(app) = payment.app_id.as_ref() else {
        return Ok(());
    };
    let event = OutboxEvent {
        id: uuid_v7_at(at),
        app_id: app.as_str().to_owned(),
        event: WALLET_UPDATED.to_owned(),
        payload: json!({
            "event": WALLET_UPDATED,
            "wallet_id": account.id.as_str(),
            "app_id": app.as_str(),
            "currency": account.currency.code(),
            "available": money(account.available(), payment.amount).to_major_string(),
            "pending": money(account.held, payment.amount).to_major_string(),
            "payment_id": payment.id.to_string(),
            "timestamp": rfc3339(at)?,
        }),
        created_at: at,
    };
    tx.enqueue(&event).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::fee_of;

    #[test]
    fn fee_shares_of_refunds_add_up_to_the_fee() {
        use super::fee_share;
        let (fee, amount) = (33, 1000);
        let parts = [1, 333, 333, 333];
        let mut before = 0;
        let mut total = 0;
        for part in parts {
            total += fee_share(fee, amount, before, part);
            before += part;
        }
        assert_eq!(total, fee);
        assert_eq!(fee_share(0, 1000, 0, 1000), 0);
        assert_eq!(fee_share(100, 1000, 0, 500), 50);
    }

    #[test]
    fn fee_rounds_down_and_stays_within_the_amount() {
        assert_eq!(fee_of(1000, 0), 0);
        assert_eq!(fee_of(1000, 250), 25);
        assert_eq!(fee_of(999, 250), 24);
        assert_eq!(fee_of(1, 10_000), 1);
        assert_eq!(fee_of(i64::MAX, 10_000), i64::MAX);
        assert_eq!(fee_of(100, 20_000), 100);
    }
}
