//! Offline sync over HTTP: push, pull, status and conflicts with every strategy.

use super::*;
use crate::support::on_both_engines;
use axum::http::{Method, StatusCode};
use serde_json::{json, Value};
use tmcp_domain::Clock;

// ---------------------------------------------------------------------------------------
// Offline sync over HTTP
// ---------------------------------------------------------------------------------------

async fn sync_push_pull_status_and_conflicts(env: Env) {
    let t = token(&env, Some(env.alice), APP, RW).await;
    let now = env.fixture.clock.now().unix_timestamp();
    put(
        &env,
        &t,
        "doc",
        json!({"value": "server", "client_timestamp": now}),
    )
    .await;
    let first = post(&env, &t, "/api/v1/storage/sync/pull", json!({})).await;
    assert_eq!(first.json["full_resync"], true);
    let cursor = first.json["next_cursor"]
        .as_str()
        .expect("cursor")
        .to_owned();

    let push = |body: Value| {
        let state = env.state.clone();
        let t = t.clone();
        async move {
            send(
                &state,
                Method::POST,
                "/api/v1/storage/sync/push",
                Some(&t),
                Some(&body),
                &[],
            )
            .await
        }
    };
    // last_write_wins (default): older loses, newer applies; replays answer the same.
    let ops = json!({"operations": [
        {"op_id": "a1", "type": "set", "key": "doc", "value": "old", "client_timestamp": now - 60},
        {"op_id": "a2", "type": "set", "key": "new", "value": {"n": 1}, "client_timestamp": now, "base_version": 0},
        {"op_id": "a3", "type": "set", "key": "", "value": 1, "client_timestamp": now},
        {"op_id": "a4", "type": "delete", "key": "doc", "client_timestamp": now + 60, "base_version": 1}
    ]});
    let reply = push(ops.clone()).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.json);
    let results = reply.json["results"].as_array().expect("results").clone();
    assert_eq!(results[0]["status"], "conflict");
    assert_eq!(results[0]["resolution"], "server_wins");
    assert_eq!(results[0]["server_value"], "server");
    assert_eq!(
        (results[1]["status"].clone(), results[1]["version"].clone()),
        (json!("applied"), json!(1))
    );
    assert_eq!(results[2]["status"], "rejected");
    assert_eq!(results[2]["error"]["code"], "VALIDATION_FAILED");
    assert_eq!(
        (results[3]["status"].clone(), results[3]["version"].clone()),
        (json!("applied"), Value::Null)
    );
    let replay = push(ops).await;
    for (i, (a, b)) in results
        .iter()
        .zip(replay.json["results"].as_array().expect("results"))
        .enumerate()
    {
        let mut a = a.clone();
        let mut b = b.clone();
        if i != 2 {
            assert_eq!(b["replayed"], true, "op {i}");
        }
        a["replayed"] = Value::Null;
        b["replayed"] = Value::Null;
        assert_eq!(a, b, "op {i} replays its first result");
    }
    // Pull since the first cursor: the new key and the deletion.
    let pulled = post(
        &env,
        &t,
        "/api/v1/storage/sync/pull",
        json!({"cursor": cursor}),
    )
    .await;
    assert_eq!(pulled.json["full_resync"], false);
    let changes = pulled.json["changes"].as_array().expect("changes");
    let summary: Vec<(String, String)> = changes
        .iter()
        .map(|c| {
            (
                c["key"].as_str().unwrap_or("").to_owned(),
                c["operation"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("new".to_owned(), "set".to_owned()),
            ("doc".to_owned(), "delete".to_owned())
        ]
    );
    assert_eq!(changes[0]["value"], json!({"n": 1}));
    assert!(changes[1]["deleted_at"].is_string());

    // remote_wins and local_wins against a stale base version.
    put(&env, &t, "shared", json!({"value": "server"})).await;
    let remote = push(json!({"strategy": "remote_wins", "operations": [
        {"op_id": "r1", "type": "set", "key": "shared", "value": "mine", "client_timestamp": now + 100, "base_version": 0}]})).await;
    assert_eq!(remote.json["results"][0]["status"], "conflict");
    let local = push(json!({"strategy": "local_wins", "operations": [
        {"op_id": "l1", "type": "set", "key": "shared", "value": "mine", "client_timestamp": now - 100, "base_version": 0}]})).await;
    assert_eq!(
        (
            local.json["results"][0]["status"].clone(),
            local.json["results"][0]["version"].clone()
        ),
        (json!("applied"), json!(2))
    );

    // manual: a conflict row, nothing changes until resolved.
    let manual = push(json!({"strategy": "manual", "operations": [
        {"op_id": "m1", "type": "set", "key": "shared", "value_base64": "AAEC", "client_timestamp": now, "base_version": 1}]})).await;
    let m = &manual.json["results"][0];
    assert_eq!(
        (m["status"].clone(), m["resolution"].clone()),
        (json!("conflict"), json!("manual"))
    );
    let conflict_id = m["conflict_id"].as_str().expect("id").to_owned();
    let status = get(&env, &t, "/api/v1/storage/sync/status").await;
    assert_eq!(status.json["pending_operations"], 1);
    assert_eq!(status.json["open_conflicts"], 1);
    assert_eq!(status.json["failed_operations"], 0);
    assert!(status.json["last_sync_at"].is_string());
    let listed = get(&env, &t, "/api/v1/storage/conflicts").await;
    let c = &listed.json["conflicts"][0];
    assert_eq!(c["id"], conflict_id.as_str());
    assert_eq!(c["local"]["value_base64"], "AAEC");
    assert_eq!(c["remote"]["value"], "mine");
    assert_eq!(c["remote_version"], 2);
    assert_eq!(
        get(&env, &t, "/api/v1/storage/shared").await.json["value"],
        "mine"
    );

    let path = format!("/api/v1/storage/conflicts/{conflict_id}/resolve");
    let bad = post(&env, &t, &path, json!({"resolution": "value"})).await;
    assert_eq!(
        bad.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "value needs a value"
    );
    let resolved = post(
        &env,
        &t,
        &path,
        json!({"resolution": "value", "value": {"merged": true}}),
    )
    .await;
    assert_eq!(resolved.status, StatusCode::OK, "{}", resolved.json);
    assert_eq!(resolved.json["conflict"]["status"], "resolved");
    assert_eq!(resolved.json["entry"]["value"], json!({"merged": true}));
    assert_eq!(resolved.json["entry"]["version"], 3);
    let twice = post(&env, &t, &path, json!({"resolution": "local"})).await;
    assert_eq!(
        (twice.status, twice.code()),
        (StatusCode::CONFLICT, "INVALID_STATE_TRANSITION")
    );
    let unknown = post(
        &env,
        &t,
        "/api/v1/storage/conflicts/not-a-uuid/resolve",
        json!({"resolution": "local"}),
    )
    .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    let status = get(&env, &t, "/api/v1/storage/sync/status").await;
    assert_eq!(
        (
            status.json["pending_operations"].clone(),
            status.json["open_conflicts"].clone()
        ),
        (json!(0), json!(0))
    );
    let all = get(&env, &t, "/api/v1/storage/conflicts?status=all").await;
    assert_eq!(all.json["conflicts"][0]["resolution"], "value");

    // Request-level validation.
    let reply = push(json!({"strategy": "server_wins", "operations": []})).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(fields(&reply)["strategy"].is_string() && fields(&reply)["operations"].is_string());
    let many: Vec<Value> = (0..101).map(|i| json!({"op_id": format!("x{i}"), "type": "delete", "key": "k", "client_timestamp": now})).collect();
    assert_eq!(
        push(json!({"operations": many})).await.status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    let bad_cursor = post(
        &env,
        &t,
        "/api/v1/storage/sync/pull",
        json!({"cursor": "xyz"}),
    )
    .await;
    assert_eq!(bad_cursor.status, StatusCode::BAD_REQUEST);
    let bad_limit = post(
        &env,
        &t,
        "/api/v1/storage/sync/pull",
        json!({"limit": 1001}),
    )
    .await;
    assert_eq!(bad_limit.status, StatusCode::UNPROCESSABLE_ENTITY);
}

on_both_engines!(
    setup = setup,
    runtime = (flavor = "multi_thread", worker_threads = 4);
    sync_push_pull_status_and_conflicts,
);
