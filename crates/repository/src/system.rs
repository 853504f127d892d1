use crate::RepoResult;
use async_trait::async_trait;
use time::{Date, OffsetDateTime};

/// Health and upkeep that belong to no user: used by readiness checks and background jobs.
#[async_trait]
pub trait SystemRepository: Send + Sync {
    /// `"postgres"` or `"sqlite"`, for logs and metrics labels.
    fn engine(&self) -> &'static str;
    /// A cheap round trip proving the database answers.
    async fn ping(&self) -> RepoResult<()>;
    /// Connection pool gauges: (open connections, idle connections).
    fn pool_stats(&self) -> (u32, u32);
    /// Creates the time partitions needed from last month to `months_ahead` months after
    /// `now`; returns how many were created. A no-op on engines without partitioning.
    async fn ensure_partitions(&self, now: OffsetDateTime, months_ahead: i32) -> RepoResult<u32>;
    /// Drops analytics partitions entirely older than `cutoff` (retention); returns the count.
    async fn drop_analytics_partitions_before(&self, cutoff: Date) -> RepoResult<u32>;
    /// The applied migrations recorded in `schema_migrations` (version, description).
    async fn applied_migrations(&self) -> RepoResult<Vec<(String, String)>>;
}
