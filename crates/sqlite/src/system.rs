use crate::{map_sqlx_error, SqliteDatabase};
use async_trait::async_trait;
use time::{Date, OffsetDateTime};
use tmcp_domain::analytics::METRIC_TYPES;
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
        // None of the three tables has an index on time alone (migration 0018 dropped the
        // raw event tables' ones; metrics never had one): old rows are found app by app
        // through each table's `(app_id, …, "timestamp")` index, CROSS JOIN keeping `apps`
        // the outer loop. On metrics the index has `metric_type` in between, so its values
        // (all of them: the column's CHECK allows no other) are listed to reach `"timestamp"`.
        // The row with the largest rowid is never deleted: SQLite gives a new row the largest
        // rowid plus one, and deleting the largest would hand its rowid (and those below it)
        // out again, under the rollup's positions (migration 0020), unrolled.
        let metric_types = METRIC_TYPES.map(|t| format!("'{t}'")).join(", ");
        let statements = [
            ("app_lifecycle_events", String::new()),
            ("app_usage_analytics", String::new()),
            (
                "app_performance_metrics",
                format!("AND t.metric_type IN ({metric_types}) "),
            ),
        ]
        .map(|(table, filter)| {
            format!(
                "DELETE FROM {table} WHERE rowid IN (SELECT t.rowid FROM apps AS a \
                 CROSS JOIN {table} AS t WHERE t.app_id = a.app_id {filter}\
                 AND t.\"timestamp\" < $1 \
                 AND t.rowid < (SELECT max(rowid) FROM {table}) LIMIT {RETENTION_BATCH})"
            )
        });
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
