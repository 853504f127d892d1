//! Withdrawing a grant or an app ends its tokens (and queues the webhook).

use crate::support::on_both_engines;
use crate::support::*;
use axum::http::StatusCode;

async fn withdrawing_a_grant_kills_its_tokens_and_queues_a_webhook(env: Env) {
    let tokens = env.tokens("storage:read user:read wallet:balance").await;
    let access = tokens["access_token"].as_str().expect("access").to_owned();
    let refresh = tokens["refresh_token"]
        .as_str()
        .expect("refresh")
        .to_owned();
    env.tick();
    let exchanged = env.exchange(PUBLIC, "user:read").await.json();
    let exchanged = exchanged["access_token"].as_str().expect("tep").to_owned();
    assert_eq!(env.protected(&access).await, StatusCode::OK);
    assert_eq!(env.protected(&exchanged).await, StatusCode::OK);

    env.tick();
    let withdraw = env
        .json(
            "/api/v1/auth/revoke",
            serde_json::json!({"client_id": PUBLIC, "scopes": ["wallet:balance"]}),
            Some(&env.session),
        )
        .await;
    assert_eq!(withdraw.status, StatusCode::OK, "{}", withdraw.text());
    assert_eq!(
        withdraw.json()["revoked_scopes"],
        serde_json::json!(["wallet:balance"])
    );
    assert_eq!(
        withdraw.json()["remaining_scopes"],
        serde_json::json!(["storage:read", "user:read"])
    );
    assert_eq!(withdraw.json()["tokens_revoked"], 2);
    assert_eq!(withdraw.json()["refresh_tokens_revoked"], 1);
    assert_eq!(env.protected(&access).await, StatusCode::UNAUTHORIZED);
    assert_eq!(env.protected(&exchanged).await, StatusCode::UNAUTHORIZED);
    let refreshed = env
        .token(&[
            ("grant_type", "refresh_token"),
            ("client_id", PUBLIC),
            ("refresh_token", &refresh),
        ])
        .await;
    assert_eq!(refreshed.json()["error"], "invalid_grant");
    let events = env
        .state
        .db
        .pending_outbox_events(10)
        .await
        .expect("outbox");
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].event, "scope.revoked");
    assert_eq!(events[0].app_id, PUBLIC);
    assert_eq!(
        events[0].payload["scopes"],
        serde_json::json!(["wallet:balance"])
    );
    assert_eq!(events[0].payload["user_id"], env.user.to_string());

    // What remains can be obtained again; the withdrawn scope needs consent again.
    env.tick();
    assert_eq!(
        env.exchange(PUBLIC, "user:read").await.status,
        StatusCode::OK
    );
    assert_eq!(
        env.exchange(PUBLIC, "wallet:balance").await.json()["error"],
        "consent_required"
    );

    env.tick();
    let all = env
        .json(
            "/api/v1/auth/revoke",
            serde_json::json!({"client_id": PUBLIC}),
            Some(&env.session),
        )
        .await;
    assert_eq!(all.status, StatusCode::OK);
    assert_eq!(
        env.exchange(PUBLIC, "user:read").await.json()["error"],
        "consent_required"
    );
    assert_eq!(
        all.json()["revoked_scopes"],
        serde_json::json!(["storage:read", "user:read"])
    );
    assert_eq!(all.json()["tokens_revoked"], 1);
    // An app the user never used: nothing to revoke, still a success (no webhook).
    let never = env
        .json(
            "/api/v1/auth/revoke",
            serde_json::json!({"client_id": BACKEND}),
            Some(&env.session),
        )
        .await;
    assert_eq!(never.status, StatusCode::OK, "{}", never.text());
    assert_eq!(never.json()["revoked_scopes"], serde_json::json!([]));
    assert_eq!(never.json()["tokens_revoked"], 0);
    assert_eq!(never.json()["refresh_tokens_revoked"], 0);
    let unknown = env
        .json(
            "/api/v1/auth/revoke",
            serde_json::json!({"client_id": "ma_no_such_app"}),
            Some(&env.session),
        )
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert_eq!(unknown.json()["error"]["code"], "NOT_FOUND");
    let events = env
        .state
        .db
        .pending_outbox_events(10)
        .await
        .expect("outbox");
    assert_eq!(
        events.len(),
        2,
        "one event per withdrawal that revoked something"
    );
    let anonymous = env
        .json(
            "/api/v1/auth/revoke",
            serde_json::json!({"client_id": PUBLIC}),
            None,
        )
        .await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    let bad = env
        .json(
            "/api/v1/auth/revoke",
            serde_json::json!({"client_id": PUBLIC, "scopes": ["root"]}),
            Some(&env.session),
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
}

