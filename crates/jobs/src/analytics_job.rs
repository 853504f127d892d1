//! `analytics_rollup`: recomputes the hourly rollups of the (app, hour) buckets that new
//! events made dirty (docs/analytics.md), in bounded batches, and removes rollups past their
//! retention. Safe to run in several workers: on PostgreSQL each run takes marks the others
//! have not locked (`SKIP LOCKED`) and recomputes its buckets from the raw rows under
//! per-bucket locks, and a dirty mark is removed only with the recomputation that saw its
//! rows; on SQLite each run adds the rows committed since the last one (their rowids grow in
//! commit order) and runs take turns.

use crate::runner::Job;
use async_trait::async_trait;
use std::sync::Arc;
use std::time::Duration;
use time::OffsetDateTime;
use tmcp_repository::Database;
use tmcp_usecases::analytics::rollup::{self, RollupSettings};

pub struct AnalyticsRollupJob {
    pub db: Arc<dyn Database>,
    pub settings: RollupSettings,
    pub interval: Duration,
}

#[async_trait]
impl Job for AnalyticsRollupJob {
    fn name(&self) -> &'static str {
        "analytics_rollup"
    }

    fn interval(&self) -> Duration {
        self.interval
    }

    fn batch_limit(&self) -> u64 {
        self.settings.batch_size.unsigned_abs()
    }

    async fn run_batch(&self, now: OffsetDateTime) -> anyhow::Result<u64> {
        let report = rollup::run(self.db.as_ref(), now, &self.settings).await?;
        if report.marks < self.batch_limit() {
            // Caught up: a bounded purge of rollups past retention.
            rollup::purge(
                self.db.as_ref(),
                now,
                &self.settings,
                self.settings.batch_size,
            )
            .await?;
        }
        Ok(report.marks)
    }

    async fn oldest_due(&self, _now: OffsetDateTime) -> anyhow::Result<Option<OffsetDateTime>> {
        Ok(self.db.oldest_dirty_mark().await?)
    }
}
