//! Racing clients: one idempotency key, one payment; one wallet, no overdraft.

use super::*;
use crate::support::on_both_engines;
use futures::future::join_all;
use std::sync::Arc;

on_both_engines!(setup = setup, runtime = (flavor = "multi_thread", worker_threads = 4);
    racing_requests_with_one_key_make_one_payment,
    racing_authorizations_never_overdraw,
);

async fn racing_requests_with_one_key_make_one_payment(pay: Pay) {
    let pay = Arc::new(pay);
    let token = pay.tep(Some(pay.alice), SHOP, PAY).await;
    let tasks = (0..64).map(|_| {
        let (pay, token) = (Arc::clone(&pay), token.clone());
        tokio::spawn(async move { pay.request(&token, &body("4.00", "race")).await })
    });
    let replies: Vec<Reply> = join_all(tasks)
        .await
        .into_iter()
        .map(|r| r.expect("task did not panic"))
        .collect();
    let created: Vec<&Reply> = replies
        .iter()
        .filter(|r| r.status == StatusCode::CREATED)
        .collect();
    assert_eq!(created.len(), 1, "exactly one payment");
    for reply in &replies {
        match reply.status {
            StatusCode::CREATED => {}
            StatusCode::OK => assert_eq!(reply.text, created[0].text, "an identical replay"),
            StatusCode::CONFLICT => assert_eq!(reply.code(), "DUPLICATE_TRANSACTION"),
            other => panic!("unexpected {other}: {}", reply.text),
        }
    }
    let list = pay.get(&token, "/api/v1/payments").await;
    assert_eq!(list.json["payments"].as_array().map(Vec::len), Some(1));
}

async fn racing_authorizations_never_overdraw(pay: Pay) {
    let token = pay.tep(Some(pay.alice), SHOP, PAY).await;
    pay.fund(pay.alice, 1_000).await;
    let mut ids = Vec::new();
    for i in 0..50 {
        ids.push(pay.new_payment(&token, "1.00", &format!("p{i}")).await);
    }
    let pay = Arc::new(pay);
    let tasks = ids.into_iter().map(|id| {
        let (pay, token) = (Arc::clone(&pay), token.clone());
        tokio::spawn(async move { pay.authorize(&token, &id).await })
    });
    let (mut completed, mut unpaid) = (0, 0);
    for reply in join_all(tasks).await {
        let reply = reply.expect("task did not panic");
        match (reply.status, reply.code()) {
            (StatusCode::OK, _) => completed += 1,
            (StatusCode::PAYMENT_REQUIRED, "INSUFFICIENT_FUNDS") => unpaid += 1,
            (other, _) => panic!("unexpected {other}: {}", reply.text),
        }
    }
    assert_eq!((completed, unpaid), (10, 40));
    assert_eq!(pay.balance(WalletOwner::User(pay.alice)).await, 0);
    let failed = pay
        .get(&token, "/api/v1/payments?status=failed&limit=100")
        .await;
    assert_eq!(failed.json["payments"].as_array().map(Vec::len), Some(40));
    pay.assert_ledger_clean().await;
}
