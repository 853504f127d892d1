//! Balance and history: own rows only, with a session or a TEP holding the route's scope.

use super::{code, setup, Wallet};
use crate::support::{on_both_engines, seed};
use axum::http::{Method, StatusCode};
use serde_json::json;
use tmcp_domain::Clock;

const APP: &str = "ma_wallet_reader";

async fn reads_show_only_own_rows_with_session_or_scoped_tep(w: Wallet) {
    let card = w.add_card(w.alice(), "pm_sandbox_ok-rd").await;
    for (key, amount, currency) in [
        ("a", "1.00", "USD"),
        ("b", "2.00", "EUR"),
        ("c", "3.00", "USD"),
    ] {
        let reply = w
            .top_up(
                w.alice(),
                json!({"amount": amount, "currency": currency, "payment_method_id": card, "idempotency_key": key}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
    }
    let bobs_card = w.add_card(&w.bob, "pm_sandbox_ok-rdb").await;
    let bobs = w
        .top_up(
            &w.bob,
            json!({"amount": "50", "currency": "USD", "payment_method_id": bobs_card, "idempotency_key": "a"}),
        )
        .await;
    assert_eq!(bobs.status, StatusCode::CREATED);

    let balance = w
        .call(Method::GET, "/wallet/v1/balance", None, w.alice())
        .await;
    assert_eq!(balance.status, StatusCode::OK, "{}", balance.text());
    let balance = balance.json();
    assert!(balance["wallet_id"]
        .as_str()
        .is_some_and(|id| id.starts_with("tw_")));
    let shown: Vec<(String, String)> = balance["balances"]
        .as_array()
        .expect("balances")
        .iter()
        .map(|b| {
            (
                b["currency"].as_str().unwrap_or("").into(),
                b["available"].as_str().unwrap_or("").into(),
            )
        })
        .collect();
    assert_eq!(
        shown,
        [("EUR".into(), "2.00".into()), ("USD".into(), "4.00".into())]
    );

    // A mini-app reads with the matching scope only.
    seed::client(
        &w.env.fixture,
        APP,
        "Wallet reader",
        &["wallet:balance", "wallet:history"],
    )
    .await;
    let now = w.env.fixture.clock.now();
    let both = seed::tep(
        &w.env.state,
        now,
        Some(w.env.user),
        APP,
        "wallet:balance wallet:history",
        None,
    )
    .await;
    let balance_only = seed::tep(
        &w.env.state,
        now,
        Some(w.env.user),
        APP,
        "wallet:balance",
        None,
    )
    .await;
    let by_app = w
        .call(Method::GET, "/wallet/v1/balance", None, &balance_only)
        .await;
    assert_eq!(by_app.status, StatusCode::OK, "{}", by_app.text());
    assert_eq!(by_app.json(), balance);
    let refused = w
        .call(Method::GET, "/wallet/v1/transactions", None, &balance_only)
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_eq!(code(&refused), "INSUFFICIENT_PERMISSIONS");
    assert_eq!(
        refused.json()["error"]["details"]["required_scope"],
        "wallet:history"
    );

    // History: newest first, pages by cursor, filtered by currency, alice's only.
    let first = w
        .call(Method::GET, "/wallet/v1/transactions?limit=2", None, &both)
        .await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text());
    let first = first.json();
    let amounts = |page: &serde_json::Value| -> Vec<String> {
        page["transactions"]
            .as_array()
            .expect("list")
            .iter()
            .map(|t| t["amount"].as_str().unwrap_or("").to_owned())
            .collect()
    };
    assert_eq!(amounts(&first), ["3.00", "2.00"]);
    assert_eq!(first["transactions"][0]["type"], "top_up");
    assert_eq!(first["transactions"][0]["balance_after"], "4.00");
    assert_eq!(first["pagination"]["has_more"], true);
    let cursor = first["pagination"]["next_cursor"]
        .as_str()
        .expect("cursor")
        .to_owned();
    let second = w
        .call(
            Method::GET,
            &format!("/wallet/v1/transactions?limit=2&cursor={cursor}"),
            None,
            w.alice(),
        )
        .await
        .json();
    assert_eq!(amounts(&second), ["1.00"]);
    assert_eq!(second["pagination"]["has_more"], false);
    let eur = w
        .call(
            Method::GET,
            "/wallet/v1/transactions?currency=EUR",
            None,
            w.alice(),
        )
        .await
        .json();
    assert_eq!(amounts(&eur), ["2.00"]);
    let bob_history = w
        .call(Method::GET, "/wallet/v1/transactions", None, &w.bob)
        .await
        .json();
    assert_eq!(amounts(&bob_history), ["50.00"]);

    for (query, status) in [
        ("limit=0", StatusCode::UNPROCESSABLE_ENTITY),
        ("limit=101", StatusCode::UNPROCESSABLE_ENTITY),
        ("limit=abc", StatusCode::BAD_REQUEST),
        ("cursor=garbage", StatusCode::BAD_REQUEST),
        ("currency=XXX", StatusCode::BAD_REQUEST),
    ] {
        let reply = w
            .call(
                Method::GET,
                &format!("/wallet/v1/transactions?{query}"),
                None,
                w.alice(),
            )
            .await;
        assert_eq!(reply.status, status, "{query}: {}", reply.text());
    }
    // A user without wallets sees an empty balance.
    let empty = seed::tep(
        &w.env.state,
        now,
        Some(seed::user(&w.env.fixture, "carol").await),
        APP,
        "wallet:balance",
        None,
    )
    .await;
    let none = w
        .call(Method::GET, "/wallet/v1/balance", None, &empty)
        .await
        .json();
    assert_eq!(none, json!({"wallet_id": null, "balances": []}));
    w.assert_ledger_clean().await;
}

on_both_engines!(setup = setup, runtime = (flavor = "multi_thread", worker_threads = 2);
    reads_show_only_own_rows_with_session_or_scoped_tep,
);
