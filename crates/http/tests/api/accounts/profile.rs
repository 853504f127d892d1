//! The profile: partial updates and account deletion.

use super::*;
use crate::support::on_both_engines;
use axum::http::{Method, StatusCode};
use serde_json::{json, Value};
use tmcp_domain::UserId;

async fn profile_updates(app: App) {
    app.register("judy").await;
    let (token, _, _) = app.login("judy").await;
    let patched = app
        .call(
            Method::PATCH,
            "/api/v1/users/me",
            Some(&token),
            Some(json!({
                "first_name": null,
                "last_name": "Hopps",
                "phone": "+44 20 7946 0000",
                "display_name": "Judy",
                "birth_date": "1990-02-28",
                "language": "pt-BR",
                "timezone": "America/Sao_Paulo",
                "website": "https://judy.example.com",
                "public_profile": true,
                "metadata": {"badge": 7},
                "preferences": {"theme": "dark"}
            })),
        )
        .await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.body);
    let body = &patched.body;
    assert_eq!(body["first_name"], Value::Null);
    assert_eq!(body["last_name"], "Hopps");
    assert_eq!(body["phone"], "+442079460000");
    assert_eq!(body["preferences"], json!({"theme": "dark"}));
    assert_eq!(body["profile"]["display_name"], "Judy");
    assert_eq!(body["profile"]["birth_date"], "1990-02-28");
    assert_eq!(body["profile"]["language"], "pt-BR");
    assert_eq!(body["profile"]["public_profile"], true);
    assert_eq!(body["profile"]["metadata"], json!({"badge": 7}));

    let me = app
        .call(Method::GET, "/api/v1/users/me", Some(&token), None)
        .await;
    assert_eq!(me.body["profile"]["timezone"], "America/Sao_Paulo");

    let invalid = app
        .call(
            Method::PATCH,
            "/api/v1/users/me",
            Some(&token),
            Some(json!({
                "website": "javascript:alert(1)",
                "birth_date": "2999-01-01",
                "language": "english!",
                "metadata": [1, 2],
                "display_name": "x".repeat(256)
            })),
        )
        .await;
    assert_eq!(invalid.status, StatusCode::UNPROCESSABLE_ENTITY);
    let fields = &invalid.body["error"]["details"]["fields"];
    for field in [
        "website",
        "birth_date",
        "language",
        "metadata",
        "display_name",
    ] {
        assert!(fields[field].is_string(), "{field}: {fields}");
    }
    let role = app
        .call(
            Method::PATCH,
            "/api/v1/users/me",
            Some(&token),
            Some(json!({"role": "admin"})),
        )
        .await;
    assert_eq!(
        role.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "role cannot be patched"
    );
    let unchanged = app
        .call(Method::GET, "/api/v1/users/me", Some(&token), None)
        .await;
    assert_eq!(unchanged.body["role"], "user");
    assert_eq!(unchanged.body["profile"]["display_name"], "Judy");
}

async fn account_deletion(app: App) {
    app.register("mallory").await;
    let (s1, r1, _) = app.login("mallory").await;
    let (s2, _, _) = app.login("mallory").await;
    let wrong = app
        .call(
            Method::DELETE,
            "/api/v1/users/me",
            Some(&s1),
            Some(json!({"password": "nope nope"})),
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert_eq!(wrong.code(), "INVALID_CREDENTIALS");
    let deleted = app
        .call(
            Method::DELETE,
            "/api/v1/users/me",
            Some(&s1),
            Some(json!({"password": "correct horse battery"})),
        )
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.body);
    for token in [&s1, &s2] {
        assert_invalid_token(
            &app.call(Method::GET, "/api/v1/users/me", Some(token), None)
                .await,
        );
    }
    assert_invalid_token(
        &app.call(
            Method::POST,
            "/api/v1/auth/refresh",
            None,
            Some(json!({"refresh_token": r1})),
        )
        .await,
    );
    let login = app
        .login_with("mallory", "correct horse battery", json!({}))
        .await;
    assert_eq!(login.code(), "INVALID_CREDENTIALS");

    let users: Vec<_> = futures_lite_find(&app, "mallory").await;
    assert!(users.is_empty(), "name and email are erased");
    // The name can be registered again by someone else.
    app.register("mallory").await;
}

async fn futures_lite_find(app: &App, name: &str) -> Vec<UserId> {
    let mut found = Vec::new();
    for login in [name.to_owned(), format!("{name}@example.com")] {
        if let Some(user) = app
            .fixture
            .db
            .find_user_by_login(&login)
            .await
            .expect("lookup")
        {
            found.push(user.id);
        }
    }
    found
}

on_both_engines!(
    setup = setup,
    runtime = (flavor = "multi_thread", worker_threads = 2);
    profile_updates,
    account_deletion,
);
