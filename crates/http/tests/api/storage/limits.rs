//! Limits: at the boundary accepted, one past refused (keys, values, TTLs, quotas,
//! batches, listings), and batches applied whole or not at all.

use super::*;
use crate::support::on_both_engines;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::{json, Value};
use tmcp_domain::storage::QuotaLimits;
use tower::ServiceExt;

// ---------------------------------------------------------------------------------------
// Limits: at the boundary accepted, one past refused
// ---------------------------------------------------------------------------------------

async fn key_value_and_ttl_boundaries(env: Env) {
    let t = token(&env, Some(env.alice), APP, RW).await;
    let k256 = "k".repeat(256);
    assert_eq!(
        put(&env, &t, &k256, json!({"value": 1})).await.status,
        StatusCode::CREATED
    );
    let wide = "é".repeat(128); // 256 bytes
    assert_eq!(
        put(&env, &t, &wide, json!({"value": 1})).await.status,
        StatusCode::CREATED
    );
    for bad in [
        "k".repeat(257),
        "é".repeat(129),
        "a\u{1}b".to_owned(),
        "tab\there".into(),
    ] {
        let reply = put(&env, &t, &bad, json!({"value": 1})).await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{bad:?}");
        assert_eq!(reply.code(), "VALIDATION_FAILED");
        assert!(fields(&reply)["key"].is_string(), "{}", reply.json);
        let read = get(&env, &t, &format!("/api/v1/storage/{}", encode(&bad))).await;
        assert_eq!(read.status, StatusCode::UNPROCESSABLE_ENTITY);
    }

    // Values: exactly 1 MiB of bytes, as binary and as text; one byte more is refused.
    let mib = 1_048_576;
    let reply = put(
        &env,
        &t,
        "bin",
        json!({"value_base64": STANDARD.encode(vec![7u8; mib])}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.json);
    assert_eq!(reply.json["size"], mib);
    let reply = put(
        &env,
        &t,
        "bin",
        json!({"value_base64": STANDARD.encode(vec![7u8; mib + 1])}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(reply.code(), "PAYLOAD_TOO_LARGE");
    assert_eq!(reply.json["error"]["details"]["max_bytes"], mib);
    let reply = put(&env, &t, "txt", json!({"value": "a".repeat(mib)})).await;
    assert_eq!(reply.status, StatusCode::CREATED);
    let reply = put(&env, &t, "txt", json!({"value": "é".repeat(mib / 2) + "a"})).await;
    assert_eq!(reply.code(), "PAYLOAD_TOO_LARGE", "bytes, not characters");
    let reply = put(&env, &t, "empty", json!({"value": ""})).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);

    // TTL.
    for (ttl, ok) in [
        (60, true),
        (2_592_000, true),
        (59, false),
        (2_592_001, false),
        (0, false),
    ] {
        let reply = put(&env, &t, "ttl", json!({"value": 1, "ttl": ttl})).await;
        if ok {
            assert!(reply.status.is_success(), "ttl {ttl}: {}", reply.json);
        } else {
            assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "ttl {ttl}");
            assert!(fields(&reply)["ttl"].is_string());
        }
    }

    // Shapes: both value forms, neither, bad base64, unknown fields, malformed JSON.
    let reply = put(&env, &t, "x", json!({"value": 1, "value_base64": "AA=="})).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    let reply = put(&env, &t, "x", json!({"ttl": 60})).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    let reply = put(&env, &t, "x", json!({"value_base64": "not base64!"})).await;
    assert!(fields(&reply)["value_base64"].is_string());
    let reply = put(&env, &t, "x", json!({"value": 1, "user_id": "someone"})).await;
    assert_eq!(
        reply.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "no user from the body"
    );
    let request = Request::put("/api/v1/storage/x")
        .header("authorization", format!("Bearer {t}"))
        .header("content-type", "application/json")
        .body(Body::from("{nope"))
        .expect("request");
    let response = tmcp_http::router(env.state.clone())
        .oneshot(request)
        .await
        .expect("ok");
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let reply = put(
        &env,
        &t,
        "x",
        json!({"value": 1, "metadata": {"m": "x".repeat(4100)}}),
    )
    .await;
    assert!(fields(&reply)["metadata"].is_string());
    let reply = put(&env, &t, "x", json!({"value": 1, "content_type": "nope"})).await;
    assert!(fields(&reply)["content_type"].is_string());
}

async fn quota_boundaries_with_default_limits(env: Env) {
    let t = token(&env, Some(env.alice), APP, RW).await;
    // 10 MiB: ten values of exactly 1 MiB fit; one byte more does not.
    let mib = vec![1u8; 1_048_576];
    for i in 0..10 {
        let reply = put(
            &env,
            &t,
            &format!("big{i}"),
            json!({"value_base64": STANDARD.encode(&mib)}),
        )
        .await;
        assert_eq!(reply.status, StatusCode::CREATED, "big{i}: {}", reply.json);
    }
    let reply = put(&env, &t, "one-more", json!({"value_base64": "AA=="})).await;
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(reply.code(), "STORAGE_QUOTA_EXCEEDED");
    assert_eq!(
        reply.json["error"]["details"],
        json!({"used_bytes": 10_485_760, "total_bytes": 10_485_760, "used_keys": 10, "total_keys": 1000})
    );
    // Free everything, then 1000 keys fit (in batches of 100) and the 1001st does not.
    for i in 0..10 {
        delete(&env, &t, &format!("big{i}")).await;
    }
    for batch in 0..10 {
        let items: Vec<Value> = (0..100)
            .map(|i| json!({"key": format!("k{batch}-{i}"), "value": i}))
            .collect();
        let reply = post(
            &env,
            &t,
            "/api/v1/storage/batch/set",
            json!({"items": items}),
        )
        .await;
        assert_eq!(
            reply.status,
            StatusCode::OK,
            "batch {batch}: {}",
            reply.json
        );
    }
    let reply = put(&env, &t, "k-1001", json!({"value": 1})).await;
    assert_eq!(reply.code(), "STORAGE_QUOTA_EXCEEDED");
    assert_eq!(reply.json["error"]["details"]["used_keys"], 1000);
    assert_eq!(reply.json["error"]["details"]["total_keys"], 1000);
    // Replacing an existing key needs no new key.
    let reply = put(&env, &t, "k0-0", json!({"value": "still fits"})).await;
    assert_eq!(reply.status, StatusCode::OK);
}

async fn per_app_quota_overrides_apply(env: Env) {
    let mut env = env;
    let mut policy = env.state.settings.storage.quotas.clone();
    policy.per_app.insert(
        APP.into(),
        QuotaLimits {
            total_bytes: 20,
            total_keys: 2,
        },
    );
    std::sync::Arc::make_mut(&mut env.state.settings)
        .storage
        .quotas = policy;
    let t = token(&env, Some(env.alice), APP, RW).await;
    let other = token(&env, Some(env.alice), OTHER_APP, RW).await;
    assert_eq!(
        put(&env, &t, "a", json!({"value": "x".repeat(10)}))
            .await
            .status,
        StatusCode::CREATED
    );
    assert_eq!(
        put(&env, &t, "b", json!({"value": "x".repeat(10)}))
            .await
            .status,
        StatusCode::CREATED
    );
    let reply = put(&env, &t, "a", json!({"value": "x".repeat(11)})).await;
    assert_eq!(reply.code(), "STORAGE_QUOTA_EXCEEDED");
    assert_eq!(reply.json["error"]["details"]["total_bytes"], 20);
    let reply = put(&env, &t, "c", json!({"value": "x"})).await;
    assert_eq!(reply.code(), "STORAGE_QUOTA_EXCEEDED", "third key");
    let quota = get(&env, &t, "/api/v1/storage/quota").await;
    assert_eq!(
        (
            quota.json["total_bytes"].clone(),
            quota.json["available_bytes"].clone()
        ),
        (json!(20), json!(0))
    );
    // Other apps keep the default.
    let quota = get(&env, &other, "/api/v1/storage/quota").await;
    assert_eq!(quota.json["total_bytes"], 10_485_760);
}

async fn batch_and_list_boundaries(env: Env) {
    let t = token(&env, Some(env.alice), APP, RW).await;
    let items = |n: usize| -> Value {
        json!({"items": (0..n).map(|i| json!({"key": format!("b{i:03}"), "value": i})).collect::<Vec<_>>()})
    };
    let reply = post(&env, &t, "/api/v1/storage/batch/set", items(101)).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(fields(&reply)["items"].is_string());
    let reply = post(&env, &t, "/api/v1/storage/batch/set", items(0)).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    let reply = post(&env, &t, "/api/v1/storage/batch/set", items(100)).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json["results"].as_array().map(Vec::len), Some(100));
    assert_eq!(reply.json["quota"]["used_keys"], 100);
    let keys = |n: usize| -> Value {
        json!({"keys": (0..n).map(|i| format!("b{i:03}")).collect::<Vec<_>>()})
    };
    let reply = post(&env, &t, "/api/v1/storage/batch/get", keys(101)).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    let reply = post(&env, &t, "/api/v1/storage/batch/get", keys(100)).await;
    assert_eq!(reply.json["items"].as_array().map(Vec::len), Some(100));
    assert_eq!(reply.json["items"][7]["value"], 7, "request order");
    let reply = post(
        &env,
        &t,
        "/api/v1/storage/batch/get",
        json!({"keys": ["b001", "nope"]}),
    )
    .await;
    assert_eq!(reply.json["missing"], json!(["nope"]));
    let reply = post(
        &env,
        &t,
        "/api/v1/storage/batch/get",
        json!({"keys": ["b001", "b001"]}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "duplicates");
    let reply = post(&env, &t, "/api/v1/storage/batch/delete", keys(101)).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);

    // Listing: limit 1..=1000, cursor pages, prefix.
    for (limit, ok) in [
        ("1000", true),
        ("1", true),
        ("1001", false),
        ("0", false),
        ("x", false),
    ] {
        let reply = get(&env, &t, &format!("/api/v1/storage?limit={limit}")).await;
        assert_eq!(reply.status.is_success(), ok, "limit {limit}");
    }
    let page = get(&env, &t, "/api/v1/storage?prefix=b09&limit=6").await;
    let items = page.json["items"].as_array().expect("items");
    assert_eq!(items.len(), 6);
    assert_eq!(page.json["pagination"]["has_more"], true);
    let cursor = page.json["pagination"]["next_cursor"]
        .as_str()
        .expect("cursor");
    let next = get(
        &env,
        &t,
        &format!("/api/v1/storage?prefix=b09&limit=6&cursor={cursor}"),
    )
    .await;
    let rest: Vec<&str> = next.json["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|i| i["key"].as_str())
        .collect();
    assert_eq!(rest, ["b096", "b097", "b098", "b099"]);
    assert_eq!(next.json["pagination"]["has_more"], false);
    let bad = get(&env, &t, "/api/v1/storage?cursor=garbage").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);

    let reply = post(&env, &t, "/api/v1/storage/batch/delete", keys(100)).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(reply.json["results"]
        .as_array()
        .expect("results")
        .iter()
        .all(|r| r["deleted"] == true));
    let quota = get(&env, &t, "/api/v1/storage/quota").await;
    assert_eq!(quota.json["used_keys"], 0);
}

