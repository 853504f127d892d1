//! Cancelling before settlement, by the user or its app; never after.

use super::*;
use crate::support::on_both_engines;

on_both_engines!(setup = setup, runtime = (flavor = "multi_thread", worker_threads = 4);
    payments_are_cancelled_only_before_settlement,
);

async fn payments_are_cancelled_only_before_settlement(pay: Pay) {
    let token = pay.tep(Some(pay.alice), SHOP, PAY).await;
    pay.fund(pay.alice, 10_000).await;
    let cancel = |id: &str| format!("/api/v1/payments/{id}/cancel");

    let id = pay.new_payment(&token, "2.00", "c1").await;
    let bob = pay.tep(Some(pay.bob), SHOP, PAY).await;
    assert_eq!(
        pay.call(Method::POST, &cancel(&id), &bob, None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let done = pay.call(Method::POST, &cancel(&id), &token, None).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.text);
    assert_eq!(done.json["status"], "cancelled");
    let again = pay.call(Method::POST, &cancel(&id), &token, None).await;
    assert_eq!(again.code(), "INVALID_STATE_TRANSITION");
    assert_eq!(
        pay.authorize(&token, &id).await.code(),
        "INVALID_STATE_TRANSITION"
    );

    // The app's backend may cancel its app's requests.
    let id = pay.new_payment(&token, "2.00", "c2").await;
    let backend = pay.tep(None, SHOP, "storage:read").await;
    let done = pay.call(Method::POST, &cancel(&id), &backend, None).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.text);

    // A settled payment cannot be cancelled.
    let id = pay.new_payment(&token, "2.00", "c3").await;
    assert_eq!(pay.authorize(&token, &id).await.status, StatusCode::OK);
    let late = pay.call(Method::POST, &cancel(&id), &token, None).await;
    assert_eq!(late.status, StatusCode::CONFLICT);
    assert_eq!(late.json["error"]["details"]["status"], "completed");

    // Waiting for MFA: cancelling releases the hold.
    let enrol = pay
        .call(
            Method::POST,
            "/api/v1/auth/mfa/methods",
            &pay.env.session.clone(),
            Some(
                &json!({"type": "transaction_pin", "password": support::PASSWORD, "pin": "482915"}),
            ),
        )
        .await;
    assert_eq!(enrol.status, StatusCode::CREATED, "{}", enrol.text);
    let id = pay.new_payment(&token, "60.00", "c4").await;
    assert_eq!(pay.authorize(&token, &id).await.code(), "MFA_REQUIRED");
    let session = pay.env.session.clone();
    let done = pay.call(Method::POST, &cancel(&id), &session, None).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.text);
    let wallet = pay
        .env
        .fixture
        .db
        .find_wallet_account(&WalletOwner::User(pay.alice), usd())
        .await
        .expect("readable")
        .expect("wallet");
    assert_eq!((wallet.balance, wallet.held), (9_800, 0));
    pay.assert_ledger_clean().await;
}
