//! The jobs runner: each named job runs in its own task every `interval`, in bounded
//! batches. A batch that came back full is followed at once by another (up to a limit), so
//! a backlog drains without waiting for the next tick. On shutdown no new batch starts and
//! the batch in flight finishes; if the process is killed instead, what a batch claimed is
//! retried later when its lease expires (jobs claim their work under leases for this).
//!
//! Metrics per job (label `job`): `tmcp_job_runs_total`, `tmcp_job_failures_total`,
//! `tmcp_job_items_total`, `tmcp_job_last_success_timestamp_seconds` and
//! `tmcp_job_lag_seconds` (age of the oldest due item, 0 when nothing is due).

use async_trait::async_trait;
use std::sync::Arc;
use std::time::Duration;
use time::OffsetDateTime;
use tmcp_domain::Clock;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub const RUNS_TOTAL: &str = "tmcp_job_runs_total";
pub const FAILURES_TOTAL: &str = "tmcp_job_failures_total";
pub const ITEMS_TOTAL: &str = "tmcp_job_items_total";
pub const LAST_SUCCESS: &str = "tmcp_job_last_success_timestamp_seconds";
pub const LAG_SECONDS: &str = "tmcp_job_lag_seconds";

/// Full batches run back to back at most this many times before the job waits for its next
/// tick (so one job cannot monopolise the database).
const MAX_BATCHES_PER_TICK: usize = 20;

/// A periodic job.
#[async_trait]
pub trait Job: Send + Sync + 'static {
    /// Stable name, used as the metrics label and in logs.
    fn name(&self) -> &'static str;
    fn interval(&self) -> Duration;
    /// The most items one batch handles; a batch that reports this many is followed by
    /// another at once.
    fn batch_limit(&self) -> u64;
    /// Does one bounded batch of work due at `now`; returns how many items it handled.
    async fn run_batch(&self, now: OffsetDateTime) -> anyhow::Result<u64>;
    /// Wait one interval before the first batch (for work the process already did at
    /// start-up, such as the upkeep run before serving).
    fn skip_first_tick(&self) -> bool {
        false
    }
    /// When the oldest item still due at `now` became due, for the lag metric.
    async fn oldest_due(&self, _now: OffsetDateTime) -> anyhow::Result<Option<OffsetDateTime>> {
        Ok(None)
    }
}

/// The jobs of one process.
pub struct Runner {
    jobs: Vec<Arc<dyn Job>>,
    clock: Arc<dyn Clock>,
}

/// Running jobs; [`RunnerHandle::stop`] ends them cleanly.
pub struct RunnerHandle {
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Runner {
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            jobs: Vec::new(),
            clock,
        }
    }

    pub fn with(mut self, job: Arc<dyn Job>) -> Self {
        self.jobs.push(job);
        self
    }

    pub fn job_names(&self) -> Vec<&'static str> {
        self.jobs.iter().map(|j| j.name()).collect()
    }

    pub fn spawn(self) -> RunnerHandle {
        let (stop, stopped) = watch::channel(false);
        let tasks = self
            .jobs
            .into_iter()
            .map(|job| tokio::spawn(run_job(job, self.clock.clone(), stopped.clone())))
            .collect();
        RunnerHandle { stop, tasks }
    }
}

impl RunnerHandle {
    /// Starts no new batch and waits for the batches in flight to finish.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        for task in self.tasks {
            if let Err(e) = task.await {
                tracing::error!(error = %e, "job task ended abnormally");
            }
        }
    }

    /// Ends the job tasks at once, wherever they are (as a crash would): work they claimed
    /// is retried after its lease expires.
    pub fn abort(self) {
        for task in self.tasks {
            task.abort();
        }
    }
}

async fn run_job(job: Arc<dyn Job>, clock: Arc<dyn Clock>, mut stopped: watch::Receiver<bool>) {
    let name = job.name();
    // Every series exists from the start, so dashboards and alerts see a job that never ran.
    metrics::counter!(RUNS_TOTAL, "job" => name).increment(0);
    metrics::counter!(FAILURES_TOTAL, "job" => name).increment(0);
    metrics::counter!(ITEMS_TOTAL, "job" => name).increment(0);
    let mut ticker = tokio::time::interval(job.interval());
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    if job.skip_first_tick() {
        ticker.tick().await; // the first tick of an interval is immediate
    }
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = stopped.changed() => break,
        }
        for _ in 0..MAX_BATCHES_PER_TICK {
            if *stopped.borrow() {
                return;
            }
            let full = run_once(job.as_ref(), clock.as_ref()).await;
            if !full {
                break;
            }
        }
        record_lag(job.as_ref(), clock.as_ref()).await;
        if *stopped.borrow() {
            break;
        }
    }
    tracing::debug!(job = name, "job stopped");
}

/// Runs one batch and records its metrics; true when the batch was full.
pub async fn run_once(job: &dyn Job, clock: &dyn Clock) -> bool {
    let name = job.name();
    metrics::counter!(RUNS_TOTAL, "job" => name).increment(1);
    let now = clock.now();
    match job.run_batch(now).await {
        Ok(items) => {
            metrics::counter!(ITEMS_TOTAL, "job" => name).increment(items);
            metrics::gauge!(LAST_SUCCESS, "job" => name).set(clock.now().unix_timestamp() as f64);
            if items > 0 {
                tracing::debug!(job = name, items, "job batch done");
            }
            items >= job.batch_limit()
        }
        Err(e) => {
            metrics::counter!(FAILURES_TOTAL, "job" => name).increment(1);
            tracing::error!(job = name, error = %format!("{e:#}"), "job batch failed");
            false
        }
    }
}

async fn record_lag(job: &dyn Job, clock: &dyn Clock) {
    let now = clock.now();
    match job.oldest_due(now).await {
        Ok(oldest) => {
            let lag = oldest.map_or(0.0, |due| (now - due).as_seconds_f64().max(0.0));
            metrics::gauge!(LAG_SECONDS, "job" => job.name()).set(lag);
        }
        Err(e) => tracing::warn!(job = job.name(), error = %e, "job lag unknown"),
    }
}
