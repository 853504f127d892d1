//! One payment at a time: reads scoped to the owner, settlement, failure, expiry.

use super::{merchant, request};
use crate::fixtures::{self, FixtureClock};
use crate::wallets::{account, assert_ledger_clean, open, top_up};
use crate::Fixture;
use time::Duration;
use tmcp_domain::payment_state::{PaymentState, PaymentStatus};
use tmcp_repository::payment_tx::Settle;
use tmcp_repository::{
    PaymentCursor, PaymentQuery, PaymentTxError, PaymentViewer, Settled, WalletOwner,
};

fn settle(payment: &tmcp_repository::Payment, bps: u32, at: time::OffsetDateTime) -> Settle {
    Settle {
        payment_id: payment.id,
        viewer: PaymentViewer::User(payment.user_id),
        fee_basis_points: bps,
        at,
    }
}

pub async fn payments_are_read_only_by_their_owners(fixture: &Fixture) {
    let alice = fixtures::user(fixture, "alice").await;
    let bob = fixtures::user(fixture, "bob").await;
    let shop = merchant(fixture, "ma_shop").await;
    let cafe = merchant(fixture, "ma_cafe").await;
    let a1 = request(fixture, alice.id, &shop, 100).await;
    let a2 = request(fixture, alice.id, &cafe, 200).await;
    let a3 = request(fixture, alice.id, &shop, 300).await;
    let b1 = request(fixture, bob.id, &shop, 400).await;

    let db = &fixture.db;
    let read = |viewer: PaymentViewer, id| async move {
        db.payment(id, &viewer).await.expect("repository answers")
    };
    assert_eq!(
        read(PaymentViewer::User(alice.id), a1.id).await,
        Some(a1.clone())
    );
    assert_eq!(read(PaymentViewer::User(bob.id), a1.id).await, None);
    assert_eq!(
        read(PaymentViewer::UserInApp(alice.id, cafe.clone()), a1.id).await,
        None
    );
    assert!(read(PaymentViewer::App(shop.clone()), b1.id)
        .await
        .is_some());
    assert_eq!(read(PaymentViewer::App(cafe.clone()), b1.id).await, None);
    assert!(read(PaymentViewer::Admin, a2.id).await.is_some());

    let list = |viewer, before, limit| PaymentQuery {
        viewer,
        status: None,
        before,
        limit,
    };
    let ids = |rows: Vec<tmcp_repository::Payment>| rows.iter().map(|p| p.id).collect::<Vec<_>>();
    let all = db
        .list_payments(&list(PaymentViewer::User(alice.id), None, 10))
        .await
        .expect("repository answers");
    assert_eq!(
        ids(all),
        vec![a3.id, a2.id, a1.id],
        "newest first, own only"
    );
    let in_shop = db
        .list_payments(&list(
            PaymentViewer::UserInApp(alice.id, shop.clone()),
            None,
            10,
        ))
        .await
        .expect("repository answers");
    assert_eq!(ids(in_shop), vec![a3.id, a1.id]);
    let shop_rows = db
        .list_payments(&list(PaymentViewer::App(shop.clone()), None, 10))
        .await
        .expect("repository answers");
    assert_eq!(ids(shop_rows), vec![b1.id, a3.id, a1.id]);
    let cursor = PaymentCursor {
        created_at: a3.created_at,
        id: a3.id,
    };
    let older = db
        .list_payments(&list(PaymentViewer::User(alice.id), Some(cursor), 1))
        .await
        .expect("repository answers");
    assert_eq!(ids(older), vec![a2.id]);
    let completed = db
        .list_payments(&PaymentQuery {
            viewer: PaymentViewer::User(alice.id),
            status: Some(PaymentStatus::Completed),
            before: None,
            limit: 10,
        })
        .await
        .expect("repository answers");
    assert!(completed.is_empty());
}

