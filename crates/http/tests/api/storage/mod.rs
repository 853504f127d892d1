//! Mini-app storage over HTTP (the TMCP protocol §3) on SQLite and PostgreSQL, with real TEP tokens:
//! round trips, every limit at and one past its boundary, preconditions, last-write-wins,
//! batches, cross-tenant isolation and scopes, concurrency near the quota, offline sync with
//! every strategy, conflicts, rate limits and the uninstall clean-up.

mod concurrency;
mod limits;
mod operations;
mod preconditions;
mod reserved_keys;
mod round_trips;
mod sync;
mod tenancy;

use crate::support::seed;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::sync::Arc;
use time::Duration;
use tmcp_contract_tests::Fixture;
use tmcp_domain::{Clock, UserId};
use tmcp_http::ratelimit::LimitRule;
use tmcp_http::AppState;

const APP: &str = "ma_storage_app";
const OTHER_APP: &str = "ma_other_app";
const RW: &str = "storage:read storage:write";
const SCOPES: [&str; 3] = ["storage:read", "storage:write", "user:read"];

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
        crate::support::error_code(&self.json)
    }
}

/// Generous rate limits, so only the rate-limit test meets them.
fn relaxed(state: &mut AppState) {
    std::sync::Arc::make_mut(&mut state.settings).storage.rate =
        LimitRule::per_minute("storage", 1_000_000, 1_000_000);
    std::sync::Arc::make_mut(&mut state.settings)
        .storage
        .batch_rate = LimitRule::per_minute("storage_batch", 1_000_000, 1_000_000);
}

async fn setup(fixture: Fixture) -> Env {
    let clock: Arc<dyn Clock> = Arc::new(fixture.clock.clone());
    let mut state = tmcp_http::testing::state(Arc::clone(&fixture.db), clock).await;
    relaxed(&mut state);
    let alice = seed::user(&fixture, "alice").await;
    let bob = seed::user(&fixture, "bob").await;
    for app in [APP, OTHER_APP] {
        seed::client(&fixture, app, &format!("{app} app"), &SCOPES).await;
    }
    Env {
        fixture,
        state,
        alice,
        bob,
    }
}

async fn token(env: &Env, user: Option<UserId>, client: &str, scopes: &str) -> String {
    let now = env.fixture.clock.now();
    let lifetime = Some(Duration::days(30));
    seed::tep(&env.state, now, user, client, scopes, lifetime).await
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
    let (status, headers, bytes) = crate::support::call_router(state, request).await;
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
