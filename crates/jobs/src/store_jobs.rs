//! The store's background work: `store_rankings` recomputes every app's ranking inputs
//! (live installs, active users of the last 30 days, rating count and Bayesian mean, the
//! popularity blend) in one statement per run, as of the runner's clock. Listings read
//! these columns, so installs and reviews never write to a hot app row; a listing's order
//! is at most one interval old (docs/store_search.md). Safe to run in several workers: each
//! run rewrites the same figures from the same rows.

use crate::runner::Job;
use async_trait::async_trait;
use std::sync::Arc;
use std::time::Duration;
use time::OffsetDateTime;
use tmcp_repository::Database;

/// Default interval of `store_rankings`.
pub const DEFAULT_RANKINGS_INTERVAL: Duration = Duration::from_secs(600);

pub struct StoreRankingsJob {
    pub db: Arc<dyn Database>,
    pub interval: Duration,
}

#[async_trait]
impl Job for StoreRankingsJob {
    fn name(&self) -> &'static str {
        "store_rankings"
    }

    fn interval(&self) -> Duration {
        self.interval
    }

    /// One run covers every app: a run is never "full", so none follows at once.
    fn batch_limit(&self) -> u64 {
        u64::MAX
    }

    /// The apps whose figures changed.
    async fn run_batch(&self, now: OffsetDateTime) -> anyhow::Result<u64> {
        Ok(self.db.refresh_rankings(now).await?)
    }
}