/// Issue 7: `storage:read`/`storage:write` are granted without a consent row, and the user
/// could not cut such an app off (404, and its TEP kept working).
async fn withdrawing_an_app_with_only_pre_approved_scopes_ends_its_tokens(env: Env) {
    let exchanged = env.exchange(PUBLIC, "storage:read storage:write").await;
    assert_eq!(exchanged.status, StatusCode::OK, "{}", exchanged.text());
    let tep = exchanged.json()["access_token"]
        .as_str()
        .expect("tep")
        .to_owned();
    // Another instance has already validated the TEP, so its liveness cache holds "live".
    let other = env
        .other_instance(std::time::Duration::from_millis(300))
        .await;
    assert_eq!(protected_on(&other, &tep).await, StatusCode::OK);
    assert_eq!(env.protected(&tep).await, StatusCode::OK);
    assert_eq!(
        env.state
            .db
            .find_consent(env.user, PUBLIC)
            .await
            .expect("find"),
        None,
        "pre-approved scopes leave no consent row"
    );

    env.tick();
    let withdraw = env
        .json(
            "/api/v1/auth/revoke",
            serde_json::json!({"client_id": PUBLIC}),
            Some(&env.session),
        )
        .await;
    assert_eq!(withdraw.status, StatusCode::OK, "{}", withdraw.text());
    let body = withdraw.json();
    assert_eq!(body["client_id"], PUBLIC);
    assert_eq!(
        body["revoked_scopes"],
        serde_json::json!(["storage:read", "storage:write"])
    );
    assert_eq!(body["remaining_scopes"], serde_json::json!([]));
    assert_eq!(body["tokens_revoked"], 1);
    assert_eq!(body["refresh_tokens_revoked"], 0);
    assert!(body["revoked_at"].as_str().is_some());
    // This instance refuses at once; the other within its liveness cache time.
    assert_eq!(env.protected(&tep).await, StatusCode::UNAUTHORIZED);
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    assert_eq!(protected_on(&other, &tep).await, StatusCode::UNAUTHORIZED);
    let events = env
        .state
        .db
        .pending_outbox_events(10)
        .await
        .expect("outbox");
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].event, "scope.revoked");
    assert_eq!(events[0].app_id, PUBLIC);
    assert_eq!(events[0].payload["user_id"], env.user.to_string());
    assert_eq!(
        events[0].payload["scopes"],
        serde_json::json!(["storage:read", "storage:write"])
    );

    // A refresh token for pre-approved scopes (code flow, no prompt) dies the same way.
    env.tick();
    let tokens = env.tokens("storage:read").await;
    let access = tokens["access_token"].as_str().expect("access").to_owned();
    let refresh = tokens["refresh_token"]
        .as_str()
        .expect("refresh")
        .to_owned();
    assert_eq!(env.protected(&access).await, StatusCode::OK);
    env.tick();
    let again = env
        .json(
            "/api/v1/auth/revoke",
            serde_json::json!({"client_id": PUBLIC}),
            Some(&env.session),
        )
        .await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.text());
    assert_eq!(
        again.json()["revoked_scopes"],
        serde_json::json!(["storage:read"])
    );
    assert_eq!(again.json()["tokens_revoked"], 1);
    assert_eq!(again.json()["refresh_tokens_revoked"], 1);
    assert_eq!(env.protected(&access).await, StatusCode::UNAUTHORIZED);
    let refreshed = env
        .token(&[
            ("grant_type", "refresh_token"),
            ("client_id", PUBLIC),
            ("refresh_token", &refresh),
        ])
        .await;
    assert_eq!(refreshed.status, StatusCode::BAD_REQUEST);
    assert_eq!(refreshed.json()["error"], "invalid_grant");
    assert_eq!(
        env.state
            .db
            .pending_outbox_events(10)
            .await
            .expect("outbox")
            .len(),
        2
    );

    // Nothing left: a repeated withdrawal succeeds with nothing revoked and tells no one.
    let nothing = env
        .json(
            "/api/v1/auth/revoke",
            serde_json::json!({"client_id": PUBLIC}),
            Some(&env.session),
        )
        .await;
    assert_eq!(nothing.status, StatusCode::OK);
    assert_eq!(nothing.json()["tokens_revoked"], 0);
    assert_eq!(nothing.json()["refresh_tokens_revoked"], 0);
    assert_eq!(
        env.state
            .db
            .pending_outbox_events(10)
            .await
            .expect("outbox")
            .len(),
        2
    );

    // Opening the app again (the host app exchanges the user's session) works as before.
    env.tick();
    let reopened = env.exchange(PUBLIC, "storage:read").await;
    assert_eq!(reopened.status, StatusCode::OK, "{}", reopened.text());
    let fresh = reopened.json()["access_token"]
        .as_str()
        .expect("tep")
        .to_owned();
    assert_eq!(env.protected(&fresh).await, StatusCode::OK);
}

on_both_engines!(
    setup = Env::new,
    runtime = (flavor = "current_thread");
    withdrawing_a_grant_kills_its_tokens_and_queues_a_webhook,
    withdrawing_an_app_with_only_pre_approved_scopes_ends_its_tokens,
);
