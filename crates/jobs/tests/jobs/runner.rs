//! The runner: per-job metrics, failures counted, and a clean stop that lets the batch in
//! flight finish and starts no other.

use async_trait::async_trait;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use time::OffsetDateTime;
use tmcp_contract_tests::START;
use tmcp_domain::{Clock, ManualClock};
use tmcp_jobs::{Job, Runner};

fn recorder() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        PrometheusBuilder::new()
            .install_recorder()
            .expect("the test binary's recorder")
    })
}

struct Counting {
    name: &'static str,
    runs: AtomicU64,
    finished: AtomicU64,
    fail: bool,
    batch_time: Duration,
}

impl Counting {
    fn new(name: &'static str, fail: bool, batch_time: Duration) -> Arc<Self> {
        Arc::new(Self {
            name,
            runs: AtomicU64::new(0),
            finished: AtomicU64::new(0),
            fail,
            batch_time,
        })
    }
}

#[async_trait]
impl Job for Counting {
    fn name(&self) -> &'static str {
        self.name
    }
    fn interval(&self) -> Duration {
        Duration::from_millis(10)
    }
    fn batch_limit(&self) -> u64 {
        100
    }
    async fn run_batch(&self, _now: OffsetDateTime) -> anyhow::Result<u64> {
        self.runs.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(self.batch_time).await;
        self.finished.fetch_add(1, Ordering::SeqCst);
        if self.fail {
            anyhow::bail!("this job always fails");
        }
        Ok(3)
    }
    async fn oldest_due(&self, now: OffsetDateTime) -> anyhow::Result<Option<OffsetDateTime>> {
        Ok(Some(now - time::Duration::seconds(42)))
    }
}

async fn wait_until(condition: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !condition() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "condition met in time"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn metric_value(text: &str, name: &str, job: &str) -> Option<f64> {
    let prefix = format!("{name}{{job=\"{job}\"}} ");
    text.lines()
        .find_map(|line| line.strip_prefix(&prefix))
        .and_then(|v| v.trim().parse().ok())
}

#[tokio::test]
async fn runs_items_failures_last_success_and_lag_are_recorded() {
    let handle = recorder();
    let clock = ManualClock::new(*START);
    let good = Counting::new("metrics_good", false, Duration::ZERO);
    let bad = Counting::new("metrics_bad", true, Duration::ZERO);
    let running = Runner::new(Arc::new(clock.clone()))
        .with(good.clone())
        .with(bad.clone())
        .spawn();
    wait_until(|| good.runs.load(Ordering::SeqCst) >= 2 && bad.runs.load(Ordering::SeqCst) >= 1)
        .await;
    tokio::time::sleep(Duration::from_millis(30)).await; // the lag is recorded after a tick
    running.stop().await;
    let text = handle.render();
    let runs = metric_value(&text, "tmcp_job_runs_total", "metrics_good").expect("runs");
    assert!(runs >= 2.0, "{text}");
    assert_eq!(
        metric_value(&text, "tmcp_job_items_total", "metrics_good"),
        Some(runs * 3.0)
    );
    assert_eq!(
        metric_value(
            &text,
            "tmcp_job_last_success_timestamp_seconds",
            "metrics_good"
        ),
        Some(clock.now().unix_timestamp() as f64)
    );
    assert_eq!(
        metric_value(&text, "tmcp_job_lag_seconds", "metrics_good"),
        Some(42.0)
    );
    let failures = metric_value(&text, "tmcp_job_failures_total", "metrics_bad");
    assert!(failures.is_some_and(|f| f >= 1.0), "{text}");
    assert_eq!(
        metric_value(
            &text,
            "tmcp_job_last_success_timestamp_seconds",
            "metrics_bad"
        ),
        None
    );
}

#[tokio::test]
async fn stopping_lets_the_batch_in_flight_finish_and_starts_no_other() {
    let slow = Counting::new("slow_stop", false, Duration::from_secs(1));
    let running = Runner::new(Arc::new(ManualClock::new(*START)))
        .with(slow.clone())
        .spawn();
    wait_until(|| slow.runs.load(Ordering::SeqCst) >= 1).await;
    assert_eq!(slow.runs.load(Ordering::SeqCst), 1);
    assert_eq!(slow.finished.load(Ordering::SeqCst), 0, "in flight");
    tokio::time::timeout(Duration::from_secs(5), running.stop())
        .await
        .expect("stops promptly");
    assert_eq!(
        slow.finished.load(Ordering::SeqCst),
        1,
        "the batch finished"
    );
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(
        slow.runs.load(Ordering::SeqCst),
        1,
        "no batch after the stop"
    );
}
