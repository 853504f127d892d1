//! Sessions: the whole story from registration to logout, refresh rotation and reuse
//! detection, expired and broken tokens, and sessions visible to their owner only.

use super::*;
use crate::support::on_both_engines;
use axum::http::{Method, StatusCode};
use serde_json::json;
use sha2::{Digest, Sha256};
use time::Duration;
use tmcp_domain::user::UserStatus;
use tmcp_domain::Clock;

async fn full_session_story(app: App) {
    let user = app.register("alice").await;
    assert_eq!(user["username"], "alice");
    assert_eq!(user["email"], "alice@example.com");
    assert_eq!(user["phone"], "+15550001111");
    assert!(user.get("password_hash").is_none() && user.get("password").is_none());

    let login = app
        .login_with(
            "ALICE@example.com",
            "correct horse battery",
            json!({"device_name": "Pixel"}),
        )
        .await;
    assert_eq!(login.status, StatusCode::OK, "{}", login.body);
    assert_eq!(login.body["token_type"], "Bearer");
    assert_eq!(login.body["expires_in"], 24 * 3600);
    assert_eq!(login.body["user"]["username"], "alice");
    assert!(login.body["user"]["last_login_at"].is_string());
    assert!(login.headers.contains_key("x-ratelimit-limit"));
    let (session, refresh, session_id) = tokens(&login.body);
    assert!(session.starts_with("st_") && refresh.starts_with("rt_"));

    // Only hashes are stored.
    let found = app
        .fixture
        .db
        .find_live_session_by_token_hash(
            &hex::encode(Sha256::digest(session.as_bytes())),
            app.fixture.clock.now(),
        )
        .await
        .expect("lookup")
        .expect("stored by hash");
    assert_eq!(found.id.to_string(), session_id);
    assert_eq!(found.ip_address.as_deref(), Some("198.51.100.1"));
    assert_eq!(found.user_agent.as_deref(), Some("AccountsTest/1.0"));
    assert_eq!(found.device_name.as_deref(), Some("Pixel"));

    let me = app
        .call(Method::GET, "/api/v1/users/me", Some(&session), None)
        .await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.body);
    assert_eq!(me.body["username"], "alice");
    assert_eq!(me.body["profile"]["language"], "en");

    // Refresh rotates both tokens.
    app.fixture.clock.advance(Duration::minutes(10));
    let rotated = app
        .call(
            Method::POST,
            "/api/v1/auth/refresh",
            None,
            Some(json!({ "refresh_token": refresh })),
        )
        .await;
    assert_eq!(rotated.status, StatusCode::OK, "{}", rotated.body);
    let (session2, refresh2, same_id) = tokens(&rotated.body);
    assert_eq!(same_id, session_id);
    assert_ne!(session2, session);
    assert_ne!(refresh2, refresh);
    assert_invalid_token(
        &app.call(Method::GET, "/api/v1/users/me", Some(&session), None)
            .await,
    );
    let me = app
        .call(Method::GET, "/api/v1/users/me", Some(&session2), None)
        .await;
    assert_eq!(me.status, StatusCode::OK);

    // Reusing the rotated refresh token is theft: 401 and the whole session dies.
    let reuse = app
        .call(
            Method::POST,
            "/api/v1/auth/refresh",
            None,
            Some(json!({ "refresh_token": refresh })),
        )
        .await;
    assert_invalid_token(&reuse);
    assert_invalid_token(
        &app.call(Method::GET, "/api/v1/users/me", Some(&session2), None)
            .await,
    );
    let after = app
        .call(
            Method::POST,
            "/api/v1/auth/refresh",
            None,
            Some(json!({ "refresh_token": refresh2 })),
        )
        .await;
    assert_invalid_token(&after);

    // A new login, then logout ends it.
    let (session3, refresh3, _) = app.login("alice").await;
    let out = app
        .call(Method::POST, "/api/v1/auth/logout", Some(&session3), None)
        .await;
    assert_eq!(out.status, StatusCode::NO_CONTENT, "{}", out.body);
    assert_invalid_token(
        &app.call(Method::GET, "/api/v1/users/me", Some(&session3), None)
            .await,
    );
    assert_invalid_token(
        &app.call(
            Method::POST,
            "/api/v1/auth/refresh",
            None,
            Some(json!({ "refresh_token": refresh3 })),
        )
        .await,
    );
}

