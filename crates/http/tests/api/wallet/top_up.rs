//! Top-ups with each sandbox token, replays of a key, and a key raced by 32 requests.

use super::{code, setup, Wallet};
use crate::support::on_both_engines;
use axum::http::{Method, StatusCode};
use futures::future::join_all;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn body(method: &str, key: &str, amount: Value) -> Value {
    json!({"amount": amount, "currency": "USD", "payment_method_id": method, "idempotency_key": key})
}

async fn available(w: &Wallet, session: &str) -> Value {
    let balance = w
        .call(Method::GET, "/wallet/v1/balance", None, session)
        .await;
    assert_eq!(balance.status, StatusCode::OK, "{}", balance.text());
    balance.json()["balances"].clone()
}

async fn every_sandbox_token_behaves_as_documented(mut w: Wallet) {
    // A short bound keeps the never-answering token's test quick.
    std::sync::Arc::make_mut(&mut w.env.state.settings)
        .wallet
        .processor_timeout = Duration::from_secs(4);
    let ok = w.add_card(w.alice(), "pm_sandbox_ok-t").await;
    let poor = w
        .add_card(w.alice(), "pm_sandbox_insufficient_funds-t")
        .await;
    let declined = w.add_card(w.alice(), "pm_sandbox_card_declined-t").await;
    let slow = w.add_card(w.alice(), "pm_sandbox_slow-t").await;
    let silent = w.add_card(w.alice(), "pm_sandbox_timeout-t").await;

    let done = w.top_up(w.alice(), body(&ok, "k-ok", json!("12.50"))).await;
    assert_eq!(done.status, StatusCode::CREATED, "{}", done.text());
    let view = done.json();
    assert_eq!(view["status"], "completed");
    assert_eq!(view["amount"], "12.50");
    assert_eq!(view["currency"], "USD");
    assert_eq!(view["processor"], "sandbox");
    assert!(view["processor_transaction_id"]
        .as_str()
        .is_some_and(|t| t.starts_with("sbx_")));

    for (method, reason) in [(&poor, "insufficient_funds"), (&declined, "card_declined")] {
        let reply = w.top_up(w.alice(), body(method, reason, json!(5))).await;
        assert_eq!(
            reply.status,
            StatusCode::PAYMENT_REQUIRED,
            "{}",
            reply.text()
        );
        assert_eq!(code(&reply), "PAYMENT_DECLINED");
        assert_eq!(reply.json()["error"]["details"]["reason"], reason);
        assert_eq!(reply.json()["error"]["details"]["status"], "failed");
    }

    let started = Instant::now();
    let late = w
        .top_up(w.alice(), body(&slow, "k-slow", json!("1.00")))
        .await;
    assert_eq!(late.status, StatusCode::CREATED, "{}", late.text());
    assert!(
        started.elapsed() >= Duration::from_secs(3),
        "the slow token takes 3 s"
    );

    let started = Instant::now();
    let timed_out = w
        .top_up(w.alice(), body(&silent, "k-silent", json!("1.00")))
        .await;
    assert_eq!(
        timed_out.status,
        StatusCode::GATEWAY_TIMEOUT,
        "{}",
        timed_out.text()
    );
    assert_eq!(code(&timed_out), "PROCESSOR_TIMEOUT");
    assert!(started.elapsed() >= Duration::from_secs(4));
    let failed_id = timed_out.json()["error"]["details"]["top_up_id"].clone();
    let stored = w
        .env
        .fixture
        .db
        .top_up(failed_id.as_str().and_then(|s| s.parse().ok()).expect("id"))
        .await
        .expect("read")
        .expect("kept");
    assert_eq!(stored.failure_reason.as_deref(), Some("processor_timeout"));

    // Only the two approved top-ups moved money.
    assert_eq!(w.sandbox.charges(), 2);
    let balances = available(&w, w.alice()).await;
    assert_eq!(balances[0]["available"], "13.50");
    assert_eq!(balances[0]["pending"], "0.00");
    w.assert_ledger_clean().await;
}

