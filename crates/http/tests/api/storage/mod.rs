//! Mini-app storage over HTTP (the TMCP protocol §3) on SQLite and PostgreSQL, with real TEP tokens:
//! round trips, every limit at and one past its boundary, preconditions, last-write-wins,
//! batches, cross-tenant isolation and scopes, concurrency near the quota, offline sync with
//! every strategy, conflicts, rate limits and the uninstall clean-up.

use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use futures::future::join_all;
use http_body_util::BodyExt;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use time::Duration;
use tmcp_contract_tests::Fixture;
use tmcp_domain::scope::ScopeSet;
use tmcp_domain::storage::QuotaLimits;
use tmcp_domain::user::Role;
use tmcp_domain::{AppId, Clock, UserId};
use tmcp_http::auth::TepMint;
use tmcp_http::ratelimit::LimitRule;
use tmcp_http::AppState;
use tmcp_repository::{NewUser, OAuthClient};
use tower::ServiceExt;

const APP: &str = "ma_storage_app";
const OTHER_APP: &str = "ma_other_app";
const RW: &str = "storage:read storage:write";

struct Env {
    fixture: Fixture,
    state: AppState,
    alice: UserId,
    bob: UserId,
}

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    json: Value,
}

impl Reply {
    fn code(&self) -> &str {
        self.json["error"]["code"].as_str().unwrap_or("")
    }
}

async fn new_user(fixture: &Fixture, name: &str) -> UserId {
    let id = UserId(uuid::Uuid::now_v7());
    fixture
        .db
        .create_user(NewUser {
            id,
            username: name.into(),
            email: format!("{name}@example.com"),
            password_hash: "x".into(),
            first_name: None,
            last_name: None,
            phone_ciphertext: None,
            role: Role::User,
            created_at: fixture.clock.now(),
        })
        .await
        .expect("user");
    id
}

async fn new_client(fixture: &Fixture, client_id: &str) {
    fixture
        .db
        .create_client(OAuthClient {
            client_id: client_id.into(),
            client_secret_hash: None,
            app_id: Some(client_id.into()),
            name: format!("{client_id} app"),
            redirect_uris: vec!["https://app.example/cb".into()],
            grant_types: vec!["authorization_code".into()],
            scopes: vec![
                "storage:read".into(),
                "storage:write".into(),
                "user:read".into(),
            ],
            is_official: false,
            is_active: true,
            created_at: fixture.clock.now(),
        })
        .await
        .expect("client");
}

/// Generous rate limits, so only the rate-limit test meets them.
fn relaxed(state: &mut AppState) {
    state.settings.storage.rate = LimitRule::per_minute("storage", 1_000_000, 1_000_000);
    state.settings.storage.batch_rate =
        LimitRule::per_minute("storage_batch", 1_000_000, 1_000_000);
}

async fn setup(fixture: Fixture) -> Env {
    let clock: Arc<dyn Clock> = Arc::new(fixture.clock.clone());
    let mut state = tmcp_http::testing::state(Arc::clone(&fixture.db), clock).await;
    relaxed(&mut state);
    let alice = new_user(&fixture, "alice").await;
    let bob = new_user(&fixture, "bob").await;
    new_client(&fixture, APP).await;
    new_client(&fixture, OTHER_APP).await;
    Env {
        fixture,
        state,
        alice,
        bob,
    }
}

async fn token(env: &Env, user: Option<UserId>, client: &str, scopes: &str) -> String {
    let request = TepMint {
        user_id: user,
        client_id: client.into(),
        scopes: ScopeSet::parse(scopes).expect("scopes"),
        session_id: None,
        lifetime: Some(Duration::days(30)),
        user_context: None,
        miniapp_context: None,
    };
    env.state
        .tep
        .mint(env.state.db.as_ref(), env.fixture.clock.now(), request)
        .await
        .expect("minted")
        .token
}

async fn send(
    state: &AppState,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<&Value>,
    extra: &[(&str, &str)],
) -> Reply {
    let mut request = Request::builder().method(method).uri(path);
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    for (name, value) in extra {
        request = request.header(*name, *value);
    }
    let request = match body {
        Some(json) => request
            .header("content-type", "application/json")
            .body(Body::from(json.to_string())),
        None => request.body(Body::empty()),
    }
    .expect("request");
    let response = tmcp_http::router(state.clone())
        .oneshot(request)
        .await
        .expect("infallible");
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    Reply {
        status,
        headers,
        json: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    }
}

async fn get(env: &Env, token: &str, path: &str) -> Reply {
    send(&env.state, Method::GET, path, Some(token), None, &[]).await
}

async fn put(env: &Env, token: &str, key: &str, body: Value) -> Reply {
    let path = format!("/api/v1/storage/{}", encode(key));
    send(
        &env.state,
        Method::PUT,
        &path,
        Some(token),
        Some(&body),
        &[],
    )
    .await
}

async fn post(env: &Env, token: &str, path: &str, body: Value) -> Reply {
    send(
        &env.state,
        Method::POST,
        path,
        Some(token),
        Some(&body),
        &[],
    )
    .await
}

