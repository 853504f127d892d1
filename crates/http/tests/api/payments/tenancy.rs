//! Nothing of another user's or another app's payments is readable or movable, and a token
//! without `wallet:pay` can do nothing.

use super::*;
use crate::support::on_both_engines;

on_both_engines!(setup = setup, runtime = (flavor = "multi_thread", worker_threads = 4);
    other_users_and_apps_see_and_move_nothing,
    tokens_without_wallet_pay_are_refused,
    an_app_backend_reads_only_its_apps_payments,
);

async fn other_users_and_apps_see_and_move_nothing(pay: Pay) {
    let alice = pay.tep(Some(pay.alice), SHOP, PAY).await;
    pay.fund(pay.alice, 5_000).await;
    pay.fund(pay.bob, 5_000).await;
    let id = pay.new_payment(&alice, "2.00", "mine").await;
    let path = format!("/api/v1/payments/{id}");

    let bob = pay.tep(Some(pay.bob), SHOP, PAY).await;
    let alice_in_cafe = pay.tep(Some(pay.alice), CAFE, PAY).await;
    for (who, token) in [("bob", &bob), ("alice via another app", &alice_in_cafe)] {
        let read = pay.get(token, &path).await;
        assert_eq!(read.status, StatusCode::NOT_FOUND, "{who}");
        assert_eq!(read.code(), "PAYMENT_NOT_FOUND");
        let moved = pay.authorize(token, &id).await;
        assert_eq!(moved.status, StatusCode::NOT_FOUND, "{who}: {}", moved.text);
        let listed = pay.get(token, "/api/v1/payments").await;
        assert_eq!(
            listed.json["payments"].as_array().map(Vec::len),
            Some(0),
            "{who}"
        );
    }
    // Unknown or malformed ids are not found either.
    for bad in ["00000000-0000-0000-0000-000000000000", "not-a-uuid"] {
        let read = pay.get(&alice, &format!("/api/v1/payments/{bad}")).await;
        assert_eq!(read.status, StatusCode::NOT_FOUND);
    }
    assert_eq!(pay.balance(WalletOwner::User(pay.alice)).await, 5_000);
    assert_eq!(pay.balance(WalletOwner::User(pay.bob)).await, 5_000);
    // The owner still can.
    assert_eq!(pay.authorize(&alice, &id).await.status, StatusCode::OK);
    pay.assert_ledger_clean().await;
}

async fn tokens_without_wallet_pay_are_refused(pay: Pay) {
    let good = pay.tep(Some(pay.alice), SHOP, PAY).await;
    let id = pay.new_payment(&good, "2.00", "scoped").await;
    let weak = pay.tep(Some(pay.alice), SHOP, "storage:read").await;
    let refused = pay.request(&weak, &body("2.00", "weak")).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_eq!(refused.code(), "INSUFFICIENT_PERMISSIONS");
    assert_eq!(refused.json["error"]["details"]["required_scope"], PAY);
    assert_eq!(
        pay.authorize(&weak, &id).await.status,
        StatusCode::FORBIDDEN
    );
    let read = pay.get(&weak, &format!("/api/v1/payments/{id}")).await;
    assert_eq!(read.status, StatusCode::FORBIDDEN);
    // No token, or a bad one.
    assert_eq!(
        pay.get("", "/api/v1/payments").await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        pay.authorize("tep.garbage", &id).await.status,
        StatusCode::UNAUTHORIZED
    );
    // An app backend token (no user) cannot request or authorize.
    let backend = pay.tep(None, SHOP, PAY).await;
    assert_eq!(
        pay.request(&backend, &body("1.00", "b")).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        pay.authorize(&backend, &id).await.status,
        StatusCode::FORBIDDEN
    );
}

async fn an_app_backend_reads_only_its_apps_payments(pay: Pay) {
    let alice = pay.tep(Some(pay.alice), SHOP, PAY).await;
    let bob_cafe = pay.tep(Some(pay.bob), CAFE, PAY).await;
    let shop_id = pay.new_payment(&alice, "2.00", "s").await;
    let cafe_id = pay.new_payment(&bob_cafe, "3.00", "c").await;
    let backend = pay.tep(None, SHOP, "storage:read").await;
    let read = pay
        .get(&backend, &format!("/api/v1/payments/{shop_id}"))
        .await;
    assert_eq!(read.status, StatusCode::OK, "{}", read.text);
    let other = pay
        .get(&backend, &format!("/api/v1/payments/{cafe_id}"))
        .await;
    assert_eq!(other.status, StatusCode::NOT_FOUND);
    let list = pay.get(&backend, "/api/v1/payments").await;
    let ids: Vec<&str> = list.json["payments"]
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|p| p["payment_id"].as_str())
        .collect();
    assert_eq!(ids, vec![shop_id.as_str()]);
}
