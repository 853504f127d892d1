//! Reserved key segments: refused on writes, and kept in step with the storage routes.

use super::*;
use crate::support::on_both_engines;
use axum::http::{Method, StatusCode};
use serde_json::json;
use tmcp_domain::AppId;

/// Keys under the first segments of the fixed storage routes (`quota`, `batch`, `sync`,
/// `conflicts`) would be unreachable or ambiguous at `/api/v1/storage/{key}`: every write
/// path refuses them with 422 naming them, while reads and deletes still reach keys of
/// those names stored before the rule.
async fn reserved_key_segments_are_refused_on_writes(env: Env) {
    let t = token(&env, Some(env.alice), APP, RW).await;
    let names_them = |reply: &Reply, field: &str, segment: &str| {
        let message = fields(reply)[field].as_str().unwrap_or_default().to_owned();
        assert!(
            message.contains(&format!("\"{segment}\""))
                && message.contains("quota, batch, sync, conflicts"),
            "{field}: {}",
            reply.json
        );
    };
    // PUT, including on the fixed paths themselves (`conflicts` used to answer 405).
    for (key, segment) in [
        ("quota", "quota"),
        ("batch", "batch"),
        ("sync", "sync"),
        ("conflicts", "conflicts"),
        ("sync/push", "sync"),
        ("quota/x", "quota"),
        ("batch/get", "batch"),
    ] {
        let reply = put(&env, &t, key, json!({"value": 1})).await;
        assert_eq!(
            reply.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{key}: {}",
            reply.json
        );
        assert_eq!(reply.code(), "VALIDATION_FAILED", "{key}");
        names_them(&reply, "key", segment);
    }
    for path in [
        "/api/v1/storage/quota",
        "/api/v1/storage/conflicts",
        "/api/v1/storage/batch",
        "/api/v1/storage/sync",
    ] {
        let reply = send(
            &env.state,
            Method::PUT,
            path,
            Some(&t),
            Some(&json!({"value": 1})),
            &[],
        )
        .await;
        assert_eq!(
            reply.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "PUT {path}: {}",
            reply.json
        );
    }
    // Batch set: the whole batch is refused, the offending item named.
    let reply = post(
        &env,
        &t,
        "/api/v1/storage/batch/set",
        json!({"items": [{"key": "fine", "value": 1}, {"key": "conflicts/7", "value": 2}]}),
    )
    .await;
    assert_eq!(
        reply.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        reply.json
    );
    names_them(&reply, "items[1].key", "conflicts");
    // Sync push: the set is rejected on its own (like any invalid operation); a delete of
    // such a key is allowed.
    let reply = post(
        &env,
        &t,
        "/api/v1/storage/sync/push",
        json!({"operations": [
            {"op_id": "r1", "type": "set", "key": "batch/x", "value": 1, "client_timestamp": 1},
            {"op_id": "r2", "type": "delete", "key": "quota", "client_timestamp": 1}
        ]}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.json);
    let results = &reply.json["results"];
    assert_eq!(results[0]["status"], "rejected", "{results}");
    assert_eq!(
        results[0]["error"]["code"], "VALIDATION_FAILED",
        "{results}"
    );
    let message = results[0]["error"]["details"]["fields"]["key"]
        .as_str()
        .unwrap_or_default();
    assert!(message.contains("\"batch\""), "{results}");
    assert_ne!(results[1]["status"], "rejected", "{results}");
    // Nothing was stored under a reserved segment.
    let list = get(&env, &t, "/api/v1/storage").await;
    assert_eq!(list.json["items"], json!([]), "{}", list.json);
    // Only the whole first segment counts, and case matters as in routes.
    for key in ["quotas", "quota.json", "my/quota", "Quota", "syncing"] {
        let reply = put(&env, &t, key, json!({"value": 1})).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{key}: {}", reply.json);
    }
    // The fixed routes still answer as themselves.
    let quota = get(&env, &t, "/api/v1/storage/quota").await;
    assert_eq!(quota.status, StatusCode::OK);
    assert_eq!(quota.json["used_keys"], 5);
    let conflicts = get(&env, &t, "/api/v1/storage/conflicts").await;
    assert_eq!(conflicts.status, StatusCode::OK, "{}", conflicts.json);

    // Keys of those names stored before the rule: readable with batch/get, deletable on
    // the fixed paths and with batch/delete.
    let app = AppId::parse(APP).expect("app");
    for key in ["quota", "conflicts", "sync/push"] {
        let write = tmcp_repository::EntryWrite {
            key: tmcp_domain::storage::StorageKey::parse(key).expect("key"),
            checksum: sha256_hex(b"1"),
            value: b"1".to_vec(),
            encoding: tmcp_domain::storage::value::ValueEncoding::Json,
            content_type: "application/json".into(),
            ttl_seconds: None,
            metadata: json!({}),
            client_timestamp: None,
            last_write_wins: false,
            expected: None,
        };
        let ctx = tmcp_http::services::storage::context(&env.state, &app);
        env.fixture
            .db
            .put_entry(env.alice, &app, write, &ctx)
            .await
            .expect("legacy key");
    }
    let read = post(
        &env,
        &t,
        "/api/v1/storage/batch/get",
        json!({"keys": ["quota", "conflicts", "sync/push"]}),
    )
    .await;
    assert_eq!(read.status, StatusCode::OK, "{}", read.json);
    assert_eq!(
        read.json["items"].as_array().map(Vec::len),
        Some(3),
        "{}",
        read.json
    );
    for path in ["/api/v1/storage/quota", "/api/v1/storage/conflicts"] {
        let gone = send(&env.state, Method::DELETE, path, Some(&t), None, &[]).await;
        assert_eq!(gone.status, StatusCode::OK, "DELETE {path}: {}", gone.json);
        assert_eq!(gone.json["deleted"], true, "DELETE {path}");
    }
    let gone = post(
        &env,
        &t,
        "/api/v1/storage/batch/delete",
        json!({"keys": ["sync/push"]}),
    )
    .await;
    assert_eq!(gone.json["results"][0]["deleted"], true, "{}", gone.json);
}

/// Every fixed route under `/api/v1/storage/` has its first segment in the reserved list,
/// and every reserved segment is a route's: the router and the key rule cannot drift apart.
#[test]
fn reserved_key_segments_match_the_storage_routes() {
    use std::collections::BTreeSet;
    use tmcp_domain::storage::RESERVED_KEY_SEGMENTS;
    use utoipa::OpenApi;
    let doc = serde_json::to_value(tmcp_http::openapi::ApiDoc::openapi()).expect("json");
    let routed: BTreeSet<&str> = doc["paths"]
        .as_object()
        .expect("paths")
        .keys()
        .filter_map(|p| p.strip_prefix("/api/v1/storage/"))
        .filter_map(|rest| rest.split('/').next())
        .filter(|first| !first.starts_with('{'))
        .collect();
    let reserved: BTreeSet<&str> = RESERVED_KEY_SEGMENTS.into_iter().collect();
    assert_eq!(routed, reserved);
    let put = &doc["paths"]["/api/v1/storage/{key}"]["put"];
    assert!(
        put.to_string()
            .contains("`quota`, `batch`, `sync`, `conflicts`"),
        "the PUT documents the reserved segments: {put}"
    );
}

on_both_engines!(
    setup = setup,
    runtime = (flavor = "multi_thread", worker_threads = 4);
    reserved_key_segments_are_refused_on_writes,
);
