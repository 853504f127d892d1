//! Tenancy and scopes: other users, other apps and missing scopes see nothing.

use super::*;
use crate::support::on_both_engines;
use axum::http::{Method, StatusCode};
use serde_json::{json, Value};

// ---------------------------------------------------------------------------------------
// Tenancy and scopes
// ---------------------------------------------------------------------------------------

async fn other_users_apps_and_scopes_see_nothing(env: Env) {
    let alice = token(&env, Some(env.alice), APP, RW).await;
    let bob = token(&env, Some(env.bob), APP, RW).await;
    let alice_other_app = token(&env, Some(env.alice), OTHER_APP, RW).await;
    let read_only = token(&env, Some(env.alice), APP, "storage:read").await;
    let write_only = token(&env, Some(env.alice), APP, "storage:write").await;
    let no_storage = token(&env, Some(env.alice), APP, "user:read").await;
    let app_backend = token(&env, None, APP, RW).await;

    put(&env, &alice, "secret", json!({"value": "alice's"})).await;
    let push = post(
        &env,
        &alice,
        "/api/v1/storage/sync/push",
        json!({"strategy": "manual",
        "operations": [{"op_id": "o1", "type": "set", "key": "secret", "value": "x",
                        "client_timestamp": 1, "base_version": 0}]}),
    )
    .await;
    let conflict_id = push.json["results"][0]["conflict_id"]
        .as_str()
        .expect("conflict")
        .to_owned();

    for (who, t) in [("bob", &bob), ("other app", &alice_other_app)] {
        assert_eq!(
            get(&env, t, "/api/v1/storage/secret").await.code(),
            "KEY_NOT_FOUND",
            "{who}"
        );
        let list = get(&env, t, "/api/v1/storage").await;
        assert_eq!(list.json["items"], json!([]), "{who}");
        let batch = post(
            &env,
            t,
            "/api/v1/storage/batch/get",
            json!({"keys": ["secret"]}),
        )
        .await;
        assert_eq!(batch.json["missing"], json!(["secret"]), "{who}");
        let pull = post(&env, t, "/api/v1/storage/sync/pull", json!({})).await;
        assert_eq!(pull.json["changes"], json!([]), "{who}");
        let conflicts = get(&env, t, "/api/v1/storage/conflicts?status=all").await;
        assert_eq!(conflicts.json["conflicts"], json!([]), "{who}");
        let resolve = post(
            &env,
            t,
            &format!("/api/v1/storage/conflicts/{conflict_id}/resolve"),
            json!({"resolution": "local"}),
        )
        .await;
        assert_eq!(resolve.status, StatusCode::NOT_FOUND, "{who}");
        let quota = get(&env, t, "/api/v1/storage/quota").await;
        assert_eq!(quota.json["used_bytes"], 0, "{who}");
        let del = delete(&env, t, "secret").await;
        assert_eq!(del.json["deleted"], false, "{who}");
        let over = put(&env, t, "secret", json!({"value": "overwritten?"})).await;
        assert_eq!(over.status, StatusCode::CREATED, "{who} writes its own key");
    }
    let mine = get(&env, &alice, "/api/v1/storage/secret").await;
    assert_eq!(
        (mine.json["value"].clone(), mine.json["version"].clone()),
        (json!("alice's"), json!(1))
    );

    let writes: Vec<(Method, &str, Option<Value>)> = vec![
        (Method::PUT, "/api/v1/storage/k", Some(json!({"value": 1}))),
        (Method::DELETE, "/api/v1/storage/k", None),
        (Method::POST, "/api/v1/storage/batch/set", Some(json!({"items": [{"key": "k", "value": 1}]}))),
        (Method::POST, "/api/v1/storage/batch/delete", Some(json!({"keys": ["k"]}))),
        (Method::POST, "/api/v1/storage/sync/push", Some(json!({"operations": [{"op_id": "z", "type": "delete", "key": "k", "client_timestamp": 1}]}))),
        (Method::POST, &format!("/api/v1/storage/conflicts/{conflict_id}/resolve"), Some(json!({"resolution": "remote"}))),
    ]
    .into_iter()
    .map(|(m, p, b)| (m, Box::leak(p.to_owned().into_boxed_str()) as &str, b))
    .collect();
    let reads: Vec<(Method, &str, Option<Value>)> = vec![
        (Method::GET, "/api/v1/storage/secret", None),
        (Method::GET, "/api/v1/storage", None),
        (Method::GET, "/api/v1/storage/quota", None),
        (
            Method::POST,
            "/api/v1/storage/batch/get",
            Some(json!({"keys": ["secret"]})),
        ),
        (Method::POST, "/api/v1/storage/sync/pull", Some(json!({}))),
        (Method::GET, "/api/v1/storage/sync/status", None),
        (Method::GET, "/api/v1/storage/conflicts", None),
    ];
    let check = |reply: Reply, scope: &str, what: &str| {
        assert_eq!(
            reply.status,
            StatusCode::FORBIDDEN,
            "{what}: {}",
            reply.json
        );
        assert_eq!(reply.code(), "INSUFFICIENT_PERMISSIONS", "{what}");
        assert_eq!(
            reply.json["error"]["details"]["required_scope"], scope,
            "{what}"
        );
    };
    for (method, path, body) in &writes {
        for t in [&read_only, &no_storage] {
            let reply = send(
                &env.state,
                method.clone(),
                path,
                Some(t),
                body.as_ref(),
                &[],
            )
            .await;
            check(reply, "storage:write", path);
        }
        let reply = send(
            &env.state,
            method.clone(),
            path,
            Some(&app_backend),
            body.as_ref(),
            &[],
        )
        .await;
        assert_eq!(
            reply.status,
            StatusCode::FORBIDDEN,
            "app-backend token on {path}"
        );
        let reply = send(&env.state, method.clone(), path, None, body.as_ref(), &[]).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
        assert_eq!(reply.code(), "INVALID_TOKEN");
    }
    for (method, path, body) in &reads {
        for t in [&write_only, &no_storage] {
            let reply = send(
                &env.state,
                method.clone(),
                path,
                Some(t),
                body.as_ref(),
                &[],
            )
            .await;
            check(reply, "storage:read", path);
        }
        let reply = send(&env.state, method.clone(), path, None, body.as_ref(), &[]).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    }
    // Nothing of Alice's changed through any of that.
    let mine = get(&env, &alice, "/api/v1/storage/secret").await;
    assert_eq!(mine.json["version"], 1);
    let conflicts = get(&env, &alice, "/api/v1/storage/conflicts").await;
    assert_eq!(conflicts.json["conflicts"][0]["status"], "pending");
}

on_both_engines!(
    setup = setup,
    runtime = (flavor = "multi_thread", worker_threads = 4);
    other_users_apps_and_scopes_see_nothing,
);
