//! Settlements racing on one wallet.

use super::{key_for, merchant, new_payment, request};
use crate::fixtures;
use crate::fixtures::FixtureClock;
use crate::wallets::{account, assert_ledger_clean, open, top_up};
use crate::Fixture;
use futures::future::join_all;
use std::sync::Arc;
use tmcp_repository::payment_tx::Settle;
use tmcp_repository::{PaymentViewer, Settled, WalletOwner};

pub async fn parallel_settlements_never_overdraw(fixture: &Fixture) {
    // 50 payments of 100 race on a wallet funded for exactly 10.
    let alice = fixtures::user(fixture, "alice").await;
    let wallet = open(fixture, WalletOwner::User(alice.id)).await;
    top_up(fixture, &wallet.id, 1_000).await;
    let shop = merchant(fixture, "ma_shop").await;
    let mut payments = Vec::new();
    for _ in 0..50 {
        payments.push(request(fixture, alice.id, &shop, 100).await);
    }
    let at = fixture.clock.now_for_fixtures();
    let tasks = payments.iter().map(|p| {
        let db = Arc::clone(&fixture.db);
        let settle = Settle {
            payment_id: p.id,
            viewer: PaymentViewer::User(alice.id),
            fee_basis_points: 300,
            at,
        };
        tokio::spawn(async move { db.settle_payment(settle).await })
    });
    let (mut completed, mut unpaid) = (0, 0);
    for result in join_all(tasks).await {
        match result.expect("task did not panic") {
            Ok(Settled::Completed(_)) => completed += 1,
            Ok(Settled::InsufficientFunds { .. }) => unpaid += 1,
            Err(other) => panic!("unexpected failure under concurrency: {other:?}"),
        }
    }
    assert_eq!((completed, unpaid), (10, 40));
    assert_eq!(account(fixture, &wallet.id).await.balance, 0);
    assert_ledger_clean(fixture).await;
}

pub async fn racing_requests_with_one_key_create_one_payment(fixture: &Fixture) {
    // 64 requests race with one key, each with its own payment id: one row is created and
    // every other request finds the winner's record.
    let alice = fixtures::user(fixture, "alice").await;
    let shop = merchant(fixture, "ma_shop").await;
    let tasks = (0..64).map(|_| {
        let db = Arc::clone(&fixture.db);
        let payment = new_payment(fixture, alice.id, &shop, 250);
        let key = key_for(&payment, "one-key");
        tokio::spawn(async move {
            let existing = db.create_payment(&payment, &key).await;
            (payment.id, existing)
        })
    });
    let mut winners = Vec::new();
    let mut seen = Vec::new();
    for result in join_all(tasks).await {
        match result.expect("task did not panic") {
            (id, Ok(None)) => winners.push(id),
            (_, Ok(Some(record))) => seen.push(record.resource_id),
            (_, Err(other)) => panic!("unexpected failure under concurrency: {other:?}"),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one payment");
    assert_eq!(seen.len(), 63);
    assert!(seen.iter().all(|id| *id == winners[0].to_string()));
    let rows = fixture
        .db
        .list_payments(&tmcp_repository::PaymentQuery {
            viewer: PaymentViewer::User(alice.id),
            status: None,
            before: None,
            limit: 100,
        })
        .await
        .expect("listed");
    assert_eq!(rows.len(), 1);
}
