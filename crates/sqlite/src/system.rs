use crate::{map_sqlx_error, SqliteDatabase};
use async_trait::async_trait;
use time::{Date, OffsetDateTime};
use tmcp_repository::{RepoResult, SystemRepository};

#[async_trait]
impl SystemRepository for SqliteDatabase {
    fn engine(&self) -> &'static str {
        "sqlite"
    }

    async fn ping(&self) -> RepoResult<()> {
        sqlx::query("SELECT 1")
            .execute(&self.reader)
            .await
            .map_err(map_sqlx_error)?;
        Ok(())
    }

    fn pool_stats(&self) -> (u32, u32) {
        let size = self.reader.size() + self.writer.size();
        let idle = self.reader.num_idle() + self.writer.num_idle();
        (size, u32::try_from(idle).unwrap_or(u32::MAX))
    }

    /// SQLite has no partitions; time-series tables are single tables with timestamp indexes.
    async fn ensure_partitions(&self, _now: OffsetDateTime, _months_ahead: i32) -> RepoResult<u32> {
        Ok(0)
    }

    /// Retention on SQLite deletes old rows instead of dropping partitions; reports 0
    /// partitions because there are none.
    async fn drop_analytics_partitions_before(&self, cutoff: Date) -> RepoResult<u32> {
        let cutoff = format!("{cutoff}T00:00:00.000000Z");
        for table in [
            "app_lifecycle_events",
            "app_usage_analytics",
            "app_performance_metrics",
        ] {
            // Table names come from the fixed list above, never from input. Bounded batches,
            // so the single writer is never held for long by one huge delete.
            loop {
                let done = sqlx::query(&format!(
                    "DELETE FROM {table} WHERE rowid IN (SELECT rowid FROM {table} \
                     WHERE \"timestamp\" < $1 LIMIT 5000)"
                ))
                .bind(&cutoff)
                .execute(&self.writer)
                .await
                .map_err(map_sqlx_error)?;
                if done.rows_affected() < 5000 {
                    break;
                }
            }
        }
        Ok(0)
    }

    async fn applied_migrations(&self) -> RepoResult<Vec<(String, String)>> {
        sqlx::query_as("SELECT version, description FROM schema_migrations ORDER BY version")
            .fetch_all(&self.reader)
            .await
            .map_err(map_sqlx_error)
    }
}
