//! Refresh tokens rotate; a reused one revokes the grant.

use crate::support::on_both_engines;
use crate::support::*;
use axum::http::StatusCode;

async fn refresh_tokens_rotate_and_reuse_revokes_the_grant(env: Env) {
    let first = env.tokens("storage:read user:read").await;
    let r1 = first["refresh_token"].as_str().expect("refresh").to_owned();
    let a1 = first["access_token"].as_str().expect("access").to_owned();

    // Escalation is refused and does not spend the token.
    let escalate = env
        .token(&[
            ("grant_type", "refresh_token"),
            ("client_id", PUBLIC),
            ("refresh_token", &r1),
            ("scope", "storage:read user:read wallet:balance"),
        ])
        .await;
    assert_eq!(escalate.json()["error"], "invalid_scope");
    let foreign = env
        .form(
            "/oauth2/token",
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &r1),
                ("client_id", BACKEND),
                ("client_secret", &env.backend_secret),
            ],
            &[],
            &[],
        )
        .await;
    assert_eq!(foreign.json()["error"], "invalid_grant");

    env.tick();
    let narrower = env
        .token(&[
            ("grant_type", "refresh_token"),
            ("client_id", PUBLIC),
            ("refresh_token", &r1),
            ("scope", "storage:read"),
        ])
        .await;
    assert_eq!(narrower.status, StatusCode::OK, "{}", narrower.text());
    let second = narrower.json();
    assert_eq!(second["scope"], "storage:read");
    let r2 = second["refresh_token"]
        .as_str()
        .expect("refresh")
        .to_owned();
    let a2 = second["access_token"].as_str().expect("access").to_owned();
    assert_ne!(r1, r2);
    assert_eq!(env.protected(&a2).await, StatusCode::OK);

    // The new refresh token still carries the original scopes.
    env.tick();
    let third = env
        .token(&[
            ("grant_type", "refresh_token"),
            ("client_id", PUBLIC),
            ("refresh_token", &r2),
        ])
        .await;
    assert_eq!(third.json()["scope"], "storage:read user:read");
    let r3 = third.json()["refresh_token"]
        .as_str()
        .expect("refresh")
        .to_owned();

    // Replaying r1 (already rotated): theft. Every token of the grant dies.
    let replay = env
        .token(&[
            ("grant_type", "refresh_token"),
            ("client_id", PUBLIC),
            ("refresh_token", &r1),
        ])
        .await;
    assert_eq!(replay.status, StatusCode::BAD_REQUEST);
    assert_eq!(replay.json()["error"], "invalid_grant");
    for access in [&a1, &a2] {
        assert_eq!(env.protected(access).await, StatusCode::UNAUTHORIZED);
    }
    let after = env
        .token(&[
            ("grant_type", "refresh_token"),
            ("client_id", PUBLIC),
            ("refresh_token", &r3),
        ])
        .await;
    assert_eq!(after.json()["error"], "invalid_grant");
}

on_both_engines!(
    setup = Env::new,
    runtime = (flavor = "current_thread");
    refresh_tokens_rotate_and_reuse_revokes_the_grant,
);
