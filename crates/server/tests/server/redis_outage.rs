//! The binary's Redis wiring over real TCP, on both engines: the `[redis]` settings reach
//! the connection, a killed Redis costs requests no time, `/ready` stays 200 and says
//! `degraded`, `/metrics` exposes the breaker, and everything returns when Redis does.
//! One test, alone in a child process of the test binary: the breaker gauge is process-wide.

use std::sync::Arc;
use std::time::{Duration, Instant};
use tmcp_contract_tests::engines::fresh_database;
use tmcp_contract_tests::isolation::alone_in_child_process;
use tmcp_contract_tests::redis_server::PrivateRedis;
use tmcp_domain::SystemClock;
use tmcp_server::config::{Config, RedisConfig};
use tmcp_server::serve;

async fn get(url: &str) -> (u16, String, Duration) {
    let started = Instant::now();
    let response = reqwest::get(url).await.expect("request sent");
    let status = response.status().as_u16();
    let body = response.text().await.expect("body");
    (status, body, started.elapsed())
}

async fn ready(base: &str) -> serde_json::Value {
    let (status, body, took) = get(&format!("{base}/ready")).await;
    assert_eq!(status, 200, "{body}");
    assert!(took < Duration::from_millis(500), "/ready took {took:?}");
    serde_json::from_str(&body).expect("json")
}

/// The value of an unlabelled metric in the Prometheus text.
async fn metric(base: &str, name: &str) -> Option<f64> {
    let (_, text, _) = get(&format!("{base}/metrics")).await;
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
}

async fn outage_is_survived_reported_and_measured(database_url: Option<String>) {
    let mut redis = PrivateRedis::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let config = Config {
        listen: "127.0.0.1:0".into(),
        data_dir: dir.path().to_path_buf(),
        database_url,
        redis_url: Some(redis.url()),
        redis: RedisConfig {
            connect_timeout_ms: 200,
            command_timeout_ms: 200,
            breaker_open_ms: 300,
        },
        ..Config::default()
    };
    let server = serve::start(&config, Arc::new(SystemClock))
        .await
        .expect("starts");
    let base = format!("http://{}", server.addr);
    assert_eq!(ready(&base).await["redis"], "ok");
    assert_eq!(metric(&base, "tmcp_redis_breaker_open").await, Some(0.0));

    redis.stop();
    // A rate-limited route (by client address; 401 without a token): the first request
    // detects the outage within the timeouts, the following ones do not touch Redis.
    let limited = format!("{base}/api/v1/storage/quota");
    for i in 0..5 {
        let (status, body, took) = get(&limited).await;
        assert_eq!(status, 401, "{body}");
        let bound = Duration::from_millis(if i == 0 { 1000 } else { 200 });
        assert!(took < bound, "request {i} took {took:?}");
    }
    let degraded = ready(&base).await;
    assert_eq!(
        (degraded["status"].as_str(), degraded["redis"].as_str()),
        (Some("ready"), Some("degraded"))
    );
    assert_eq!(metric(&base, "tmcp_redis_breaker_open").await, Some(1.0));
    assert!(metric(&base, "tmcp_redis_breaker_trips_total")
        .await
        .is_some_and(|trips| trips >= 1.0));

    redis.restart().await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while ready(&base).await["redis"] != "ok" {
        assert!(Instant::now() < deadline, "Redis never reported back");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(metric(&base, "tmcp_redis_breaker_open").await, Some(0.0));
    server.stop().await.expect("clean stop");
}

/// One test, engines in turn, alone in its process: concurrent servers would race on the
/// process-wide gauge.
#[tokio::test]
async fn both_engines_survive_a_redis_outage() {
    // Another server rendering /metrics would move the process-wide gauge.
    if !alone_in_child_process(module_path!(), "both_engines_survive_a_redis_outage") {
        return;
    }
    outage_is_survived_reported_and_measured(None).await;
    let (db, url, _guard) = fresh_database().await;
    drop(db);
    outage_is_survived_reported_and_measured(Some(url)).await;
}
