//! Random interleavings: several workers run seeded random sequences of top-ups, transfers,
//! payments, withdrawals, holds, captures and releases over many wallets at once. Refusals
//! (insufficient funds, a hold already resolved) are expected; afterwards the ledger check
//! must find nothing and all balances, clearing included, must sum to zero.

use super::{assert_ledger_clean, clearing, money, open, top_up, user_wallet};
use crate::fixtures::{self, FixtureClock};
use crate::Fixture;
use futures::future::join_all;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::sync::{Arc, Mutex};
use time::OffsetDateTime;
use tmcp_domain::ids::uuid_v7_at;
use tmcp_domain::wallet::{EntryType, HoldState, MovementBuilder, WalletAccountId};
use tmcp_repository::{Database, HoldCapture, NewHold, WalletError, WalletOwner};
use uuid::Uuid;

const WORKERS: u64 = 4;
const OPS_PER_WORKER: usize = 40;
const WALLETS: usize = 12;
const SEED: u64 = 0x1ed9e5;

struct Accounts {
    users: Vec<WalletAccountId>,
    merchant: WalletAccountId,
    platform: WalletAccountId,
    clearing: WalletAccountId,
    holds: Mutex<Vec<Uuid>>,
}

pub async fn random_interleavings_keep_the_ledger_clean(fixture: &Fixture) {
    let developer = fixtures::user(fixture, "prop-dev").await;
    let app = fixtures::app(fixture, "ma_prop_app", &developer).await;
    let mut users = Vec::new();
    for i in 0..WALLETS {
        let wallet = user_wallet(fixture, &format!("prop{i}")).await;
        top_up(fixture, &wallet.id, 1000).await;
        users.push(wallet.id);
    }
    let accounts = Arc::new(Accounts {
        users,
        merchant: open(fixture, WalletOwner::Merchant(app)).await.id,
        platform: open(fixture, WalletOwner::Platform).await.id,
        clearing: clearing(fixture).await.id,
        holds: Mutex::new(Vec::new()),
    });
    let at = fixture.clock.now_for_fixtures();
    let workers = (0..WORKERS).map(|worker| {
        let db = Arc::clone(&fixture.db);
        let accounts = Arc::clone(&accounts);
        tokio::spawn(async move {
            let mut rng = StdRng::seed_from_u64(SEED + worker);
            let mut done = 0usize;
            for _ in 0..OPS_PER_WORKER {
                match random_op(db.as_ref(), &accounts, &mut rng, at).await {
                    Ok(()) => done += 1,
                    Err(WalletError::InsufficientFunds(_) | WalletError::HoldResolved(_)) => {}
                    Err(other) => panic!("worker {worker}: unexpected failure: {other:?}"),
                }
            }
            done
        })
    });
    let done: usize = join_all(workers)
        .await
        .into_iter()
        .map(|r| r.expect("worker did not panic"))
        .sum();
    assert!(done > 0, "some operations succeeded");
    let report = assert_ledger_clean(fixture).await;
    let snapshot = fixture.db.ledger_snapshot().await.expect("snapshot");
    assert_eq!(snapshot.accounts.iter().map(|a| a.balance).sum::<i64>(), 0);
    assert!(report.movements > WALLETS, "{report:?}");
    // The run took every path: captured and released holds (whether any hold is still open
    // at the end depends on the interleaving), and refused operations.
    for state in [HoldState::Captured, HoldState::Released] {
        assert!(
            snapshot.holds.iter().any(|h| h.state == state),
            "no {state:?} hold in {:?}",
            snapshot.holds
        );
    }
    assert!(done < usize::try_from(WORKERS).unwrap_or(0) * OPS_PER_WORKER);
}

fn pick<'a>(rng: &mut StdRng, ids: &'a [WalletAccountId]) -> &'a WalletAccountId {
    &ids[rng.gen_range(0..ids.len())]
}

fn pick_hold(rng: &mut StdRng, accounts: &Accounts) -> Option<Uuid> {
    let holds = accounts
        .holds
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    (!holds.is_empty()).then(|| holds[rng.gen_range(0..holds.len())])
}

async fn random_op(
    db: &dyn Database,
    accounts: &Accounts,
    rng: &mut StdRng,
    at: OffsetDateTime,
) -> Result<(), WalletError> {
    let id = uuid_v7_at(at);
    let amount = rng.gen_range(1..=700);
    let user = pick(rng, &accounts.users).clone();
    let movement = match rng.gen_range(0..7) {
        0 => MovementBuilder::new(EntryType::TopUp)
            .debit(accounts.clearing.clone(), money(amount))
            .credit(user, money(amount)),
        1 => MovementBuilder::new(EntryType::Withdrawal)
            .debit(user, money(amount))
            .credit(accounts.clearing.clone(), money(amount)),
        2 => {
            let other = pick(rng, &accounts.users).clone();
            if other == user {
                return Ok(());
            }
            MovementBuilder::new(EntryType::Transfer)
                .debit(user, money(amount))
                .credit(other, money(amount))
        }
        3 => MovementBuilder::new(EntryType::Payment)
            .debit(user, money(amount + 1))
            .credit(accounts.merchant.clone(), money(amount))
            .credit(accounts.platform.clone(), money(1)),
        4 => {
            let hold = NewHold {
                id,
                account: user,
                amount: money(amount),
                payment_id: None,
                at,
            };
            let placed = db.place_hold(hold).await?;
            accounts
                .holds
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .push(placed.id);
            return Ok(());
        }
        5 => {
            let Some(hold) = pick_hold(rng, accounts) else {
                return Ok(());
            };
            let stored = db
                .wallet_hold(hold)
                .await?
                .ok_or(WalletError::HoldNotFound)?;
            let fee = stored.amount / 10;
            let mut credits = vec![(accounts.merchant.clone(), stored.amount - fee)];
            if fee > 0 {
                credits.push((accounts.platform.clone(), fee));
            }
            let capture = HoldCapture {
                hold_id: hold,
                movement_id: id,
                entry_type: EntryType::Payment,
                credits,
                at,
            };
            return db.capture_hold(capture).await.map(|_| ());
        }
        _ => {
            let Some(hold) = pick_hold(rng, accounts) else {
                return Ok(());
            };
            return db.release_hold(hold, at).await.map(|_| ());
        }
    };
    db.post_movement(&movement.build(id)?, at).await.map(|_| ())
}