async fn delete(env: &Env, token: &str, key: &str) -> Reply {
    let path = format!("/api/v1/storage/{}", encode(key));
    send(&env.state, Method::DELETE, &path, Some(token), None, &[]).await
}

/// Percent-encodes a key for a URL path segment.
fn encode(key: &str) -> String {
    let mut out = String::new();
    for b in key.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn fields(reply: &Reply) -> &Value {
    &reply.json["error"]["details"]["fields"]
}

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
    env.state.settings.storage.quotas = policy;
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
    env.state.settings.storage.quotas = policy;
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

// ---------------------------------------------------------------------------------------
// Concurrency near the quota, through HTTP
// ---------------------------------------------------------------------------------------

async fn parallel_writers_near_the_quota(env: Env) {
    let mut env = env;
    let mut policy = env.state.settings.storage.quotas.clone();
    policy.per_app.insert(
        APP.into(),
        QuotaLimits {
            total_bytes: 1_000_000,
            total_keys: 1000,
        },
    );
    env.state.settings.storage.quotas = policy;
    let env = Arc::new(env);
    let t = token(&env, Some(env.alice), APP, RW).await;
    let value = STANDARD.encode(vec![3u8; 60_000]);
    let tasks = (0..40).map(|i| {
        let env = Arc::clone(&env);
        let t = t.clone();
        let value = value.clone();
        tokio::spawn(async move {
            put(
                &env,
                &t,
                &format!("w{i:02}"),
                json!({"value_base64": value}),
            )
            .await
        })
    });
    let mut created = 0;
    let mut refused = 0;
    for reply in join_all(tasks).await {
        let reply = reply.expect("no panic");
        match reply.status {
            StatusCode::CREATED => created += 1,
            StatusCode::PAYLOAD_TOO_LARGE => {
                assert_eq!(reply.code(), "STORAGE_QUOTA_EXCEEDED");
                let used = reply.json["error"]["details"]["used_bytes"]
                    .as_i64()
                    .unwrap_or(-1);
                assert!(used <= 1_000_000, "{used}");
                refused += 1;
            }
            other => panic!("unexpected {other}: {}", reply.json),
        }
    }
    assert_eq!(
        (created, refused),
        (16, 24),
        "exactly 16 of 60 000 bytes fit in 1 000 000"
    );
    // Mixed parallel load: growing, shrinking and deleting at once.
    let tasks = (0..40).map(|i| {
        let env = Arc::clone(&env);
        let t = t.clone();
        tokio::spawn(async move {
            let key = format!("w{:02}", i % 20);
            match i % 3 {
                0 => delete(&env, &t, &key).await,
                1 => {
                    put(
                        &env,
                        &t,
                        &key,
                        json!({"value_base64": STANDARD.encode(vec![1u8; 90_000])}),
                    )
                    .await
                }
                _ => put(&env, &t, &key, json!({"value": "small"})).await,
            }
        })
    });
    for reply in join_all(tasks).await {
        let reply = reply.expect("no panic");
        assert!(
            reply.status.is_success() || reply.code() == "STORAGE_QUOTA_EXCEEDED",
            "{}: {}",
            reply.status,
            reply.json
        );
    }
    let quota = get(&env, &t, "/api/v1/storage/quota").await;
    let list = get(&env, &t, "/api/v1/storage?limit=1000").await;
    let items = list.json["items"].as_array().expect("items");
    let sum: i64 = items.iter().filter_map(|i| i["size"].as_i64()).sum();
    assert_eq!(
        quota.json["used_bytes"], sum,
        "quota equals the live entries"
    );
    assert_eq!(quota.json["used_keys"], items.len());
    assert!(sum <= 1_000_000);
}

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

// ---------------------------------------------------------------------------------------
// Rate limits, instances, uninstall, OpenAPI
// ---------------------------------------------------------------------------------------

async fn rate_limits_per_user_and_app(env: Env) {
    let mut env = env;
    env.state.settings.storage = tmcp_http::services::storage::StorageSettings::default();
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

macro_rules! on_both_engines {
    ($($name:ident),+ $(,)?) => {
        mod sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
              async fn $name() { super::$name(super::setup(tmcp_contract_tests::engines::sqlite().await).await).await; })+
        }
        mod postgres {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
              async fn $name() { super::$name(super::setup(tmcp_contract_tests::engines::postgres().await).await).await; })+
        }
    };
}

on_both_engines!(
    values_round_trip_byte_exact,
    ttl_expiry_and_the_live_quota,
    key_value_and_ttl_boundaries,
    quota_boundaries_with_default_limits,
    per_app_quota_overrides_apply,
    batch_and_list_boundaries,
    batch_set_is_atomic,
    if_match_and_client_timestamps,
    other_users_apps_and_scopes_see_nothing,
    parallel_writers_near_the_quota,
    sync_push_pull_status_and_conflicts,
    rate_limits_per_user_and_app,
    every_instance_reads_the_acknowledged_write,
    uninstall_deletes_the_apps_storage,
    openapi_lists_the_storage_routes,
    reserved_key_segments_are_refused_on_writes,
);

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
