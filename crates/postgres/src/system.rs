use crate::{map_sqlx_error, PgDatabase};
use async_trait::async_trait;
use time::{Date, OffsetDateTime};
use tmcp_repository::{RepoResult, SystemRepository};

/// Time-series tables whose old partitions may be dropped for retention. Payments are money
/// history and are never dropped.
const ANALYTICS_TABLES: [&str; 3] = [
    "app_lifecycle_events",
    "app_usage_analytics",
    "app_performance_metrics",
];

#[async_trait]
impl SystemRepository for PgDatabase {
    fn engine(&self) -> &'static str {
        "postgres"
    }

    async fn ping(&self) -> RepoResult<()> {
        sqlx::query("SELECT 1")
            .execute(self.app())
            .await
            .map_err(map_sqlx_error)?;
        Ok(())
    }

    fn pool_stats(&self) -> (u32, u32) {
        (
            self.primary_app.size(),
            u32::try_from(self.primary_app.num_idle()).unwrap_or(u32::MAX),
        )
    }

    async fn ensure_partitions(&self, now: OffsetDateTime, months_ahead: i32) -> RepoResult<u32> {
        let (created,): (i32,) = sqlx::query_as("SELECT tmcp_ensure_all_partitions($1, $2)")
            .bind(now.date())
            .bind(months_ahead)
            .fetch_one(self.system())
            .await
            .map_err(map_sqlx_error)?;
        Ok(u32::try_from(created).unwrap_or(0))
    }

    async fn drop_analytics_partitions_before(&self, cutoff: Date) -> RepoResult<u32> {
        let mut dropped = 0;
        for table in ANALYTICS_TABLES {
            let (count,): (i32,) =
                sqlx::query_as("SELECT tmcp_drop_partitions_before($1::regclass, $2)")
                    .bind(table)
                    .bind(cutoff)
                    .fetch_one(self.system())
                    .await
                    .map_err(map_sqlx_error)?;
            dropped += u32::try_from(count).unwrap_or(0);
        }
        Ok(dropped)
    }

    async fn applied_migrations(&self) -> RepoResult<Vec<(String, String)>> {
        sqlx::query_as("SELECT version, description FROM schema_migrations ORDER BY version")
            .fetch_all(self.system())
            .await
            .map_err(map_sqlx_error)
    }
}
