//! A top-up whose request died between its two transactions: a retry with its key waits and
//! answers 409 "still processing" (never a second top-up); once the recovery settled it, the
//! retry answers the final result, and the money moved once.

use super::{code, setup, Wallet};
use crate::support::on_both_engines;
use axum::http::StatusCode;
use serde_json::json;
use std::time::Duration as StdDuration;
use time::Duration;
use tmcp_contract_tests::wallet_api::processing_top_up;
use tmcp_domain::{Clock, Currency, Money};
use tmcp_repository::{IdempotencyScope, NewTopUp, TopUpBegin};
use tmcp_usecases::idempotency::{fingerprint, new_record};
use tmcp_usecases::wallet::top_up::recover_stuck;

async fn a_crashed_top_up_is_finished_by_recovery_and_replayed(mut w: Wallet) {
    std::sync::Arc::make_mut(&mut w.env.state.settings)
        .wallet
        .duplicate_wait = StdDuration::from_millis(300);
    let card = w.add_card(w.alice(), "pm_sandbox_ok-crash").await;
    let method = card.parse().expect("uuid");
    let body = json!({"amount": "9.99", "currency": "USD", "payment_method_id": card,
                      "idempotency_key": "crashed"});
    // What the first transaction of the dead request left behind.
    let db = &w.env.fixture.db;
    let now = w.env.fixture.clock.now();
    let usd = Currency::parse("USD").expect("USD");
    let top_up = processing_top_up(
        w.env.user,
        method,
        "crashed",
        Money {
            minor: 999,
            currency: usd,
        },
        now,
    );
    let id = top_up.id;
    let scope = IdempotencyScope {
        app_id: None,
        user_id: w.env.user,
    };
    let record = new_record(
        scope,
        "crashed",
        "top_up",
        fingerprint("POST", "/wallet/v1/top-up", &body),
        id.to_string(),
        now,
        Duration::hours(72),
    );
    let begun = db
        .begin_top_up(&NewTopUp {
            top_up,
            idempotency: record,
        })
        .await
        .expect("begun");
    assert!(matches!(begun, TopUpBegin::Created(_)));

    let retry = w.top_up(w.alice(), body.clone()).await;
    assert_eq!(retry.status, StatusCode::CONFLICT, "{}", retry.text());
    assert_eq!(code(&retry), "DUPLICATE_TRANSACTION");
    assert_eq!(retry.json()["error"]["details"]["in_flight"], true);

    // Recovery runs once the processor timeout and the margin have passed.
    assert_eq!(
        recover_stuck(w.env.state.wallet_ports(), 10)
            .await
            .expect("recovery"),
        0
    );
    w.env.fixture.clock.advance(Duration::minutes(5));
    assert_eq!(
        recover_stuck(w.env.state.wallet_ports(), 10)
            .await
            .expect("recovery"),
        1
    );

    let replay = w.top_up(w.alice(), body.clone()).await;
    assert_eq!(replay.status, StatusCode::CREATED, "{}", replay.text());
    assert_eq!(replay.json()["top_up_id"], id.to_string());
    assert_eq!(replay.json()["status"], "completed");
    assert_eq!(w.top_up(w.alice(), body).await.body, replay.body);
    assert_eq!(w.sandbox.charges(), 1);
    w.assert_ledger_clean().await;
}

on_both_engines!(setup = setup, runtime = (flavor = "multi_thread", worker_threads = 2);
    a_crashed_top_up_is_finished_by_recovery_and_replayed,
);