pub async fn settlement_moves_money_fee_and_events_once(fixture: &Fixture) {
    let alice = fixtures::user(fixture, "alice").await;
    let wallet = open(fixture, WalletOwner::User(alice.id)).await;
    top_up(fixture, &wallet.id, 10_000).await;
    let shop = merchant(fixture, "ma_shop").await;
    let payment = request(fixture, alice.id, &shop, 4_000).await;
    let outbox_before = fixture
        .db
        .pending_outbox_events(100)
        .await
        .expect("repository answers")
        .len();

    // Someone else's payment cannot be settled by this user.
    let mallory = fixtures::user(fixture, "mallory").await;
    let mut foreign = settle(&payment, 250, fixture.clock.now_for_fixtures());
    foreign.viewer = PaymentViewer::User(mallory.id);
    let refused = fixture.db.settle_payment(foreign).await;
    assert!(
        matches!(refused, Err(PaymentTxError::NotFound)),
        "{refused:?}"
    );

    let at = fixture.clock.now_for_fixtures();
    let done = fixture
        .db
        .settle_payment(settle(&payment, 250, at))
        .await
        .expect("repository answers");
    let Settled::Completed(done) = done else {
        panic!("settled: {done:?}");
    };
    assert_eq!(done.state, PaymentState::Completed);
    assert_eq!(done.status(), PaymentStatus::Completed);
    assert_eq!(done.fee, 100);
    assert_eq!(account(fixture, &wallet.id).await.balance, 6_000);
    let merchant_account = fixture
        .db
        .find_wallet_account(&WalletOwner::Merchant(shop.clone()), wallet.currency)
        .await
        .expect("repository answers")
        .expect("repository answers");
    assert_eq!(merchant_account.balance, 3_900);
    let platform = fixture
        .db
        .find_wallet_account(&WalletOwner::Platform, wallet.currency)
        .await
        .expect("repository answers")
        .expect("repository answers");
    assert_eq!(platform.balance, 100);
    let stored = fixture
        .db
        .payment(payment.id, &PaymentViewer::Admin)
        .await
        .expect("repository answers")
        .expect("repository answers");
    assert_eq!(stored.state, PaymentState::Completed);
    assert_eq!(stored.completed_at, done.completed_at);

    // payment.completed and wallet.updated, in the same transaction.
    let events = fixture
        .db
        .pending_outbox_events(100)
        .await
        .expect("repository answers");
    let names: Vec<&str> = events[outbox_before..]
        .iter()
        .map(|e| e.event.as_str())
        .collect();
    assert_eq!(names, vec!["payment.completed", "wallet.updated"]);
    let data = &events[outbox_before].payload;
    assert_eq!(data["payment_id"], payment.id.to_string());
    assert_eq!(data["amount"], "40.00");
    assert_eq!(data["status"], "completed");
    assert_eq!(data["merchant_order_id"], "order-4000");

    // Settling again is an illegal transition and moves nothing.
    let again = fixture.db.settle_payment(settle(&payment, 250, at)).await;
    assert!(
        matches!(again, Err(PaymentTxError::InvalidTransition(_))),
        "{again:?}"
    );
    assert_eq!(account(fixture, &wallet.id).await.balance, 6_000);
    assert_ledger_clean(fixture).await;
}

pub async fn unpaid_payments_fail_cleanly(fixture: &Fixture) {
    let alice = fixtures::user(fixture, "alice").await;
    let shop = merchant(fixture, "ma_shop").await;
    // No wallet at all.
    let first = request(fixture, alice.id, &shop, 500).await;
    let at = fixture.clock.now_for_fixtures();
    let outcome = fixture
        .db
        .settle_payment(settle(&first, 0, at))
        .await
        .expect("repository answers");
    let Settled::InsufficientFunds {
        payment,
        required,
        available,
    } = outcome
    else {
        panic!("{outcome:?}");
    };
    assert_eq!((required.minor, available.minor), (500, 0));
    assert_eq!(payment.state, PaymentState::Failed);

    // A wallet with too little.
    let wallet = open(fixture, WalletOwner::User(alice.id)).await;
    top_up(fixture, &wallet.id, 300).await;
    let second = request(fixture, alice.id, &shop, 500).await;
    let outcome = fixture
        .db
        .settle_payment(settle(&second, 0, at))
        .await
        .expect("repository answers");
    let Settled::InsufficientFunds { available, .. } = outcome else {
        panic!("{outcome:?}");
    };
    assert_eq!(available.minor, 300);
    let stored = fixture
        .db
        .payment(second.id, &PaymentViewer::Admin)
        .await
        .expect("repository answers")
        .expect("repository answers");
    assert_eq!(stored.status(), PaymentStatus::Failed);
    assert_eq!(stored.failure_reason.as_deref(), Some("insufficient_funds"));
    assert_eq!(account(fixture, &wallet.id).await.balance, 300);
    let events = fixture
        .db
        .pending_outbox_events(100)
        .await
        .expect("repository answers");
    assert_eq!(
        events
            .iter()
            .filter(|e| e.event == "payment.failed")
            .count(),
        2
    );
    assert_ledger_clean(fixture).await;
}

pub async fn due_requests_expire_once(fixture: &Fixture) {
    let alice = fixtures::user(fixture, "alice").await;
    let shop = merchant(fixture, "ma_shop").await;
    let payment = request(fixture, alice.id, &shop, 500).await;
    let before = payment.created_at + Duration::minutes(4);
    assert!(fixture
        .db
        .payments_due(before, 10)
        .await
        .expect("repository answers")
        .is_empty());
    assert_eq!(
        fixture
            .db
            .expire_payment(payment.id, before)
            .await
            .expect("repository answers"),
        None
    );

    let after = payment.created_at + Duration::minutes(6);
    assert_eq!(
        fixture
            .db
            .payments_due(after, 10)
            .await
            .expect("repository answers"),
        vec![payment.id]
    );
    let expired = fixture
        .db
        .expire_payment(payment.id, after)
        .await
        .expect("repository answers")
        .expect("repository answers");
    assert_eq!(expired.state, PaymentState::Expired);
    assert_eq!(expired.status(), PaymentStatus::Expired);
    assert_eq!(
        fixture
            .db
            .expire_payment(payment.id, after)
            .await
            .expect("repository answers"),
        None
    );
    assert!(fixture
        .db
        .payments_due(after, 10)
        .await
        .expect("repository answers")
        .is_empty());

    // An expired payment cannot be settled.
    let late = fixture.db.settle_payment(settle(&payment, 0, after)).await;
    assert!(
        matches!(late, Err(PaymentTxError::InvalidTransition(_))),
        "{late:?}"
    );
}
