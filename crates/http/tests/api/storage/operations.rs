//! Rate limits, several instances on one database, uninstall and the OpenAPI document.

use super::*;
use crate::support::on_both_engines;
use axum::http::{Method, StatusCode};
use serde_json::json;
use std::sync::Arc;
use tmcp_domain::AppId;

// ---------------------------------------------------------------------------------------
// Rate limits, instances, uninstall, OpenAPI
// ---------------------------------------------------------------------------------------

async fn rate_limits_per_user_and_app(env: Env) {
    let mut env = env;
    std::sync::Arc::make_mut(&mut env.state.settings).storage =
        tmcp_http::services::storage::StorageSettings::default();
    let t = token(&env, Some(env.alice), APP, RW).await;
    let first = get(&env, &t, "/api/v1/storage/quota").await;
    assert_eq!(first.status, StatusCode::OK);
    assert_eq!(first.headers["x-ratelimit-limit"], "100");
    assert!(first.headers.contains_key("x-ratelimit-remaining"));
    assert!(first.headers.contains_key("x-ratelimit-reset"));
    let missing = get(&env, &t, "/api/v1/storage/nothing").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert!(
        missing.headers.contains_key("x-ratelimit-remaining"),
        "errors carry the headers too"
    );
    let mut limited = None;
    for _ in 0..40 {
        let reply = get(&env, &t, "/api/v1/storage/quota").await;
        if reply.status == StatusCode::TOO_MANY_REQUESTS {
            limited = Some(reply);
            break;
        }
    }
    let limited = limited.expect("a burst of 20 runs out");
    assert_eq!(limited.code(), "RATE_LIMIT_EXCEEDED");
    assert!(limited.headers.contains_key("retry-after"));
    assert_eq!(limited.json["error"]["details"]["limit"], 100);
    // Another app of the same user, and another user, have their own buckets.
    let other = token(&env, Some(env.alice), OTHER_APP, RW).await;
    assert_eq!(
        get(&env, &other, "/api/v1/storage/quota").await.status,
        StatusCode::OK
    );
    let bob = token(&env, Some(env.bob), APP, RW).await;
    assert_eq!(
        get(&env, &bob, "/api/v1/storage/quota").await.status,
        StatusCode::OK
    );
    // Batches have their own, smaller bucket.
    let mut batch_statuses = Vec::new();
    for _ in 0..12 {
        let reply = post(
            &env,
            &bob,
            "/api/v1/storage/batch/get",
            json!({"keys": ["a"]}),
        )
        .await;
        batch_statuses.push(reply.status);
    }
    assert!(
        batch_statuses[..10].iter().all(|s| *s == StatusCode::OK),
        "{batch_statuses:?}"
    );
    assert_eq!(batch_statuses[11], StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        get(&env, &bob, "/api/v1/storage/quota").await.status,
        StatusCode::OK,
        "single-key bucket untouched"
    );
}

async fn every_instance_reads_the_acknowledged_write(env: Env) {
    // Two server instances on one database (each with its own process state): a write
    // acknowledged by one is what the other returns next. Storage reads are never cached.
    let second = {
        let mut state = env.state.clone();
        state.limiter = Arc::new(tmcp_http::ratelimit::RateLimiter::new(None, "second"));
        state
    };
    let t = token(&env, Some(env.alice), APP, RW).await;
    for round in 0..5 {
        let value = format!("round {round}");
        let written = put(&env, &t, "counter", json!({"value": value})).await;
        assert!(written.status.is_success());
        let read = send(
            &second,
            Method::GET,
            "/api/v1/storage/counter",
            Some(&t),
            None,
            &[],
        )
        .await;
        assert_eq!(read.json["value"], value.as_str());
        assert_eq!(read.json["version"], round + 1);
    }
}

async fn uninstall_deletes_the_apps_storage(env: Env) {
    let t = token(&env, Some(env.alice), APP, RW).await;
    let other = token(&env, Some(env.alice), OTHER_APP, RW).await;
    for key in ["a", "b", "c"] {
        put(&env, &t, key, json!({"value": key})).await;
    }
    put(&env, &other, "a", json!({"value": "other app"})).await;
    let pulled = post(&env, &t, "/api/v1/storage/sync/pull", json!({})).await;
    let cursor = pulled.json["next_cursor"]
        .as_str()
        .expect("cursor")
        .to_owned();
    let app = AppId::parse(APP).expect("app");
    let deleted = tmcp_http::services::storage::delete_all_for_app(&env.state, env.alice, &app)
        .await
        .expect("deleted");
    assert_eq!(deleted, 3);
    let quota = get(&env, &t, "/api/v1/storage/quota").await;
    assert_eq!(
        (
            quota.json["used_bytes"].clone(),
            quota.json["used_keys"].clone()
        ),
        (json!(0), json!(0))
    );
    assert_eq!(
        get(&env, &t, "/api/v1/storage/a").await.code(),
        "KEY_NOT_FOUND"
    );
    assert_eq!(
        get(&env, &other, "/api/v1/storage/a").await.json["value"],
        "other app"
    );
    let after = post(
        &env,
        &t,
        "/api/v1/storage/sync/pull",
        json!({"cursor": cursor}),
    )
    .await;
    assert_eq!(
        after.json["full_resync"], true,
        "clients must drop their copy"
    );
}

async fn openapi_lists_the_storage_routes(env: Env) {
    let reply = send(&env.state, Method::GET, "/openapi.json", None, None, &[]).await;
    let paths = &reply.json["paths"];
    for path in [
        "/api/v1/storage",
        "/api/v1/storage/{key}",
        "/api/v1/storage/quota",
        "/api/v1/storage/batch/get",
        "/api/v1/storage/batch/set",
        "/api/v1/storage/batch/delete",
        "/api/v1/storage/sync/push",
        "/api/v1/storage/sync/pull",
        "/api/v1/storage/sync/status",
        "/api/v1/storage/conflicts",
        "/api/v1/storage/conflicts/{id}/resolve",
    ] {
        assert!(
            paths.get(path).is_some(),
            "{path} missing from the OpenAPI document"
        );
    }
    assert!(paths["/api/v1/storage/{key}"]["put"]["responses"]
        .get("413")
        .is_some());
    assert_eq!(
        reply.json["components"]["securitySchemes"]["tep"]["scheme"],
        "bearer"
    );
}

on_both_engines!(
    setup = setup,
    runtime = (flavor = "multi_thread", worker_threads = 4);
    rate_limits_per_user_and_app,
    every_instance_reads_the_acknowledged_write,
    uninstall_deletes_the_apps_storage,
    openapi_lists_the_storage_routes,
);
