//! Refunds by the app's backend: partial and full, the fee share back from the platform,
//! idempotent, never above the captured amount (also when racing), never by anyone else.

use super::*;
use crate::support::on_both_engines;
use futures::future::join_all;
use std::sync::Arc;

on_both_engines!(setup = setup, runtime = (flavor = "multi_thread", worker_threads = 4);
    partial_and_full_refunds_move_the_money_back,
    refunds_are_only_for_the_apps_backend,
    a_merchant_without_funds_cannot_refund,
    racing_partial_refunds_never_exceed_the_payment,
    racing_refunds_with_one_key_move_money_once,
);

impl Pay {
    async fn paid(&self, amount: &str, key: &str) -> String {
        let token = self.tep(Some(self.alice), SHOP, PAY).await;
        let id = self.new_payment(&token, amount, key).await;
        let done = self.authorize(&token, &id).await;
        assert_eq!(done.status, StatusCode::OK, "{}", done.text);
        id
    }

    async fn refund(&self, token: &str, id: &str, body: Value) -> Reply {
        let path = format!("/api/v1/payments/{id}/refund");
        self.call(Method::POST, &path, token, Some(&body)).await
    }
}

fn shop() -> WalletOwner {
    WalletOwner::Merchant(tmcp_domain::AppId::parse(SHOP).expect("app id"))
}

async fn partial_and_full_refunds_move_the_money_back(mut pay: Pay) {
    std::sync::Arc::make_mut(&mut pay.env.state.settings)
        .payments
        .fee_basis_points = 250;
    pay.fund(pay.alice, 10_000).await;
    let id = pay.paid("40.00", "r1").await;
    assert_eq!(
        (
            pay.balance(shop()).await,
            pay.balance(WalletOwner::Platform).await
        ),
        (3_900, 100)
    );
    let backend = pay.tep(None, SHOP, "storage:read").await;
    let first =
        json!({"amount": "10.00", "reason": "one item returned", "idempotency_key": "ref-1"});
    let part = pay.refund(&backend, &id, first.clone()).await;
    assert_eq!(part.status, StatusCode::OK, "{}", part.text);
    assert_eq!(part.json["payment"]["status"], "partially_refunded");
    assert_eq!(part.json["payment"]["refunded_amount"], "10.00");
    assert_eq!(part.json["refund"]["amount"], "10.00");
    assert_eq!(pay.balance(WalletOwner::User(pay.alice)).await, 7_000);
    assert_eq!(pay.balance(shop()).await, 3_900 - 975);
    assert_eq!(pay.balance(WalletOwner::Platform).await, 75);
    // The same key and body: the same answer, nothing moves again.
    let replay = pay.refund(&backend, &id, first).await;
    assert_eq!(replay.text, part.text);
    assert_eq!(pay.balance(WalletOwner::User(pay.alice)).await, 7_000);
    let other = pay
        .refund(
            &backend,
            &id,
            json!({"amount": "1.00", "reason": "x", "idempotency_key": "ref-1"}),
        )
        .await;
    assert_eq!(other.code(), "DUPLICATE_TRANSACTION");
    let too_much = pay
        .refund(
            &backend,
            &id,
            json!({"amount": "30.01", "reason": "x", "idempotency_key": "ref-2"}),
        )
        .await;
    assert_eq!(
        too_much.status,
        StatusCode::BAD_REQUEST,
        "{}",
        too_much.text
    );
    // The rest: fully refunded, the whole fee back from the platform.
    let rest = pay
        .refund(
            &backend,
            &id,
            json!({"reason": "order cancelled", "idempotency_key": "ref-3"}),
        )
        .await;
    assert_eq!(rest.status, StatusCode::OK, "{}", rest.text);
    assert_eq!(rest.json["payment"]["status"], "refunded");
    assert_eq!(pay.balance(WalletOwner::User(pay.alice)).await, 10_000);
    assert_eq!(
        (
            pay.balance(shop()).await,
            pay.balance(WalletOwner::Platform).await
        ),
        (0, 0)
    );
    let again = pay
        .refund(
            &backend,
            &id,
            json!({"amount": "1.00", "reason": "x", "idempotency_key": "ref-4"}),
        )
        .await;
    assert_eq!(again.code(), "INVALID_STATE_TRANSITION");
    let token = pay.tep(Some(pay.alice), SHOP, PAY).await;
    let read = pay.get(&token, &format!("/api/v1/payments/{id}")).await;
    assert_eq!(read.json["status"], "refunded");
    pay.assert_ledger_clean().await;
}

async fn refunds_are_only_for_the_apps_backend(pay: Pay) {
    pay.fund(pay.alice, 10_000).await;
    let id = pay.paid("5.00", "t1").await;
    let body = json!({"amount": "1.00", "reason": "x", "idempotency_key": "k"});
    let cafe = pay.tep(None, CAFE, "storage:read").await;
    assert_eq!(
        pay.refund(&cafe, &id, body.clone()).await.status,
        StatusCode::NOT_FOUND
    );
    let user_token = pay.tep(Some(pay.alice), SHOP, PAY).await;
    assert_eq!(
        pay.refund(&user_token, &id, body.clone()).await.status,
        StatusCode::FORBIDDEN
    );
    let session = pay.env.session.clone();
    assert_eq!(
        pay.refund(&session, &id, body.clone()).await.status,
        StatusCode::FORBIDDEN
    );
    // A pending payment cannot be refunded.
    let pending = pay.new_payment(&user_token, "1.00", "pending").await;
    let backend = pay.tep(None, SHOP, "storage:read").await;
    let refused = pay.refund(&backend, &pending, body.clone()).await;
    assert_eq!(refused.code(), "INVALID_STATE_TRANSITION");
    for bad in [
        json!({"amount": "1.00", "reason": "", "idempotency_key": "k1"}),
        json!({"amount": "1.001", "reason": "x", "idempotency_key": "k2"}),
        json!({"amount": "-1", "reason": "x", "idempotency_key": "k3"}),
        json!({"amount": "1.00", "reason": "x"}),
        json!({"amount": "1.00", "reason": "a\u{0}", "idempotency_key": "k4"}),
    ] {
        let reply = pay.refund(&backend, &id, bad.clone()).await;
        assert!(
            matches!(reply.status.as_u16(), 400 | 422),
            "{bad}: {}",
            reply.text
        );
    }
    assert_eq!(pay.balance(WalletOwner::User(pay.alice)).await, 9_500);
}

