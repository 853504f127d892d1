//! Top-up validation: every refusal is a 400/404/422 envelope, never a 500, and writes
//! nothing (no charge, no key kept).

use super::{code, setup, Wallet};
use crate::support::on_both_engines;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use serde_json::{json, Value};

async fn bad_top_ups_are_refused_with_envelopes(w: Wallet) {
    let card = w.add_card(w.alice(), "pm_sandbox_ok-v").await;
    let bobs = w.add_card(&w.bob, "pm_sandbox_ok-vb").await;
    let base = json!({"amount": "10.00", "currency": "USD", "payment_method_id": card, "idempotency_key": "v-1"});
    let with = |field: &str, value: Value| {
        let mut body = base.clone();
        body[field] = value;
        body
    };
    let without = |field: &str| {
        let mut body = base.clone();
        body.as_object_mut().map(|o| o.remove(field));
        body
    };
    let cases = [
        (with("amount", json!("12.345")), StatusCode::BAD_REQUEST),
        (with("amount", json!(0.001)), StatusCode::BAD_REQUEST),
        (with("amount", json!("0")), StatusCode::BAD_REQUEST),
        (with("amount", json!(-5)), StatusCode::BAD_REQUEST),
        (with("amount", json!("1e3")), StatusCode::BAD_REQUEST),
        (
            with("amount", json!("99999999999999999999999999")),
            StatusCode::BAD_REQUEST,
        ),
        (
            with("amount", json!("9".repeat(5000))),
            StatusCode::BAD_REQUEST,
        ),
        (with("amount", json!(true)), StatusCode::BAD_REQUEST),
        (with("currency", json!("XXX")), StatusCode::BAD_REQUEST),
        (with("currency", json!("usd")), StatusCode::BAD_REQUEST),
        (
            with("currency", json!("x".repeat(10_000))),
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({"amount": "12.5", "currency": "JPY", "payment_method_id": card, "idempotency_key": "v-j"}),
            StatusCode::BAD_REQUEST,
        ),
        (without("idempotency_key"), StatusCode::UNPROCESSABLE_ENTITY),
        (
            with("idempotency_key", json!("")),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            with("idempotency_key", json!("has space")),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            with("idempotency_key", json!("k".repeat(256))),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            with("idempotency_key", json!(42)),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            with("payment_method_id", json!("not-a-uuid")),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            with("payment_method_id", json!(uuid::Uuid::nil().to_string())),
            StatusCode::NOT_FOUND,
        ),
        (
            with("payment_method_id", json!(bobs)),
            StatusCode::NOT_FOUND,
        ),
        (with("extra", json!(1)), StatusCode::UNPROCESSABLE_ENTITY),
        (without("amount"), StatusCode::UNPROCESSABLE_ENTITY),
        (json!([1, 2]), StatusCode::UNPROCESSABLE_ENTITY),
    ];
    for (body, status) in cases {
        let reply = w.top_up(w.alice(), body.clone()).await;
        assert_eq!(reply.status, status, "{body}: {}", reply.text());
        assert!(!code(&reply).is_empty(), "envelope for {body}");
    }
    // NUL bytes never reach the handler: the input boundary answers 400.
    let nul = Request::post("/wallet/v1/top-up")
        .header("authorization", format!("Bearer {}", w.alice()))
        .header("content-type", "application/json")
        .body(Body::from(
            r#"{"amount":"1.00","currency":"USD","payment_method_id":"x","idempotency_key":"a\u0000b"}"#,
        ))
        .expect("request");
    let reply = w.env.send(nul).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.text());
    let not_json = w
        .call(Method::POST, "/wallet/v1/top-up", None, w.alice())
        .await;
    assert_eq!(not_json.status, StatusCode::BAD_REQUEST);

    // The key of a refused request was not kept: it works afterwards.
    assert_eq!(w.sandbox.charges(), 0);
    let fine = w.top_up(w.alice(), base.clone()).await;
    assert_eq!(fine.status, StatusCode::CREATED, "{}", fine.text());
    let no_session = w.top_up("st_invalid", base).await;
    assert_eq!(no_session.status, StatusCode::UNAUTHORIZED);
    w.assert_ledger_clean().await;
}

on_both_engines!(setup = setup, runtime = (flavor = "multi_thread", worker_threads = 2);
    bad_top_ups_are_refused_with_envelopes,
);
