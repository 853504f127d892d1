//! Registration: what a new account must and must not look like.

use super::*;
use crate::support::on_both_engines;
use axum::http::{Method, StatusCode};
use serde_json::json;

async fn registration_rules(app: App) {
    app.register("carol").await;
    let dup_name = app
        .call(
            Method::POST,
            "/api/v1/auth/register",
            None,
            Some(json!({"username": "carol", "email": "other@example.com", "password": "long enough"})),
        )
        .await;
    assert_eq!(dup_name.status, StatusCode::CONFLICT);
    assert_eq!(dup_name.code(), "CONFLICT");
    assert_eq!(dup_name.body["error"]["details"]["field"], "username");
    let dup_email = app
        .call(
            Method::POST,
            "/api/v1/auth/register",
            None,
            Some(json!({"username": "carol2", "email": "CAROL@Example.com", "password": "long enough"})),
        )
        .await;
    assert_eq!(dup_email.status, StatusCode::CONFLICT);
    assert_eq!(dup_email.body["error"]["details"]["field"], "email");

    let invalid = app
        .call(
            Method::POST,
            "/api/v1/auth/register",
            None,
            Some(json!({"username": "No!", "email": "nope", "password": "short", "phone": "12"})),
        )
        .await;
    assert_eq!(invalid.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(invalid.code(), "VALIDATION_FAILED");
    let fields = &invalid.body["error"]["details"]["fields"];
    for field in ["username", "email", "password", "phone"] {
        assert!(fields[field].is_string(), "{field}: {fields}");
    }
    let long = app
        .call(
            Method::POST,
            "/api/v1/auth/register",
            None,
            Some(json!({"username": "dave", "email": "dave@example.com", "password": "x".repeat(129)})),
        )
        .await;
    assert_eq!(long.status, StatusCode::UNPROCESSABLE_ENTITY);
    let extra = app
        .call(
            Method::POST,
            "/api/v1/auth/register",
            None,
            Some(json!({"username": "dave", "email": "dave@example.com", "password": "long enough", "role": "admin"})),
        )
        .await;
    assert_eq!(
        extra.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "unknown fields are refused"
    );

    // The phone is stored encrypted.
    let carol = app
        .fixture
        .db
        .find_user_by_login("carol")
        .await
        .expect("lookup")
        .expect("carol");
    let sealed = carol.phone_ciphertext.expect("phone");
    assert!(!sealed.windows(11).any(|w| w == b"15550001111"));
    assert!(carol
        .password_hash
        .starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
}

on_both_engines!(
    setup = setup,
    runtime = (flavor = "multi_thread", worker_threads = 2);
    registration_rules,
);
