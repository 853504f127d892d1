//! Wallets under concurrency: whatever the interleaving, no wallet overdraws, no hold sets
//! aside money that is not there, a hold resolves once, and balances stay exact.

use super::{account, assert_ledger_clean, money, open, top_up, user_wallet};
use crate::fixtures::{self, FixtureClock};
use crate::Fixture;
use futures::future::join_all;
use std::sync::Arc;
use tmcp_domain::ids::uuid_v7_at;
use tmcp_domain::wallet::{EntryType, MovementBuilder};
use tmcp_repository::{HoldCapture, NewHold, WalletError, WalletOwner};

pub async fn parallel_debits_never_overdraw(fixture: &Fixture) {
    // Funded for exactly 10 debits of 100; 50 race.
    let payer = user_wallet(fixture, "payer").await;
    let payee = user_wallet(fixture, "payee").await;
    top_up(fixture, &payer.id, 1000).await;
    let at = fixture.clock.now_for_fixtures();
    let tasks = (0..50).map(|_| {
        let db = Arc::clone(&fixture.db);
        let (from, to) = (payer.id.clone(), payee.id.clone());
        tokio::spawn(async move {
            let movement = MovementBuilder::new(EntryType::Transfer)
                .debit(from, money(100))
                .credit(to, money(100))
                .build(uuid_v7_at(at))?;
            db.post_movement(&movement, at).await
        })
    });
    let (mut posted, mut refused) = (0, 0);
    for result in join_all(tasks).await {
        match result.expect("task did not panic") {
            Ok(_) => posted += 1,
            Err(WalletError::InsufficientFunds(_)) => refused += 1,
            Err(other) => panic!("unexpected failure under concurrency: {other:?}"),
        }
    }
    assert_eq!((posted, refused), (10, 40));
    assert_eq!(account(fixture, &payer.id).await.balance, 0);
    assert_eq!(account(fixture, &payee.id).await.balance, 1000);
    assert_ledger_clean(fixture).await;
}

pub async fn parallel_holds_never_exceed_the_balance(fixture: &Fixture) {
    // Six holds of 1000 on 5000: exactly five fit.
    let wallet = user_wallet(fixture, "holder").await;
    top_up(fixture, &wallet.id, 5000).await;
    let at = fixture.clock.now_for_fixtures();
    let tasks = (0..6).map(|_| {
        let db = Arc::clone(&fixture.db);
        let account = wallet.id.clone();
        tokio::spawn(async move {
            db.place_hold(NewHold {
                id: uuid_v7_at(at),
                account,
                amount: money(1000),
                payment_id: None,
                at,
            })
            .await
        })
    });
    let (mut placed, mut refused) = (0, 0);
    for result in join_all(tasks).await {
        match result.expect("task did not panic") {
            Ok(_) => placed += 1,
            Err(WalletError::InsufficientFunds(_)) => refused += 1,
            Err(other) => panic!("unexpected failure under concurrency: {other:?}"),
        }
    }
    assert_eq!((placed, refused), (5, 1));
    let balance = fixture
        .db
        .wallet_balance(&wallet.id)
        .await
        .expect("balance readable")
        .expect("wallet exists");
    assert_eq!((balance.available.minor, balance.pending.minor), (0, 5000));
    assert_ledger_clean(fixture).await;
}

pub async fn racing_captures_and_releases_resolve_a_hold_once(fixture: &Fixture) {
    let developer = fixtures::user(fixture, "developer").await;
    let app = fixtures::app(fixture, "ma_wallet_app", &developer).await;
    let merchant = open(fixture, WalletOwner::Merchant(app)).await;
    let platform = open(fixture, WalletOwner::Platform).await;
    let wallet = user_wallet(fixture, "buyer").await;
    top_up(fixture, &wallet.id, 10_000).await;
    for round in 0..4 {
        let at = fixture.clock.now_for_fixtures();
        let hold = fixture
            .db
            .place_hold(NewHold {
                id: uuid_v7_at(at),
                account: wallet.id.clone(),
                amount: money(1000),
                payment_id: None,
                at,
            })
            .await
            .expect("hold placed");
        // Eight captures and eight releases race for the one hold.
        let tasks = (0..16).map(|i| {
            let db = Arc::clone(&fixture.db);
            let credits = vec![(merchant.id.clone(), 970), (platform.id.clone(), 30)];
            tokio::spawn(async move {
                if i % 2 == 0 {
                    db.capture_hold(HoldCapture {
                        hold_id: hold.id,
                        movement_id: uuid_v7_at(at),
                        entry_type: EntryType::Payment,
                        credits,
                        at,
                    })
                    .await
                    .map(|(hold, _)| hold.state)
                } else {
                    db.release_hold(hold.id, at).await.map(|hold| hold.state)
                }
            })
        });
        let mut resolved = Vec::new();
        let mut refused = 0;
        for result in join_all(tasks).await {
            match result.expect("task did not panic") {
                Ok(state) => resolved.push(state),
                Err(WalletError::HoldResolved(_)) => refused += 1,
                Err(other) => panic!("round {round}: unexpected failure: {other:?}"),
            }
        }
        assert_eq!((resolved.len(), refused), (1, 15), "round {round}");
        let stored = fixture
            .db
            .wallet_hold(hold.id)
            .await
            .expect("hold readable")
            .expect("hold exists");
        assert_eq!(Some(stored.state), resolved.first().copied());
        // A resolved hold stays resolved.
        assert!(matches!(
            fixture.db.release_hold(hold.id, at).await,
            Err(WalletError::HoldResolved(_))
        ));
    }
    let buyer = account(fixture, &wallet.id).await;
    let merchant = account(fixture, &merchant.id).await;
    let platform = account(fixture, &platform.id).await;
    assert_eq!(buyer.held, 0);
    assert_eq!(buyer.balance + merchant.balance + platform.balance, 10_000);
    assert_eq!(merchant.balance * 30, platform.balance * 970);
    let report = assert_ledger_clean(fixture).await;
    assert_eq!(report.holds, 4);
    let captured = usize::try_from(platform.balance / 30).unwrap_or(0);
    assert_eq!(report.movements, 1 + captured);
}

