//! Client credentials: for confidential clients only, and guessing secrets meets 429.

use super::*;
use crate::support::on_both_engines;
use crate::support::*;
use axum::http::StatusCode;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;

async fn client_credentials_are_for_confidential_clients(env: Env) {
    let basic = format!(
        "Basic {}",
        STANDARD.encode(format!("{BACKEND}:{}", env.backend_secret))
    );
    let issued = env
        .form(
            "/oauth2/token",
            &[("grant_type", "client_credentials")],
            &[],
            &[("authorization", basic.as_str())],
        )
        .await;
    assert_eq!(issued.status, StatusCode::OK, "{}", issued.text());
    let body = issued.json();
    assert_eq!(body["scope"], "webhook:send");
    assert!(body.get("user_id").is_none() && body.get("refresh_token").is_none());
    let c = claims(body["access_token"].as_str().expect("tep"));
    assert_eq!(c["sub"], BACKEND);
    assert_eq!(
        env.protected(body["access_token"].as_str().unwrap_or(""))
            .await,
        StatusCode::OK
    );

    let post = env
        .token(&[
            ("grant_type", "client_credentials"),
            ("client_id", BACKEND),
            ("client_secret", &env.backend_secret),
            ("scope", "webhook:send"),
        ])
        .await;
    assert_eq!(post.status, StatusCode::OK);
    let user_scope = env
        .token(&[
            ("grant_type", "client_credentials"),
            ("client_id", BACKEND),
            ("client_secret", &env.backend_secret),
            ("scope", "user:read"),
        ])
        .await;
    assert_eq!(user_scope.json()["error"], "invalid_scope");
    let public = env
        .token(&[("grant_type", "client_credentials"), ("client_id", PUBLIC)])
        .await;
    assert_eq!(public.json()["error"], "unauthorized_client");

    let wrong = format!("Basic {}", STANDARD.encode(format!("{BACKEND}:cs_wrong")));
    let refused = env
        .form(
            "/oauth2/token",
            &[("grant_type", "client_credentials")],
            &[],
            &[("authorization", wrong.as_str())],
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    assert_eq!(refused.json()["error"], "invalid_client");
    assert!(refused
        .header("www-authenticate")
        .unwrap_or_default()
        .starts_with("Basic"));
    let missing = env
        .token(&[("grant_type", "client_credentials"), ("client_id", BACKEND)])
        .await;
    assert_eq!(missing.status, StatusCode::UNAUTHORIZED);
    let both = env
        .form(
            "/oauth2/token",
            &[
                ("grant_type", "client_credentials"),
                ("client_secret", &env.backend_secret),
            ],
            &[],
            &[("authorization", basic.as_str())],
        )
        .await;
    assert_eq!(both.json()["error"], "invalid_request");
    let public_with_secret = env
        .token(&[
            ("grant_type", "client_credentials"),
            ("client_id", PUBLIC),
            ("client_secret", "cs_guess"),
        ])
        .await;
    assert_eq!(public_with_secret.status, StatusCode::UNAUTHORIZED);
}

async fn brute_force_on_the_token_endpoint_reaches_429(env: Env) {
    // The bucket refills in real time (one request per 2 s), so on a slow machine a few more
    // than 30 guesses may pass; what matters is that the 31st is never reached for free
    // and that the refusal comes.
    let mut last = None;
    for attempt in 0..60 {
        let guess = format!("cs_guess_{attempt}");
        let reply = env
            .token(&[
                ("grant_type", "client_credentials"),
                ("client_id", BACKEND),
                ("client_secret", &guess),
            ])
            .await;
        if attempt < 30 {
            assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "attempt {attempt}");
            assert!(reply.header("x-ratelimit-remaining").is_some());
        }
        let refused = reply.status == StatusCode::TOO_MANY_REQUESTS;
        last = Some(reply);
        if refused {
            break;
        }
    }
    let last = last.expect("replies");
    assert_eq!(last.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(last.json()["error"], "rate_limit_exceeded");
    assert!(last.header("retry-after").is_some());
    assert_eq!(last.header("x-ratelimit-limit").as_deref(), Some("30"));
    // Even the right secret is refused now.
    let right = env
        .token(&[
            ("grant_type", "client_credentials"),
            ("client_id", BACKEND),
            ("client_secret", &env.backend_secret),
        ])
        .await;
    assert_eq!(right.status, StatusCode::TOO_MANY_REQUESTS);
    // Other clients are not affected.
    let other = env.exchange(PUBLIC, "storage:read").await;
    assert_eq!(other.status, StatusCode::OK);
}

on_both_engines!(
    setup = Env::new,
    runtime = (flavor = "current_thread");
    client_credentials_are_for_confidential_clients,
    brute_force_on_the_token_endpoint_reaches_429,
);
