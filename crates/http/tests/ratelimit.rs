//! Rate limits against real Redis (shared by every instance) and in-process.

use axum::http::{HeaderMap, StatusCode};
use std::time::Duration;
use tmcp_http::ratelimit::{LimitRule, RateLimiter};

async fn redis() -> redis::aio::ConnectionManager {
    let url =
        std::env::var("TMCP_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let client = redis::Client::open(url.as_str()).expect("redis url");
    redis::aio::ConnectionManager::new(client)
        .await
        .unwrap_or_else(|e| panic!("Redis is required ({url}): {e}"))
}

const RULE: LimitRule = LimitRule {
    name: "test",
    rate: 60,
    period: Duration::from_secs(60),
    burst: 3,
};

async fn exhaust(first: &RateLimiter, second: &RateLimiter, subject: &str) {
    let mut headers = HeaderMap::new();
    let decision = first.check(&RULE, subject).await.expect("1st allowed");
    decision.apply_headers(&mut headers);
    assert_eq!(headers["x-ratelimit-limit"], "60");
    assert_eq!(decision.remaining, 2);
    second.check(&RULE, subject).await.expect("2nd allowed");
    first.check(&RULE, subject).await.expect("3rd allowed");
    let refused = second
        .check(&RULE, subject)
        .await
        .expect_err("burst of 3 exhausted");
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(refused.code, "RATE_LIMIT_EXCEEDED");
    assert_eq!(refused.details["limit"], 60);
    assert_eq!(refused.details["window_seconds"], 60);
    assert!(refused.details["retry_after"]
        .as_i64()
        .is_some_and(|s| (1..=2).contains(&s)));
    assert!(refused
        .headers
        .iter()
        .any(|(name, _)| *name == "retry-after"));
}

#[tokio::test]
async fn instances_share_buckets_through_redis() {
    let namespace = format!("test-{}", uuid::Uuid::new_v4().simple());
    let one = RateLimiter::new(Some(redis().await), namespace.clone());
    let two = RateLimiter::new(Some(redis().await), namespace);
    assert!(one.is_shared());
    exhaust(&one, &two, "alice").await;
    // Another subject has its own bucket; peeking takes nothing.
    one.peek(&RULE, "bob").await.expect("bob untouched");
    one.peek(&RULE, "bob").await.expect("peek does not consume");
    let left = one.check(&RULE, "bob").await.expect("bob allowed");
    assert_eq!(left.remaining, 2);
    one.reset(&RULE, "alice").await;
    two.check(&RULE, "alice")
        .await
        .expect("reset empties the bucket");
}

#[tokio::test]
async fn in_process_buckets_without_redis() {
    let limiter = RateLimiter::new(None, "local");
    assert!(!limiter.is_shared());
    exhaust(&limiter, &limiter, "carol").await;
}
