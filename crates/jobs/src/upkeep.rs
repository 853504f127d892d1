//! Database upkeep as a job: monthly partitions ahead of time, analytics retention, the
//! bounded purge of expired storage entries (each (user, app) in its own short transaction
//! that keeps its quota exact and leaves tombstones) and of storage sync history past
//! retention. The binary also runs it once at start-up, before serving.

use crate::runner::Job;
use async_trait::async_trait;
use std::sync::Arc;
use std::time::Duration as StdDuration;
use time::{Duration, OffsetDateTime};
use tmcp_repository::{Database, RepoResult};

/// Upkeep settings (`[maintenance]` in the server's configuration).
#[derive(Debug, Clone)]
pub struct UpkeepSettings {
    pub interval: StdDuration,
    pub partition_months_ahead: i32,
    pub analytics_retention_days: i64,
    /// Expired storage entries removed per batch; a run does at most 10 batches.
    pub purge_batch_size: i64,
    pub storage_sync_retention_days: i64,
}

/// What one run did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct UpkeepReport {
    pub partitions_created: u32,
    pub partitions_dropped: u32,
    pub entries_purged: u64,
    /// Storage tombstones, finished sync operations and settled conflicts past retention.
    pub sync_history_purged: u64,
}

impl UpkeepReport {
    fn items(&self) -> u64 {
        u64::from(self.partitions_created)
            + u64::from(self.partitions_dropped)
            + self.entries_purged
            + self.sync_history_purged
    }
}

const MAX_PURGE_BATCHES: usize = 10;

/// One full upkeep run at `now`.
pub async fn run_once(
    db: &dyn Database,
    now: OffsetDateTime,
    settings: &UpkeepSettings,
) -> RepoResult<UpkeepReport> {
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
    Ok(UpkeepReport {
        partitions_created,
        partitions_dropped,
        entries_purged,
        sync_history_purged,
    })
}

/// The periodic upkeep job.
pub struct UpkeepJob {
    pub db: Arc<dyn Database>,
    pub settings: UpkeepSettings,
}

#[async_trait]
impl Job for UpkeepJob {
    fn name(&self) -> &'static str {
        "upkeep"
    }

    fn interval(&self) -> StdDuration {
        self.settings.interval
    }

    /// The binary runs upkeep once at start-up, before serving.
    fn skip_first_tick(&self) -> bool {
        true
    }

    /// A run is already bounded (10 purge batches of each kind); never chain runs.
    fn batch_limit(&self) -> u64 {
        u64::MAX
    }

    async fn run_batch(&self, now: OffsetDateTime) -> anyhow::Result<u64> {
        let report = run_once(self.db.as_ref(), now, &self.settings).await?;
        tracing::info!(?report, "upkeep run finished");
        Ok(report.items())
    }
}
