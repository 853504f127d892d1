//! A Redis outage mid-flight, on SQLite and PostgreSQL, against a private `redis-server`
//! that the test kills and restarts on the same port: requests stay fast, limits and the
//! login lockout keep being enforced in-process with consistent counts, `/ready` reports
//! the degradation, and everything goes back to Redis (carrying the in-process counts) when
//! it answers again.

use crate::support::{on_both_engines, seed};
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tmcp_contract_tests::redis_server::PrivateRedis;
use tmcp_contract_tests::Fixture;
use tmcp_domain::{Clock, UserId};
use tmcp_http::ratelimit::{LimitRule, RateLimiter};
use tmcp_http::redis_link::{RedisLink, RedisSettings};
use tmcp_http::AppState;

const APP: &str = "ma_outage_app";
const PASSWORD: &str = "correct horse battery";
/// What a request may take once the outage is detected. Unloaded, these requests take a
/// few milliseconds; before the breaker each limiter call waited about 9.5 s. The bound
/// leaves room for a loaded shared test machine (whether Redis is skipped is checked
/// directly, and `ratelimit.rs` times a hung Redis, where only the breaker helps).
const FAST: Duration = Duration::from_secs(1);
/// The one request that meets the outage first, bounded by the timeouts below.
const DETECTION: Duration = Duration::from_secs(2);
const SETTINGS: RedisSettings = RedisSettings {
    connect_timeout: Duration::from_millis(200),
    command_timeout: Duration::from_millis(200),
    breaker_open: Duration::from_millis(300),
};

struct Env {
    fixture: Fixture,
    state: AppState,
    redis: PrivateRedis,
    /// Reads the private Redis directly, to see which buckets live there.
    inspect: redis::Client,
    namespace: String,
}

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    json: Value,
    took: Duration,
}

impl Reply {
    fn remaining(&self) -> Option<u32> {
        self.headers
            .get("x-ratelimit-remaining")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
    }
}

async fn setup(fixture: Fixture) -> Env {
    let redis = PrivateRedis::start().await;
    let client = redis::Client::open(redis.url()).expect("redis url");
    let link = RedisLink::connect(client.clone(), SETTINGS)
        .await
        .expect("private redis answers");
    let clock: Arc<dyn Clock> = Arc::new(fixture.clock.clone());
    let mut state = tmcp_http::testing::state(Arc::clone(&fixture.db), clock).await;
    let namespace = format!("outage-{}", uuid::Uuid::new_v4().simple());
    state.redis = Some(link.clone());
    state.limiter = Arc::new(RateLimiter::new(Some(link), namespace.clone()));
    // One token per 10 s: nothing refills while a test runs, so every count is exact.
    std::sync::Arc::make_mut(&mut state.settings).storage.rate =
        LimitRule::per_minute("storage", 6, 5);
    Env {
        fixture,
        state,
        redis,
        inspect: client,
        namespace,
    }
}

impl Env {
    async fn send(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        let mut request = Request::builder().method(method).uri(path);
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let body = match body {
            Some(value) => {
                request = request.header("content-type", "application/json");
                Body::from(value.to_string())
            }
            None => Body::empty(),
        };
        let mut request = request.body(body).expect("request");
        let peer: SocketAddr = "198.51.100.7:40000".parse().expect("addr");
        request.extensions_mut().insert(ConnectInfo(peer));
        let started = Instant::now();
        let (status, headers, bytes) = crate::support::call_router(&self.state, request).await;
        Reply {
            status,
            headers,
            json: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
            took: started.elapsed(),
        }
    }

    async fn ready(&self) -> Reply {
        self.send(Method::GET, "/ready", None, None).await
    }