async fn a_key_replays_its_answer_and_refuses_another_body(w: Wallet) {
    let ok = w.add_card(w.alice(), "pm_sandbox_ok-r").await;
    let poor = w
        .add_card(w.alice(), "pm_sandbox_insufficient_funds-r")
        .await;
    let first = w
        .top_up(w.alice(), body(&ok, "replay-1", json!("7.25")))
        .await;
    assert_eq!(first.status, StatusCode::CREATED);
    let again = w
        .top_up(w.alice(), body(&ok, "replay-1", json!("7.25")))
        .await;
    assert_eq!(again.status, first.status);
    assert_eq!(again.body, first.body, "byte for byte");
    // Key order and spacing do not change the request.
    let reordered: Value = serde_json::from_str(&format!(
        r#"{{ "idempotency_key": "replay-1", "payment_method_id": "{ok}", "currency": "USD", "amount": "7.25" }}"#
    ))
    .expect("json");
    assert_eq!(w.top_up(w.alice(), reordered).await.body, first.body);

    let other = w
        .top_up(w.alice(), body(&ok, "replay-1", json!("7.26")))
        .await;
    assert_eq!(other.status, StatusCode::CONFLICT);
    assert_eq!(code(&other), "DUPLICATE_TRANSACTION");
    // Bob's key space is his own.
    let bobs_card = w.add_card(&w.bob, "pm_sandbox_ok-bob").await;
    let bobs = w
        .top_up(&w.bob, body(&bobs_card, "replay-1", json!("1.00")))
        .await;
    assert_eq!(bobs.status, StatusCode::CREATED);

    let declined = w.top_up(w.alice(), body(&poor, "replay-2", json!(3))).await;
    assert_eq!(declined.status, StatusCode::PAYMENT_REQUIRED);
    let declined_again = w.top_up(w.alice(), body(&poor, "replay-2", json!(3))).await;
    assert_eq!(declined_again.status, StatusCode::PAYMENT_REQUIRED);
    assert_eq!(declined_again.body, declined.body);

    assert_eq!(w.sandbox.charges(), 2, "alice's and bob's, once each");
    assert_eq!(available(&w, w.alice()).await[0]["available"], "7.25");
    w.assert_ledger_clean().await;
}

async fn racing_requests_with_one_key_charge_once(w: Wallet) {
    let ok = w.add_card(w.alice(), "pm_sandbox_ok-race").await;
    let w = Arc::new(w);
    let requests = (0..32).map(|_| {
        let w = Arc::clone(&w);
        let body = body(&ok, "raced", json!("2.00"));
        tokio::spawn(async move {
            let reply = w.top_up(w.alice(), body).await;
            (reply.status, reply.body)
        })
    });
    let replies: Vec<_> = join_all(requests)
        .await
        .into_iter()
        .map(|r| r.expect("no panic"))
        .collect();
    let created: Vec<_> = replies
        .iter()
        .filter(|(s, _)| *s == StatusCode::CREATED)
        .collect();
    assert!(!created.is_empty());
    assert!(
        created.iter().all(|(_, b)| *b == created[0].1),
        "replays are identical"
    );
    for (status, reply) in &replies {
        assert!(
            *status == StatusCode::CREATED || *status == StatusCode::CONFLICT,
            "{status}: {reply:?}"
        );
    }
    assert_eq!(w.sandbox.charges(), 1, "one processor charge");
    let history = w
        .call(Method::GET, "/wallet/v1/transactions", None, w.alice())
        .await
        .json();
    assert_eq!(
        history["transactions"].as_array().map(Vec::len),
        Some(1),
        "one movement"
    );
    assert_eq!(available(&w, w.alice()).await[0]["available"], "2.00");
    w.assert_ledger_clean().await;
}

on_both_engines!(setup = setup, runtime = (flavor = "multi_thread", worker_threads = 4);
    every_sandbox_token_behaves_as_documented,
    a_key_replays_its_answer_and_refuses_another_body,
    racing_requests_with_one_key_charge_once,
);