async fn bad_tokens_and_expiry(app: App) {
    app.register("bob").await;
    let (session, refresh, _) = app.login("bob").await;
    assert_invalid_token(&app.call(Method::GET, "/api/v1/users/me", None, None).await);
    assert_invalid_token(
        &app.call(Method::GET, "/api/v1/users/me", Some("garbage"), None)
            .await,
    );
    let unknown = format!("st_{}", "A".repeat(43));
    assert_invalid_token(
        &app.call(Method::GET, "/api/v1/users/me", Some(&unknown), None)
            .await,
    );
    // The refresh token is not a bearer for API calls.
    assert_invalid_token(
        &app.call(Method::GET, "/api/v1/users/me", Some(&refresh), None)
            .await,
    );

    // Session tokens expire after 24 h; the refresh token still works for 30 days.
    app.fixture.clock.advance(Duration::hours(25));
    assert_invalid_token(
        &app.call(Method::GET, "/api/v1/users/me", Some(&session), None)
            .await,
    );
    let renewed = app
        .call(
            Method::POST,
            "/api/v1/auth/refresh",
            None,
            Some(json!({ "refresh_token": refresh })),
        )
        .await;
    assert_eq!(renewed.status, StatusCode::OK, "{}", renewed.body);
    let (fresh, _, _) = tokens(&renewed.body);
    assert_eq!(
        app.call(Method::GET, "/api/v1/users/me", Some(&fresh), None)
            .await
            .status,
        StatusCode::OK
    );

    // Suspension closes the door with 403, at the extractor and at login.
    let bob = app
        .fixture
        .db
        .find_user_by_login("bob")
        .await
        .expect("lookup")
        .expect("bob");
    app.fixture
        .db
        .set_user_status(bob.id, UserStatus::Suspended, app.fixture.clock.now())
        .await
        .expect("suspend");
    let suspended = app
        .call(Method::GET, "/api/v1/users/me", Some(&fresh), None)
        .await;
    assert_eq!(suspended.status, StatusCode::FORBIDDEN);
    assert_eq!(suspended.code(), "ACCOUNT_SUSPENDED");
    let login = app
        .login_with("bob", "correct horse battery", json!({}))
        .await;
    assert_eq!(login.status, StatusCode::FORBIDDEN);
    assert_eq!(login.code(), "ACCOUNT_SUSPENDED");
    // A wrong password does not reveal the suspension.
    let wrong = app.login_with("bob", "wrong password!", json!({})).await;
    assert_eq!(wrong.code(), "INVALID_CREDENTIALS");
}

async fn sessions_are_own_only(app: App) {
    app.register("heidi").await;
    app.register("ivan").await;
    let (h1, _, h1_id) = app.login("heidi").await;
    let (h2, _, h2_id) = app.login("heidi").await;
    let (i1, _, i1_id) = app.login("ivan").await;

    let list = app
        .call(Method::GET, "/api/v1/auth/sessions", Some(&h1), None)
        .await;
    assert_eq!(list.status, StatusCode::OK);
    let sessions = list.body["sessions"].as_array().expect("array");
    assert_eq!(sessions.len(), 2);
    let current: Vec<_> = sessions.iter().filter(|s| s["current"] == true).collect();
    assert_eq!(current.len(), 1);
    assert_eq!(current[0]["session_id"], h1_id.as_str());
    assert!(sessions.iter().all(|s| s["session_id"] != i1_id.as_str()));

    let foreign = app
        .call(
            Method::DELETE,
            &format!("/api/v1/auth/sessions/{i1_id}"),
            Some(&h1),
            None,
        )
        .await;
    assert_eq!(foreign.status, StatusCode::NOT_FOUND);
    assert_eq!(
        app.call(Method::GET, "/api/v1/users/me", Some(&i1), None)
            .await
            .status,
        StatusCode::OK
    );
    let malformed = app
        .call(
            Method::DELETE,
            "/api/v1/auth/sessions/not-a-uuid",
            Some(&h1),
            None,
        )
        .await;
    assert_eq!(malformed.status, StatusCode::NOT_FOUND);

    let ended = app
        .call(
            Method::DELETE,
            &format!("/api/v1/auth/sessions/{h2_id}"),
            Some(&h1),
            None,
        )
        .await;
    assert_eq!(ended.status, StatusCode::NO_CONTENT);
    assert_invalid_token(
        &app.call(Method::GET, "/api/v1/users/me", Some(&h2), None)
            .await,
    );
    assert_eq!(
        app.call(Method::GET, "/api/v1/users/me", Some(&h1), None)
            .await
            .status,
        StatusCode::OK
    );
}

on_both_engines!(
    setup = setup,
    runtime = (flavor = "multi_thread", worker_threads = 2);
    full_session_story,
    bad_tokens_and_expiry,
    sessions_are_own_only,
);