    /// Polls `/ready` until Redis is reported `ok` again (the breaker closed).
    async fn wait_until_redis_is_back(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let ready = self.ready().await;
            assert_eq!(ready.status, StatusCode::OK, "{}", ready.json);
            if ready.json["redis"] == "ok" {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "Redis never reported back: {}",
                ready.json
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Rate-limit buckets of `rule` stored in the private Redis.
    async fn buckets_in_redis(&self, rule: &str) -> Vec<String> {
        let mut conn = self
            .inspect
            .get_multiplexed_async_connection()
            .await
            .expect("inspection connection");
        redis::cmd("KEYS")
            .arg(format!("{}:rl:{rule}:*", self.namespace))
            .query_async(&mut conn)
            .await
            .expect("KEYS")
    }

    async fn user(&self, name: &str) -> UserId {
        seed::user(&self.fixture, name).await
    }

    async fn storage_token(&self, user: UserId) -> String {
        let now = self.fixture.clock.now();
        let lifetime = Some(time::Duration::days(30));
        seed::tep(&self.state, now, Some(user), APP, "storage:read", lifetime).await
    }

    async fn login(&self, password: &str) -> Reply {
        self.send(
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some(json!({"login": "dora", "password": password})),
        )
        .await
    }
}

async fn new_client(env: &Env) {
    seed::client(&env.fixture, APP, "Outage app", &["storage:read"]).await;
}

async fn storage_limits_hold_through_a_redis_outage(mut env: Env) {
    new_client(&env).await;
    let alice = env.user("alice").await;
    let bob = env.user("bob").await;
    let alice_token = env.storage_token(alice).await;
    let bob_token = env.storage_token(bob).await;
    let quota = "/api/v1/storage/quota";

    let first = env.send(Method::GET, quota, Some(&alice_token), None).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.json);
    assert_eq!(first.remaining(), Some(4));
    assert_eq!(
        env.buckets_in_redis("storage").await.len(),
        1,
        "shared bucket"
    );
    let ready = env.ready().await;
    assert_eq!(ready.json["redis"], "ok", "{}", ready.json);

    env.redis.stop();
    // In-process buckets start full and count down one by one, every request fast (the
    // first one pays for detecting the outage, bounded by the timeouts).
    let mut remaining = Vec::new();
    for i in 0..5 {
        let reply = env.send(Method::GET, quota, Some(&alice_token), None).await;
        assert_eq!(reply.status, StatusCode::OK, "request {i}: {}", reply.json);
        let bound = if i == 0 { DETECTION } else { FAST };
        assert!(reply.took < bound, "request {i} took {:?}", reply.took);
        remaining.push(reply.remaining().expect("remaining header"));
    }
    assert_eq!(remaining, [4, 3, 2, 1, 0], "counts are exact in-process");
    assert!(
        !env.state.limiter.is_shared(),
        "breaker open: Redis is skipped"
    );
    let refused = env.send(Method::GET, quota, Some(&alice_token), None).await;
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(refused.took < FAST, "{:?}", refused.took);
    assert!(refused.headers.contains_key("retry-after"));
    assert_eq!(refused.remaining(), Some(0));

    let ready = env.ready().await;
    assert_eq!(ready.status, StatusCode::OK, "still serving");
    assert_eq!(ready.json["redis"], "degraded", "{}", ready.json);
    assert!(ready.took < FAST, "{:?}", ready.took);
    tokio::time::sleep(SETTINGS.breaker_open * 2).await;
    let later = env.send(Method::GET, quota, Some(&bob_token), None).await;
    assert_eq!(later.status, StatusCode::OK);
    assert!(
        later.took < FAST,
        "probes never block requests: {:?}",
        later.took
    );

    env.redis.restart().await;
    env.wait_until_redis_is_back().await;
    // The refusal decided in-process is carried into Redis: no fresh burst after recovery.
    let still_refused = env.send(Method::GET, quota, Some(&alice_token), None).await;
    assert_eq!(still_refused.status, StatusCode::TOO_MANY_REQUESTS);
    // Bob's bucket lives in the (restarted, empty) Redis again, his in-process request
    // carried over: one taken before, one now.
    assert!(env.buckets_in_redis("storage").await.is_empty());
    let back = env.send(Method::GET, quota, Some(&bob_token), None).await;
    assert_eq!(back.status, StatusCode::OK, "{}", back.json);
    assert_eq!(back.remaining(), Some(3));
    let stored = env.buckets_in_redis("storage").await;
    assert_eq!(
        stored,
        [format!("{}:rl:storage:{bob}:{APP}", env.namespace)],
        "back in Redis"
    );
}

async fn login_lockout_holds_through_a_redis_outage(mut env: Env) {
    let registered = env
        .send(
            Method::POST,
            "/api/v1/auth/register",
            None,
            Some(json!({"username": "dora", "email": "dora@example.com", "password": PASSWORD})),
        )
        .await;
    assert_eq!(
        registered.status,
        StatusCode::CREATED,
        "{}",
        registered.json
    );

    env.redis.stop();
    // A login hashes a password (tens of milliseconds unloaded); before the breaker each
    // login waited for Redis for up to 38 s.
    let login_bound = DETECTION;
    for i in 0..5 {
        let wrong = env.login(&format!("guess {i}")).await;
        assert_eq!(
            wrong.status,
            StatusCode::UNAUTHORIZED,
            "attempt {i}: {}",
            wrong.json
        );
        assert!(
            wrong.took < login_bound,
            "attempt {i} took {:?}",
            wrong.took
        );
    }
    for i in 0..2 {
        let locked = env.login(PASSWORD).await;
        assert_eq!(
            locked.status,
            StatusCode::TOO_MANY_REQUESTS,
            "locked out in-process, every time ({i}): {}",
            locked.json
        );
        assert!(locked.headers.contains_key("retry-after"));
        assert!(locked.took < FAST, "{:?}", locked.took);
    }
    assert_eq!(env.ready().await.json["redis"], "degraded");

    env.redis.restart().await;
    env.wait_until_redis_is_back().await;
    let locked = env.login(PASSWORD).await;
    assert_eq!(
        locked.status,
        StatusCode::TOO_MANY_REQUESTS,
        "the lockout survives the return to Redis: {}",
        locked.json
    );
    assert!(
        !env.buckets_in_redis("login_ip").await.is_empty(),
        "attempts are counted in Redis again"
    );
}

on_both_engines!(
    setup = setup,
    runtime = (flavor = "multi_thread", worker_threads = 2);
    storage_limits_hold_through_a_redis_outage,
    login_lockout_holds_through_a_redis_outage,
);
