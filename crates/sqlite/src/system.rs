use crate::{map_sqlx_error, SqliteDatabase};
use async_trait::async_trait;
use time::{Date, OffsetDateTime};
use tmcp_repository::{RepoResult, SystemRepository};

/// Rows one retention statement deletes.
const RETENTION_BATCH: u64 = 5000;

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
        // The raw event tables have no index on time alone (migration 0018): their old rows
        // are found app by app through `(app_id, "timestamp")`; CROSS JOIN keeps `apps` the
        // outer loop. The metrics table finds them through its own index.
        let raw_events = |table: &str, key: &str| {
            format!(
                "DELETE FROM {table} WHERE {key} IN (SELECT t.{key} FROM apps AS a \
                 CROSS JOIN {table} AS t WHERE t.app_id = a.app_id \
                 AND t.\"timestamp\" < $1 LIMIT {RETENTION_BATCH})"
            )
        };
        let statements = [
            raw_events("app_lifecycle_events", "event_id"),
            raw_events("app_usage_analytics", "id"),
            format!(
                "DELETE FROM app_performance_metrics WHERE rowid IN (SELECT rowid \
                 FROM app_performance_metrics WHERE \"timestamp\" < $1 LIMIT {RETENTION_BATCH})"
            ),
        ];
        for statement in &statements {
            // Table names come from the fixed list above, never from input. Bounded batches,
            // so the single writer is never held for long by one huge delete.
            loop {
                let done = sqlx::query(statement)
                    .bind(&cutoff)
                    .execute(&self.writer)
                    .await
                    .map_err(map_sqlx_error)?;
                if done.rows_affected() < RETENTION_BATCH {
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
