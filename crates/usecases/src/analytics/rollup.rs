//! The rollup run: recompute the buckets that new raw rows made dirty, and drop rollups past
//! their retention. Called by the `analytics_rollup` job and by tests.

use time::{Duration, OffsetDateTime};
use tmcp_domain::analytics::hour_of;
use tmcp_repository::{Database, RepoResult, RollupReport};

/// Rollup settings (`[analytics]` in the server's configuration).
#[derive(Debug, Clone)]
pub struct RollupSettings {
    /// Dirty marks consumed per batch.
    pub batch_size: i64,
    /// Raw rows are kept this long (`maintenance.analytics_retention_days`); buckets older
    /// than that are never recomputed (their raw rows may be gone).
    pub raw_retention: Duration,
    /// Rollups are kept this long.
    pub rollup_retention: Duration,
}

impl Default for RollupSettings {
    fn default() -> Self {
        Self {
            batch_size: 500,
            raw_retention: Duration::days(90),
            rollup_retention: Duration::days(730),
        }
    }
}

/// One bounded rollup batch at `now`.
pub async fn run(
    db: &dyn Database,
    now: OffsetDateTime,
    settings: &RollupSettings,
) -> RepoResult<RollupReport> {
    // One hour of margin past the raw cutoff: the partition or rows of that hour may be
    // partly gone.
    let oldest = hour_of(now - settings.raw_retention) + 1;
    db.roll_up(settings.batch_size, oldest).await
}

/// Removes up to `limit` rollup rows older than the rollup retention.
pub async fn purge(
    db: &dyn Database,
    now: OffsetDateTime,
    settings: &RollupSettings,
    limit: i64,
) -> RepoResult<u64> {
    db.purge_rollups_before(hour_of(now - settings.rollup_retention), limit)
        .await
}

/// Rolls up with `workers` concurrent runs until nothing is dirty. On PostgreSQL each run
/// takes marks the others have not locked, so the backlog is shared; SQLite has one writer,
/// so more workers only take turns.
pub async fn drain_parallel(
    db: &dyn Database,
    now: OffsetDateTime,
    settings: &RollupSettings,
    workers: usize,
) -> RepoResult<RollupReport> {
    let runs = (0..workers.max(1)).map(|_| drain(db, now, settings));
    let reports = futures::future::try_join_all(runs).await?;
    let mut total = RollupReport::default();
    for report in reports {
        total.marks += report.marks;
        total.buckets += report.buckets;
    }
    Ok(total)
}

/// Rolls up until nothing is dirty (tests, the benchmark, start-up).
pub async fn drain(
    db: &dyn Database,
    now: OffsetDateTime,
    settings: &RollupSettings,
) -> RepoResult<RollupReport> {
    let mut total = RollupReport::default();
    loop {
        let report = run(db, now, settings).await?;
        total.marks += report.marks;
        total.buckets += report.buckets;
        if report.marks == 0 {
            return Ok(total);
        }
    }
}
