//! Concurrent writers near the quota, through HTTP.

use super::*;
use crate::support::on_both_engines;
use axum::http::StatusCode;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use futures::future::join_all;
use serde_json::json;
use std::sync::Arc;
use tmcp_domain::storage::QuotaLimits;

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
    std::sync::Arc::make_mut(&mut env.state.settings)
        .storage
        .quotas = policy;
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

on_both_engines!(
    setup = setup,
    runtime = (flavor = "multi_thread", worker_threads = 4);
    parallel_writers_near_the_quota,
);
