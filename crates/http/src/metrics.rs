//! Prometheus metrics. The recorder is process-wide (the `metrics` facade has one global
//! recorder), installed once and shared by every router built in the process.

use crate::middleware::metrics::RequestSeries;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::sync::{Arc, OnceLock};

pub const REQUESTS_TOTAL: &str = "tmcp_http_requests_total";
pub const REQUEST_DURATION: &str = "tmcp_http_request_duration_seconds";
/// Client connections currently open (gauge).
pub const OPEN_CONNECTIONS: &str = "tmcp_http_open_connections";
pub const DB_POOL_CONNECTIONS: &str = "tmcp_db_pool_connections";
pub const DB_POOL_IDLE: &str = "tmcp_db_pool_idle_connections";
/// 1 while the Redis breaker is open (rate limits in-process), 0 while Redis is in use.
pub const REDIS_BREAKER_OPEN: &str = "tmcp_redis_breaker_open";
/// The read replica's replay lag in seconds at its last probe (0 when it has replayed
/// everything it received); only with `database_replica_url`.
pub const DB_REPLICA_LAG: &str = "tmcp_db_replica_lag_seconds";
/// 1 while lag-tolerant reads go to the replica, 0 while they go to the primary (the
/// replica is down, lagging past the bound, or not probed yet).
pub const DB_REPLICA_SERVING: &str = "tmcp_db_replica_serving";
/// How often the Redis breaker opened (one per outage).
pub const REDIS_BREAKER_TRIPS: &str = "tmcp_redis_breaker_trips_total";

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

#[derive(Clone)]
pub struct Metrics {
    handle: Option<PrometheusHandle>,
    /// The per-request series, kept by handle (see `middleware::metrics`).
    pub requests: Arc<RequestSeries>,
}

/// How often histogram samples are folded into their buckets.
const UPKEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

/// The recorder keeps every histogram sample until it is folded into the buckets, which
/// otherwise happens only when `/metrics` is scraped: a busy server nobody scrapes would
/// grow by 8 bytes per request. One thread per process folds them on a timer, so memory
/// stays bounded (about rate × 5 s × 8 bytes) whether or not Prometheus is watching.
fn spawn_upkeep(handle: PrometheusHandle) {
    let spawned = std::thread::Builder::new()
        .name("metrics-upkeep".into())
        .spawn(move || loop {
            std::thread::sleep(UPKEEP_EVERY);
            handle.run_upkeep();
        });
    if let Err(error) = spawned {
        tracing::warn!(%error, "cannot start the metrics upkeep thread; histograms are folded only when scraped");
    }
}

impl Metrics {
    /// Installs the global recorder on first use; later calls share it.
    pub fn install() -> Self {
        let handle = HANDLE.get_or_init(|| {
            let buckets = [
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
            ];
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Full(REQUEST_DURATION.to_owned()), &buckets)
                .ok()?;
            let handle = builder.install_recorder().ok()?;
            spawn_upkeep(handle.clone());
            Some(handle)
        });
        Self {
            handle: handle.clone(),
            requests: Arc::default(),
        }
    }

    pub fn render(&self) -> String {
        self.handle
            .as_ref()
            .map(PrometheusHandle::render)
            .unwrap_or_default()
    }
}