async fn a_merchant_without_funds_cannot_refund(pay: Pay) {
    pay.fund(pay.alice, 10_000).await;
    let id = pay.paid("20.00", "poor").await;
    // The merchant pays its money out (to the outside world) before the refund.
    let db = &pay.env.fixture.db;
    let at = pay.env.fixture.clock.now();
    let find = |owner| async move {
        db.find_wallet_account(&owner, usd())
            .await
            .expect("readable")
            .expect("exists")
            .id
    };
    let (merchant, clearing) = (find(shop()).await, find(WalletOwner::Clearing).await);
    let payout = MovementBuilder::new(EntryType::Withdrawal)
        .debit(merchant, money(1_500))
        .credit(clearing, money(1_500))
        .build(uuid_v7_at(at))
        .expect("balanced");
    db.post_movement(&payout, at).await.expect("paid out");
    let backend = pay.tep(None, SHOP, "storage:read").await;
    let refused = pay
        .refund(
            &backend,
            &id,
            json!({"reason": "x", "idempotency_key": "k"}),
        )
        .await;
    assert_eq!(
        refused.status,
        StatusCode::PAYMENT_REQUIRED,
        "{}",
        refused.text
    );
    assert_eq!(refused.code(), "INSUFFICIENT_FUNDS");
    assert_eq!(refused.json["error"]["details"]["available"], "5.00");
    // Nothing happened: the key is free again, and a smaller refund goes through.
    let small = pay
        .refund(
            &backend,
            &id,
            json!({"amount": "5.00", "reason": "x", "idempotency_key": "k"}),
        )
        .await;
    assert_eq!(small.status, StatusCode::OK, "{}", small.text);
    pay.assert_ledger_clean().await;
}

async fn racing_partial_refunds_never_exceed_the_payment(pay: Pay) {
    pay.fund(pay.alice, 10_000).await;
    let id = pay.paid("10.00", "race").await;
    let backend = pay.tep(None, SHOP, "storage:read").await;
    let pay = Arc::new(pay);
    let tasks = (0..25).map(|i| {
        let (pay, backend, id) = (Arc::clone(&pay), backend.clone(), id.clone());
        tokio::spawn(async move {
            let body =
                json!({"amount": "1.00", "reason": "part", "idempotency_key": format!("k{i}")});
            pay.refund(&backend, &id, body).await
        })
    });
    let (mut refunded, mut refused) = (0, 0);
    for reply in join_all(tasks).await {
        let reply = reply.expect("no panic");
        match reply.status.as_u16() {
            200 => refunded += 1,
            400 | 409 => refused += 1,
            other => panic!("unexpected {other}: {}", reply.text),
        }
    }
    assert_eq!((refunded, refused), (10, 15));
    assert_eq!(pay.balance(WalletOwner::User(pay.alice)).await, 10_000);
    assert_eq!(pay.balance(shop()).await, 0);
    pay.assert_ledger_clean().await;
}

/// 64 clients retrying one refund key at once: one refund, one set of ledger rows; every
/// other answer is the identical replay or 409.
async fn racing_refunds_with_one_key_move_money_once(pay: Pay) {
    pay.fund(pay.alice, 10_000).await;
    let id = pay.paid("8.00", "one-key").await;
    let backend = pay.tep(None, SHOP, "storage:read").await;
    let pay = Arc::new(pay);
    let body = json!({"amount": "3.00", "reason": "retried", "idempotency_key": "same"});
    let tasks = (0..64).map(|_| {
        let (pay, backend, id, body) =
            (Arc::clone(&pay), backend.clone(), id.clone(), body.clone());
        tokio::spawn(async move { pay.refund(&backend, &id, body).await })
    });
    let replies: Vec<Reply> = join_all(tasks)
        .await
        .into_iter()
        .map(|r| r.expect("no panic"))
        .collect();
    let first = replies
        .iter()
        .find(|r| r.status == StatusCode::OK)
        .expect("one refund answered");
    for reply in &replies {
        match reply.status {
            StatusCode::OK => assert_eq!(reply.text, first.text, "an identical replay"),
            StatusCode::CONFLICT => assert_eq!(reply.code(), "DUPLICATE_TRANSACTION"),
            other => panic!("unexpected {other}: {}", reply.text),
        }
    }
    assert_eq!(
        pay.balance(WalletOwner::User(pay.alice)).await,
        9_500,
        "refunded once"
    );
    assert_eq!(pay.balance(shop()).await, 500);
    let read = pay.get(&backend, &format!("/api/v1/payments/{id}")).await;
    assert_eq!(read.json["refunded_amount"], "3.00", "{}", read.text);
    pay.assert_ledger_clean().await;
}
