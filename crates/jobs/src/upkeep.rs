//! Database upkeep as jobs: monthly partitions ahead of time and analytics retention
//! (`partitions`), the bounded purge of expired storage entries, each (user, app) in its own
//! short transaction that keeps its quota exact and leaves tombstones (`storage_expiry`), and
//! of storage sync history past retention (`storage_sync_history`). The binary also does all
//! of it once at start-up, before serving ([`run_once`]).

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

/// Partition upkeep: monthly partitions ahead of time, analytics partitions past retention
/// dropped.
pub struct PartitionsJob {
    pub db: Arc<dyn Database>,
    pub settings: UpkeepSettings,
}

/// Expired storage entries, one bounded batch at a time (a full batch is followed at once by
/// another, so a backlog drains).
pub struct StorageExpiryJob {
    pub db: Arc<dyn Database>,
    pub settings: UpkeepSettings,
}

/// Storage tombstones, finished sync operations and settled conflicts past retention.
pub struct SyncHistoryJob {
    pub db: Arc<dyn Database>,
    pub settings: UpkeepSettings,
}

/// The upkeep jobs, in the order the start-up run does their work.
pub fn jobs(db: Arc<dyn Database>, settings: UpkeepSettings) -> Vec<Arc<dyn Job>> {
    vec![
        Arc::new(PartitionsJob {
            db: db.clone(),
            settings: settings.clone(),
        }),
        Arc::new(StorageExpiryJob {
            db: db.clone(),
            settings: settings.clone(),
        }),
        Arc::new(SyncHistoryJob { db, settings }),
    ]
}

#[async_trait]
impl Job for PartitionsJob {
    fn name(&self) -> &'static str {
        "partitions"
    }

    fn interval(&self) -> StdDuration {
        self.settings.interval
    }

    /// The binary runs upkeep once at start-up, before serving.
    fn skip_first_tick(&self) -> bool {
        true
    }

    /// One run does all of it; never chained.
    fn batch_limit(&self) -> u64 {
        u64::MAX
    }

    async fn run_batch(&self, now: OffsetDateTime) -> anyhow::Result<u64> {
        let created = self
            .db
            .ensure_partitions(now, self.settings.partition_months_ahead)
            .await?;
        let cutoff = (now - Duration::days(self.settings.analytics_retention_days)).date();
        let dropped = self.db.drop_analytics_partitions_before(cutoff).await?;
        if created + dropped > 0 {
            tracing::info!(created, dropped, "partition upkeep");
        }
        Ok(u64::from(created) + u64::from(dropped))
    }
}

#[async_trait]
impl Job for StorageExpiryJob {
    fn name(&self) -> &'static str {
        "storage_expiry"
    }

    fn interval(&self) -> StdDuration {
        self.settings.interval
    }

    fn skip_first_tick(&self) -> bool {
        true
    }

    fn batch_limit(&self) -> u64 {
        self.settings.purge_batch_size.unsigned_abs()
    }

    async fn run_batch(&self, now: OffsetDateTime) -> anyhow::Result<u64> {
        Ok(self
            .db
            .purge_expired(now, self.settings.purge_batch_size)
            .await?)
    }
}

#[async_trait]
impl Job for SyncHistoryJob {
    fn name(&self) -> &'static str {
        "storage_sync_history"
    }

    fn interval(&self) -> StdDuration {
        self.settings.interval
    }

    fn skip_first_tick(&self) -> bool {
        true
    }

    fn batch_limit(&self) -> u64 {
        self.settings.purge_batch_size.unsigned_abs()
    }

    async fn run_batch(&self, now: OffsetDateTime) -> anyhow::Result<u64> {
        let cutoff = now - Duration::days(self.settings.storage_sync_retention_days);
        Ok(self
            .db
            .purge_sync_history(cutoff, self.settings.purge_batch_size)
            .await?)
    }
}
