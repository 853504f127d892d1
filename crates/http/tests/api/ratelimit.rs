//! Rate limits against real Redis (shared by every instance), in-process, and across a
//! Redis that hangs and comes back (a private `redis-server`).

use axum::http::{HeaderMap, StatusCode};
use std::time::{Duration, Instant};
use tmcp_contract_tests::redis_server::PrivateRedis;
use tmcp_http::ratelimit::{LimitRule, RateLimiter};
use tmcp_http::redis_link::{RedisLink, RedisSettings};

async fn redis() -> RedisLink {
    let url =
        std::env::var("TMCP_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let client = redis::Client::open(url.as_str()).expect("redis url");
    RedisLink::connect(client, RedisSettings::default())
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

/// A hung Redis (process frozen: connections stay open, nothing answers) is where only the
/// breaker helps: without it every call would wait the command timeout. The first call
/// pays one timeout, then calls skip Redis until a background probe finds it back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_redis_costs_one_timeout_then_nothing() {
    let server = PrivateRedis::start().await;
    let timeout = Duration::from_millis(800);
    let settings = RedisSettings {
        connect_timeout: timeout,
        command_timeout: timeout,
        breaker_open: Duration::from_millis(1500),
    };
    let client = redis::Client::open(server.url()).expect("redis url");
    let link = RedisLink::connect(client.clone(), settings)
        .await
        .expect("private redis answers");
    let namespace = format!("test-{}", uuid::Uuid::new_v4().simple());
    let limiter = RateLimiter::new(Some(link), namespace.clone());
    // A large burst that does not refill while the test runs, so every count is exact.
    let generous = LimitRule {
        name: "generous",
        rate: 100,
        period: Duration::from_secs(3600),
        burst: 100,
    };
    limiter
        .check(&generous, "dave")
        .await
        .expect("through Redis");
    assert!(limiter.is_shared());

    server.pause();
    let started = Instant::now();
    let first = limiter.check(&generous, "dave").await.expect("allowed");
    let detection = started.elapsed();
    assert!(
        detection >= timeout.mul_f32(0.9) && detection < timeout * 3,
        "one command timeout: {detection:?}"
    );
    assert_eq!(first.remaining, 99, "a fresh in-process bucket");
    assert!(!limiter.is_shared(), "breaker open");
    let started = Instant::now();
    for expected in (89..99).rev() {
        let decision = limiter.check(&generous, "dave").await.expect("allowed");
        assert_eq!(decision.remaining, expected, "exact in-process counts");
    }
    assert!(
        started.elapsed() < timeout,
        "ten calls together cost less than one timeout: {:?}",
        started.elapsed()
    );

    server.resume();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !limiter.is_shared() {
        assert!(
            Instant::now() < deadline,
            "the probe never closed the breaker"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    limiter.check(&generous, "erin").await.expect("allowed");
    let mut conn = client
        .get_multiplexed_async_connection()
        .await
        .expect("inspection connection");
    let stored: bool = redis::cmd("EXISTS")
        .arg(format!("{namespace}:rl:generous:erin"))
        .query_async(&mut conn)
        .await
        .expect("EXISTS");
    assert!(stored, "buckets are in Redis again");
}
