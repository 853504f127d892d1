//! Background upkeep: monthly partitions ahead of time, analytics retention, the bounded
//! purge of expired storage entries (each (user, app) in its own short transaction that keeps
//! its quota exact and leaves tombstones) and of storage sync history past retention. Runs once
//! at start-up and then every interval.

use crate::config::MaintenanceConfig;
use std::sync::Arc;
use time::Duration;
use tmcp_domain::Clock;
use tmcp_repository::{Database, RepoResult};

/// What one run did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct MaintenanceReport {
    pub partitions_created: u32,
    pub partitions_dropped: u32,
    pub entries_purged: u64,
    /// Storage tombstones, finished sync operations and settled conflicts past retention.
    pub sync_history_purged: u64,
}

const MAX_PURGE_BATCHES: usize = 10;

pub async fn run_once(
    db: &dyn Database,
    clock: &dyn Clock,
    settings: &MaintenanceConfig,
) -> RepoResult<MaintenanceReport> {
    let now = clock.now();
    let partitions_created = db
        .ensure_partitions(now, settings.partition_months_ahead)
        .await?;
    let cutoff = (now - Duration::days(settings.analytics_retention_days)).date();
    let partitions_dropped = db.drop_analytics_partitions_before(cutoff).await?;
    let mut entries_purged = 0;
    for _ in 0..MAX_PURGE_BATCHES {
        let purged = db.purge_expired(now, settings.purge_batch_size).await?;
        entries_purged += purged;
        if purged < settings.purge_batch_size.unsigned_abs() {
            break;
        }
    }
    let sync_cutoff = now - Duration::days(settings.storage_sync_retention_days);
    let mut sync_history_purged = 0;
    for _ in 0..MAX_PURGE_BATCHES {
        let purged = db
            .purge_sync_history(sync_cutoff, settings.purge_batch_size)
            .await?;
        sync_history_purged += purged;
        if purged == 0 {
            break;
        }
    }
    Ok(MaintenanceReport {
        partitions_created,
        partitions_dropped,
        entries_purged,
        sync_history_purged,
    })
}

/// Spawns the periodic job; it stops when `shutdown` fires.
pub fn spawn(
    db: Arc<dyn Database>,
    clock: Arc<dyn Clock>,
    settings: MaintenanceConfig,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticker =
            tokio::time::interval(std::time::Duration::from_secs(settings.interval_secs));
        ticker.tick().await; // the first tick is immediate; start-up already ran once
        loop {
            tokio::select! {
                _ = ticker.tick() => {
                    match run_once(db.as_ref(), clock.as_ref(), &settings).await {
                        Ok(report) => tracing::info!(?report, "maintenance run finished"),
                        Err(e) => tracing::error!(error = %e, "maintenance run failed"),
                    }
                }
                _ = shutdown.changed() => break,
            }
        }
    })
}
