//! Preconditions (`If-Match`) and last write wins by client timestamp.

use super::*;
use crate::support::on_both_engines;
use axum::http::{Method, StatusCode};
use serde_json::json;
use tmcp_domain::Clock;

// ---------------------------------------------------------------------------------------
// Preconditions and last write wins
// ---------------------------------------------------------------------------------------

async fn if_match_and_client_timestamps(env: Env) {
    let t = token(&env, Some(env.alice), APP, RW).await;
    put(
        &env,
        &t,
        "doc",
        json!({"value": "v1", "client_timestamp": 1_800_000_000}),
    )
    .await;
    let path = "/api/v1/storage/doc";
    let cas = |tag: &'static str, value: &'static str| {
        let state = env.state.clone();
        let t = t.clone();
        async move {
            send(
                &state,
                Method::PUT,
                path,
                Some(&t),
                Some(&json!({"value": value})),
                &[("if-match", tag)],
            )
            .await
        }
    };
    let ok = cas("\"1\"", "v2").await;
    assert_eq!(
        (ok.status, ok.json["version"].clone()),
        (StatusCode::OK, json!(2))
    );
    let stale = cas("\"1\"", "v3").await;
    assert_eq!(stale.status, StatusCode::CONFLICT);
    assert_eq!(stale.code(), "VERSION_CONFLICT");
    assert_eq!(stale.json["error"]["details"]["current_version"], 2);
    let bad = cas("banana", "v3").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    let create_only = send(
        &env.state,
        Method::PUT,
        path,
        Some(&t),
        Some(&json!({"value": 1})),
        &[("if-none-match", "*")],
    )
    .await;
    assert_eq!(create_only.code(), "VERSION_CONFLICT");
    let del = send(
        &env.state,
        Method::DELETE,
        path,
        Some(&t),
        None,
        &[("if-match", "\"1\"")],
    )
    .await;
    assert_eq!(del.code(), "VERSION_CONFLICT");

    // The last write (v2) carried no client timestamp: it is dated by the server clock
    // (2026-11-25). An offline write from 2026-01-01 loses; nothing changes.
    let older = put(
        &env,
        &t,
        "doc",
        json!({"value": "offline", "client_timestamp": 1_767_225_600}),
    )
    .await;
    assert_eq!(older.status, StatusCode::OK);
    assert_eq!(older.json["conflict_detected"], true);
    assert_eq!(older.json["resolution"], "server_wins");
    assert_eq!(older.json["server_value"], "v2");
    assert_eq!(older.json["version"], 2);
    let read = get(&env, &t, path).await;
    assert_eq!(
        (read.json["value"].clone(), read.json["version"].clone()),
        (json!("v2"), json!(2))
    );
    // A newer client write wins, and later ones are compared with it.
    let now = env.fixture.clock.now().unix_timestamp();
    let newer = put(
        &env,
        &t,
        "doc",
        json!({"value": "newer", "client_timestamp": now + 10}),
    )
    .await;
    assert_eq!(
        (
            newer.json["conflict_detected"].clone(),
            newer.json["version"].clone()
        ),
        (json!(false), json!(3))
    );
    let between = put(
        &env,
        &t,
        "doc",
        json!({"value": "between", "client_timestamp": now + 5}),
    )
    .await;
    assert_eq!(between.json["conflict_detected"], true);
    let bad_ts = put(
        &env,
        &t,
        "doc",
        json!({"value": 1, "client_timestamp": "yesterday"}),
    )
    .await;
    assert_eq!(bad_ts.status, StatusCode::UNPROCESSABLE_ENTITY);
}

on_both_engines!(
    setup = setup,
    runtime = (flavor = "multi_thread", worker_threads = 4);
    if_match_and_client_timestamps,
);
