//! Round trips: values come back byte for byte, and entries expire with their TTL.

use super::*;
use crate::support::on_both_engines;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use http_body_util::BodyExt;
use serde_json::{json, Value};
use time::Duration;
use tmcp_domain::{AppId, Clock};
use tower::ServiceExt;

// ---------------------------------------------------------------------------------------
// Round trips
// ---------------------------------------------------------------------------------------

async fn values_round_trip_byte_exact(env: Env) {
    let t = token(&env, Some(env.alice), APP, RW).await;
    // Binary with every byte value.
    let bytes: Vec<u8> = (0..=255u8).rev().chain(0..=255u8).collect();
    let reply = put(
        &env,
        &t,
        "blob/1",
        json!({"value_base64": STANDARD.encode(&bytes), "content_type": "image/png",
               "metadata": {"w": 2}}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.json);
    assert_eq!(reply.json["version"], 1);
    assert_eq!(reply.json["size"], 512);
    assert_eq!(reply.json["checksum"], sha256_hex(&bytes));
    assert_eq!(reply.json["conflict_detected"], false);
    assert_eq!(reply.json["expires_at"], Value::Null);
    assert_eq!(reply.headers["etag"], "\"1\"");
    let read = get(&env, &t, "/api/v1/storage/blob%2F1").await;
    assert_eq!(read.status, StatusCode::OK);
    assert_eq!(read.headers["etag"], "\"1\"");
    assert_eq!(
        STANDARD
            .decode(read.json["value_base64"].as_str().expect("base64"))
            .expect("decodes"),
        bytes
    );
    assert_eq!(read.json["content_type"], "image/png");
    assert_eq!(read.json["metadata"], json!({"w": 2}));
    assert!(read.json.get("value").is_none());

    // A JSON string is stored as its UTF-8 text.
    let text = "héllo \u{1F600} \"quoted\"\n";
    let reply = put(&env, &t, "greeting", json!({"value": text})).await;
    assert_eq!(reply.status, StatusCode::CREATED);
    assert_eq!(reply.json["size"], text.len());
    assert_eq!(reply.json["checksum"], sha256_hex(text.as_bytes()));
    let read = get(&env, &t, "/api/v1/storage/greeting").await;
    assert_eq!(read.json["value"], text);
    assert_eq!(read.json["content_type"], "text/plain");

    // Other JSON is stored as the JSON text sent, byte for byte.
    let raw =
        r#"{"z": [1, 2.50, {"nested": null}], "a": true, "big": 123456789012345678901234567890}"#;
    let body = format!(r#"{{"value": {raw}}}"#);
    let request = Request::put("/api/v1/storage/doc")
        .header("authorization", format!("Bearer {t}"))
        .header("content-type", "application/json")
        .body(Body::from(body))
        .expect("request");
    let response = tmcp_http::router(env.state.clone())
        .oneshot(request)
        .await
        .expect("ok");
    assert_eq!(response.status(), StatusCode::CREATED);
    let stored = env
        .fixture
        .db
        .get_entry(
            env.alice,
            &AppId::parse(APP).expect("app"),
            &tmcp_domain::storage::StorageKey::parse("doc").expect("key"),
            env.fixture.clock.now(),
        )
        .await
        .expect("read")
        .expect("stored");
    assert_eq!(stored.value, raw.as_bytes(), "JSON text kept exactly");
    assert_eq!(stored.checksum, sha256_hex(raw.as_bytes()));
    let request = Request::get("/api/v1/storage/doc")
        .header("authorization", format!("Bearer {t}"))
        .body(Body::empty())
        .expect("request");
    let response = tmcp_http::router(env.state.clone())
        .oneshot(request)
        .await
        .expect("ok");
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    let body = String::from_utf8(body.to_vec()).expect("utf-8");
    assert!(
        body.contains(&format!(r#""value":{raw}"#)),
        "the value is sent back as stored: {body}"
    );

    // Update: 200, version 2; ETag follows; If-None-Match gives 304.
    let reply = put(&env, &t, "greeting", json!({"value": "bye", "ttl": 60})).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json["version"], 2);
    assert!(reply.json["expires_at"].is_string());
    let unchanged = send(
        &env.state,
        Method::GET,
        "/api/v1/storage/greeting",
        Some(&t),
        None,
        &[("if-none-match", "\"2\"")],
    )
    .await;
    assert_eq!(unchanged.status, StatusCode::NOT_MODIFIED);

    // Listing in byte order; deletion; KEY_NOT_FOUND afterwards.
    let list = get(&env, &t, "/api/v1/storage").await;
    let keys: Vec<&str> = list.json["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|i| i["key"].as_str())
        .collect();
    assert_eq!(keys, ["blob/1", "doc", "greeting"]);
    let gone = delete(&env, &t, "greeting").await;
    assert_eq!(
        (gone.status, gone.json["deleted"].clone()),
        (StatusCode::OK, json!(true))
    );
    let again = delete(&env, &t, "greeting").await;
    assert_eq!(
        (again.status, again.json["deleted"].clone()),
        (StatusCode::OK, json!(false))
    );
    let missing = get(&env, &t, "/api/v1/storage/greeting").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.code(), "KEY_NOT_FOUND");
}

async fn ttl_expiry_and_the_live_quota(env: Env) {
    let t = token(&env, Some(env.alice), APP, RW).await;
    put(
        &env,
        &t,
        "short",
        json!({"value": "x".repeat(100), "ttl": 60}),
    )
    .await;
    put(&env, &t, "long", json!({"value": "y".repeat(50)})).await;
    let quota = get(&env, &t, "/api/v1/storage/quota").await;
    assert_eq!(quota.status, StatusCode::OK);
    assert_eq!(
        (
            quota.json["used_bytes"].clone(),
            quota.json["used_keys"].clone()
        ),
        (json!(150), json!(2))
    );
    assert_eq!(quota.json["total_bytes"], 10_485_760);
    assert_eq!(quota.json["available_bytes"], 10_485_760 - 150);
    assert_eq!(quota.json["total_keys"], 1000);
    env.fixture.clock.advance(Duration::seconds(60));
    let expired = get(&env, &t, "/api/v1/storage/short").await;
    assert_eq!(expired.code(), "KEY_NOT_FOUND");
    // Not purged by any background job yet, and still the quota counts live entries only.
    let quota = get(&env, &t, "/api/v1/storage/quota").await;
    assert_eq!(
        (
            quota.json["used_bytes"].clone(),
            quota.json["used_keys"].clone()
        ),
        (json!(50), json!(1))
    );
}

on_both_engines!(
    setup = setup,
    runtime = (flavor = "multi_thread", worker_threads = 4);
    values_round_trip_byte_exact,
    ttl_expiry_and_the_live_quota,
);
