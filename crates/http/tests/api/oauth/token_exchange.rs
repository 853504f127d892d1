//! Token exchange: consented and free scopes only.

use super::*;
use crate::support::on_both_engines;
use crate::support::*;
use axum::http::StatusCode;

async fn token_exchange_grants_consented_and_free_scopes_only(env: Env) {
    let free = env.exchange(PUBLIC, "storage:read storage:write").await;
    assert_eq!(free.status, StatusCode::OK, "{}", free.text());
    let body = free.json();
    assert_eq!(body["scope"], "storage:read storage:write");
    assert_eq!(
        body["issued_token_type"],
        "urn:ietf:params:oauth:token-type:access_token"
    );
    assert!(body.get("refresh_token").is_none());
    let token = body["access_token"].as_str().expect("tep");
    let c = claims(token);
    assert_eq!(c["sub"], env.user.to_string());
    assert!(c["session_id"].as_str().is_some());
    assert_eq!(env.protected(token).await, StatusCode::OK);

    let needs = env
        .exchange(PUBLIC, "storage:read user:read wallet:balance")
        .await;
    assert_eq!(needs.status, StatusCode::FORBIDDEN);
    let body = needs.json();
    assert_eq!(body["error"], "consent_required");
    assert_eq!(
        body["consent_required_scopes"],
        serde_json::json!(["user:read", "wallet:balance"])
    );
    let uri = body["consent_uri"].as_str().unwrap_or("");
    let issuer = env.state.tep.settings().issuer.clone();
    assert!(
        uri.starts_with(&format!("{issuer}/oauth2/authorize?")),
        "{uri}"
    );
    assert_eq!(query_param(uri, "client_id").as_deref(), Some(PUBLIC));
    assert_eq!(
        query_param(uri, "scope").as_deref(),
        Some("storage:read user:read wallet:balance")
    );

    let unregistered = env.exchange(PUBLIC, "wallet:pay").await;
    assert_eq!(unregistered.status, StatusCode::BAD_REQUEST);
    assert_eq!(unregistered.json()["error"], "invalid_scope");
    let unknown = env.exchange(PUBLIC, "storage:read root").await;
    assert_eq!(unknown.json()["error"], "invalid_scope");
    let official = env.exchange(PUBLIC, "analytics:detailed").await;
    assert_eq!(official.json()["error"], "invalid_scope");

    // After the user approves user:read on the consent page, the exchange grants it.
    let (_, challenge) = pkce();
    env.approve(PUBLIC, "user:read", "s", &challenge).await;
    env.tick();
    let granted = env.exchange(PUBLIC, "user:read storage:read").await;
    assert_eq!(granted.status, StatusCode::OK, "{}", granted.text());
    assert_eq!(granted.json()["scope"], "storage:read user:read");
    // Default scope: everything grantable without a prompt.
    let default = env
        .token(&[
            (
                "grant_type",
                "urn:ietf:params:oauth:grant-type:token-exchange",
            ),
            ("client_id", PUBLIC),
            ("subject_token", &env.session),
            (
                "subject_token_type",
                "urn:ietf:params:oauth:token-type:access_token",
            ),
        ])
        .await;
    assert_eq!(
        default.json()["scope"],
        "storage:read storage:write user:read"
    );

    // Bad subject tokens and types.
    let bad = env
        .token(&[
            (
                "grant_type",
                "urn:ietf:params:oauth:grant-type:token-exchange",
            ),
            ("client_id", PUBLIC),
            (
                "subject_token",
                "st_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            ),
            (
                "subject_token_type",
                "urn:ietf:params:oauth:token-type:access_token",
            ),
        ])
        .await;
    assert_eq!(bad.json()["error"], "invalid_grant");
    let wrong_type = env
        .token(&[
            (
                "grant_type",
                "urn:ietf:params:oauth:grant-type:token-exchange",
            ),
            ("client_id", PUBLIC),
            ("subject_token", &env.session),
            (
                "subject_token_type",
                "urn:ietf:params:oauth:token-type:id_token",
            ),
        ])
        .await;
    assert_eq!(wrong_type.json()["error"], "invalid_request");

    // Logging out ends the session and every TEP minted from it.
    let token = granted.json()["access_token"]
        .as_str()
        .expect("tep")
        .to_owned();
    let logout = env
        .json(
            "/api/v1/auth/logout",
            serde_json::json!({}),
            Some(&env.session),
        )
        .await;
    assert!(logout.status.is_success(), "{}", logout.text());
    env.state.tep.forget_all();
    assert_eq!(env.protected(&token).await, StatusCode::UNAUTHORIZED);
}

on_both_engines!(
    setup = Env::new,
    runtime = (flavor = "current_thread");
    token_exchange_grants_consented_and_free_scopes_only,
);