pub async fn hot_merchant_account_stays_exact(fixture: &Fixture) {
    // 50 buyers pay one merchant at once, each with a platform fee.
    let developer = fixtures::user(fixture, "hot-dev").await;
    let app = fixtures::app(fixture, "ma_hot_app", &developer).await;
    let merchant = open(fixture, WalletOwner::Merchant(app)).await;
    let platform = open(fixture, WalletOwner::Platform).await;
    let mut buyers = Vec::new();
    for i in 0..50 {
        let wallet = user_wallet(fixture, &format!("buyer{i}")).await;
        top_up(fixture, &wallet.id, 500).await;
        buyers.push(wallet.id);
    }
    let at = fixture.clock.now_for_fixtures();
    let tasks = buyers.iter().enumerate().map(|(i, buyer)| {
        let db = Arc::clone(&fixture.db);
        let (buyer, merchant, platform) = (buyer.clone(), merchant.id.clone(), platform.id.clone());
        let price = 100 + i64::try_from(i).unwrap_or(0);
        tokio::spawn(async move {
            let movement = MovementBuilder::new(EntryType::Payment)
                .debit(buyer, money(price))
                .credit(merchant, money(price - 5))
                .credit(platform, money(5))
                .build(uuid_v7_at(at))?;
            db.post_movement(&movement, at).await
        })
    });
    for result in join_all(tasks).await {
        result.expect("task did not panic").expect("payment posts");
    }
    let expected: i64 = (0..50).map(|i| 100 + i - 5).sum();
    let merchant = account(fixture, &merchant.id).await;
    assert_eq!(merchant.balance, expected);
    assert_eq!(account(fixture, &platform.id).await.balance, 250);
    let page = fixture
        .db
        .wallet_entries(&merchant.id, None, 100)
        .await
        .expect("entries");
    assert_eq!(page.entries.len(), 50);
    assert_eq!(page.entries[0].balance_after, expected);
    assert_ledger_clean(fixture).await;
}

pub async fn opposite_transfers_never_deadlock(fixture: &Fixture) {
    // Transfers A→B, B→A and A→B→C triangles at once: with accounts locked in one global
    // order none waits on another in a cycle, so every transfer posts (PostgreSQL would
    // abort one of a deadlocked pair).
    let wallets = [
        user_wallet(fixture, "left").await.id,
        user_wallet(fixture, "right").await.id,
        user_wallet(fixture, "third").await.id,
    ];
    for wallet in &wallets {
        top_up(fixture, wallet, 10_000).await;
    }
    let at = fixture.clock.now_for_fixtures();
    let tasks = (0..60).map(|i| {
        let db = Arc::clone(&fixture.db);
        // Every ordered pair of the other two, so each direction is taken.
        let (second, third) = if i / 3 % 2 == 0 { (1, 2) } else { (2, 1) };
        let from = wallets[i % 3].clone();
        let to = wallets[(i + second) % 3].clone();
        let via = wallets[(i + third) % 3].clone();
        tokio::spawn(async move {
            let movement = MovementBuilder::new(EntryType::Transfer)
                .debit(from, money(10))
                .credit(to, money(7))
                .credit(via, money(3))
                .build(uuid_v7_at(at))?;
            db.post_movement(&movement, at).await
        })
    });
    for result in join_all(tasks).await {
        result.expect("task did not panic").expect("transfer posts");
    }
    let mut total = 0;
    for wallet in &wallets {
        total += account(fixture, wallet).await.balance;
    }
    assert_eq!(total, 30_000);
    let report = assert_ledger_clean(fixture).await;
    assert_eq!(report.movements, 3 + 60);
}