async fn batch_set_is_atomic(env: Env) {
    let mut env = env;
    let mut policy = env.state.settings.storage.quotas.clone();
    policy.per_app.insert(
        APP.into(),
        QuotaLimits {
            total_bytes: 100,
            total_keys: 10,
        },
    );
    std::sync::Arc::make_mut(&mut env.state.settings)
        .storage
        .quotas = policy;
    let t = token(&env, Some(env.alice), APP, RW).await;
    // One invalid item: nothing applied.
    let reply = post(
        &env,
        &t,
        "/api/v1/storage/batch/set",
        json!({"items": [{"key": "ok1", "value": 1}, {"key": "", "value": 2}, {"key": "ok3", "value": 3}]}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(fields(&reply)["items[1].key"].is_string(), "{}", reply.json);
    // One item too large for the quota as a whole: nothing applied.
    let reply = post(
        &env,
        &t,
        "/api/v1/storage/batch/set",
        json!({"items": [{"key": "ok1", "value": "x".repeat(50)}, {"key": "ok2", "value": "y".repeat(51)}]}),
    )
    .await;
    assert_eq!(reply.code(), "STORAGE_QUOTA_EXCEEDED");
    let none = post(
        &env,
        &t,
        "/api/v1/storage/batch/get",
        json!({"keys": ["ok1", "ok2", "ok3"]}),
    )
    .await;
    assert_eq!(none.json["items"], json!([]), "nothing was applied");
    // Exactly at the quota: everything applied.
    let reply = post(
        &env,
        &t,
        "/api/v1/storage/batch/set",
        json!({"items": [{"key": "ok1", "value": "x".repeat(50)}, {"key": "ok2", "value": "y".repeat(50)}]}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json["quota"]["used_bytes"], 100);
    // Duplicated keys in one batch are refused.
    let reply = post(
        &env,
        &t,
        "/api/v1/storage/batch/set",
        json!({"items": [{"key": "d", "value": 1}, {"key": "d", "value": 2}]}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
}

on_both_engines!(
    setup = setup,
    runtime = (flavor = "multi_thread", worker_threads = 4);
    key_value_and_ttl_boundaries,
    quota_boundaries_with_default_limits,
    per_app_quota_overrides_apply,
    batch_and_list_boundaries,
    batch_set_is_atomic,
);
