//! Lifecycle analytics (API §6): batched ingestion of raw events, the hourly rollups and the
//! stats read from them. The rules live in `tmcp_domain::analytics`.

use crate::RepoResult;
use async_trait::async_trait;
use serde_json::Value;
use time::OffsetDateTime;
use tmcp_domain::analytics::{Counts, RawBucket};
use tmcp_domain::UserId;
use uuid::Uuid;

/// A lifecycle event to store (`app_lifecycle_events`).
#[derive(Debug, Clone, PartialEq)]
pub struct NewLifecycleEvent {
    pub id: Uuid,
    pub app_id: String,
    pub user_id: Option<UserId>,
    pub device_id: Option<String>,
    pub event_type: String,
    pub event_data: Value,
    pub at: OffsetDateTime,
}

/// A usage event to store (`app_usage_analytics`).
#[derive(Debug, Clone, PartialEq)]
pub struct NewUsageEvent {
    pub id: Uuid,
    pub app_id: String,
    pub user_id: Option<UserId>,
    pub device_id: Option<String>,
    pub session_id: String,
    pub event_type: String,
    pub duration_seconds: Option<i32>,
    pub event_data: Value,
    pub at: OffsetDateTime,
}

/// A performance metric to store (`app_performance_metrics`).
#[derive(Debug, Clone, PartialEq)]
pub struct NewMetric {
    pub id: Uuid,
    pub app_id: String,
    pub version: String,
    pub metric_type: String,
    pub value: f64,
    pub device_info: Option<Value>,
    pub at: OffsetDateTime,
}

/// One batch of one kind, written in one statement with its dirty-bucket marks, in one
/// transaction.
#[derive(Debug, Clone, PartialEq)]
pub enum IngestBatch {
    Lifecycle(Vec<NewLifecycleEvent>),
    Usage(Vec<NewUsageEvent>),
    Metrics(Vec<NewMetric>),
}

/// What a rollup run did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RollupReport {
    /// Dirty marks consumed.
    pub marks: u64,
    /// (app, hour) buckets recomputed (including the start hours of sessions that changed).
    pub buckets: u64,
}

/// A stats query over the rollups: consecutive periods given by their boundaries, as hour
/// numbers in ascending order (at least two). Period `i` is the hours
/// `[boundaries[i], boundaries[i + 1])`; a row's `period` is that `i`. The use case computes
/// the boundaries from the time zone, so a local day may span 23, 24 or 25 hours.
/// Consecutive boundaries may be equal (an empty period).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatsQuery {
    pub app_id: String,
    pub boundaries: Vec<i64>,
    /// Users active in period `i` beyond its hours' rollups: those of the parts of hours the
    /// use case read from the raw events (a local day starting at `:30` or `:45` UTC).
    /// They count in that period's distinct users and in the range's.
    pub extra_users: Vec<(i64, Uuid)>,
}

impl StatsQuery {
    /// The first hour of the range.
    pub fn from_hour(&self) -> i64 {
        self.boundaries.first().copied().unwrap_or(0)
    }

    /// The first hour after the range.
    pub fn to_hour(&self) -> i64 {
        self.boundaries.last().copied().unwrap_or(0)
    }

    /// The period holding `hour`, if it is in the range.
    pub fn period_of(&self, hour: i64) -> Option<i64> {
        if hour < self.from_hour() || hour >= self.to_hour() {
            return None;
        }
        let i = self.boundaries.partition_point(|b| *b <= hour);
        i64::try_from(i).ok().map(|i| i - 1)
    }

    /// Hourly session-length rows `(hour, length_seconds, sessions)` summed per period:
    /// `(period, length_seconds, sessions)` in that order; hours outside the range are
    /// dropped. Both engines read the hourly histogram rows and fold them here.
    pub fn sessions_per_period(
        &self,
        rows: impl IntoIterator<Item = (i64, i64, i64)>,
    ) -> Vec<(i64, i64, i64)> {
        let mut histogram: std::collections::BTreeMap<(i64, i64), i64> =
            std::collections::BTreeMap::new();
        for (hour, length, sessions) in rows {
            if let Some(period) = self.period_of(hour) {
                *histogram.entry((period, length)).or_default() += sessions;
            }
        }
        histogram
            .into_iter()
            .map(|((period, length), sessions)| (period, length, sessions))
            .collect()
    }

    /// Hourly active-user rows `(hour, user)` folded into the distinct users of each
    /// period, ascending by period (periods without users left out), and the distinct users
    /// over the whole range; hours outside the range are dropped. The rows are one per
    /// (hour, user), so an app reads a few thousand of them for a month: two hash sets here
    /// cost less than the database's two distinct aggregates over the same rows (a sort per
    /// period and a hash), and the one read serves both figures.
    /// `extra` are (period, user) pairs counted as they are (see `extra_users`).
    pub fn active_users_per_period<U: Eq + std::hash::Hash + Clone>(
        &self,
        rows: impl IntoIterator<Item = (i64, U)>,
        extra: impl IntoIterator<Item = (i64, U)>,
    ) -> (Vec<(i64, i64)>, i64) {
        let mut per_period: std::collections::HashSet<(i64, U)> = std::collections::HashSet::new();
        let mut everyone: std::collections::HashSet<U> = std::collections::HashSet::new();
        let in_range = rows
            .into_iter()
            .filter_map(|(hour, user)| self.period_of(hour).map(|period| (period, user)));
        for (period, user) in in_range.chain(extra) {
            everyone.insert(user.clone());
            per_period.insert((period, user));
        }
        let mut counts: std::collections::BTreeMap<i64, i64> = std::collections::BTreeMap::new();
        for (period, _) in &per_period {
            *counts.entry(*period).or_default() += 1;
        }
        let total = i64::try_from(everyone.len()).unwrap_or(i64::MAX);
        (counts.into_iter().collect(), total)
    }

    /// Load-time histogram rows `(version, value in 0.1 ms, samples)` of any hours summed
    /// per (version, value), ascending by version then value.
    pub fn load_times_summed(
        rows: impl IntoIterator<Item = (String, i64, i64)>,
    ) -> Vec<(String, i64, i64)> {
        let mut histogram: std::collections::BTreeMap<(String, i64), i64> =
            std::collections::BTreeMap::new();
        for (version, tenths, samples) in rows {
            *histogram.entry((version, tenths)).or_default() += samples;
        }
        histogram
            .into_iter()
            .map(|((version, tenths), samples)| (version, tenths, samples))
            .collect()
    }

    /// The boundaries as a JSON array (`[417000, 417024, …]`), for engines that read them
    /// with `json_each`.
    pub fn boundaries_json(&self) -> String {
        let items: Vec<String> = self.boundaries.iter().map(i64::to_string).collect();
        format!("[{}]", items.join(","))
    }
}

/// Per-period counters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PeriodCounts {
    pub period: i64,
    /// Installs, uninstalls, updates and launches (closes are not read).
    pub counts: Counts,
}

/// What the stats read from the rollups; percentiles are taken by the caller.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatsRows {
    pub counts: Vec<PeriodCounts>,
    /// (period, distinct active users).
    pub active_users: Vec<(i64, i64)>,
    /// Distinct active users over the whole range.
    pub total_active_users: i64,
    /// (period, length in seconds, sessions), ascending by period then length.
    pub session_lengths: Vec<(i64, i64, i64)>,
    /// (version, load time in 0.1 ms, samples), ascending by version then value.
    pub load_times: Vec<(String, i64, i64)>,
    /// (version, sessions reported, crashing sessions), ascending by version.
    pub crashes: Vec<(String, i64, i64)>,
}

#[async_trait]
pub trait AnalyticsRepository: Send + Sync {
    /// Stores the batch in one statement and marks the (app, hour) buckets it touches dirty,
    /// in one transaction: all of it or nothing.
    async fn ingest(&self, batch: IngestBatch, marked_at: OffsetDateTime) -> RepoResult<()>;

    /// One bounded rollup run; `marks == 0` in the report means nothing was left to do.
    /// PostgreSQL recomputes the buckets of up to `limit` dirty marks from the raw rows (and
    /// the start hours of the sessions with events in them), replacing their rollups; a mark
    /// is removed only with the recomputation that saw its rows. SQLite adds up to
    /// `limit × 20` rows of each raw table committed since its last run (`marks` then counts
    /// them in twenties) and clears the marks once it reaches the newest rows. Buckets that
    /// start before `oldest_hour` (raw rows past retention) are left as they are.
    async fn roll_up(&self, limit: i64, oldest_hour: i64) -> RepoResult<RollupReport>;

    /// When the oldest dirty mark still waiting was made.
    async fn oldest_dirty_mark(&self) -> RepoResult<Option<OffsetDateTime>>;

    /// Removes up to `limit` rollup rows of hours before `hour`; how many went.
    async fn purge_rollups_before(&self, hour: i64, limit: i64) -> RepoResult<u64>;

    async fn stats(&self, query: &StatsQuery) -> RepoResult<StatsRows>;

    /// The raw rows of `app_id` in each span `[lo, hi)` (each within one hour), in the
    /// order given, as the rollup of a bucket reads them: lifecycle counts, users, every
    /// event of the sessions with an event in the span, and the span's metrics.
    async fn raw_spans(
        &self,
        app_id: &str,
        spans: &[(OffsetDateTime, OffsetDateTime)],
    ) -> RepoResult<Vec<RawBucket>>;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two days of 24 hours from hour 1,000.
    fn two_days() -> StatsQuery {
        StatsQuery {
            app_id: "app".into(),
            boundaries: vec![1_000, 1_024, 1_048],
            extra_users: Vec::new(),
        }
    }

    #[test]
    fn a_user_counts_once_per_period_and_once_over_the_range() {
        let rows = [
            (1_000, 'a'),
            (1_001, 'a'),
            (1_001, 'b'),
            (1_030, 'a'),
            (1_047, 'c'),
            // Outside the range on either side: not counted anywhere.
            (999, 'd'),
            (1_048, 'd'),
        ];
        let (per_period, total) = two_days().active_users_per_period(rows, []);
        assert_eq!(per_period, vec![(0, 2), (1, 2)]);
        assert_eq!(total, 3);
    }

    #[test]
    fn extra_users_join_their_period_and_the_range_once() {
        let rows = [(1_000, 'a'), (1_030, 'b')];
        // 'a' again in period 0 counts once; 'c' only from the extras; 'b' in period 0 too.
        let extra = [(0, 'a'), (0, 'b'), (1, 'c')];
        let (per_period, total) = two_days().active_users_per_period(rows, extra);
        assert_eq!(per_period, vec![(0, 2), (1, 2)]);
        assert_eq!(total, 3);
    }

    #[test]
    fn an_empty_period_between_equal_boundaries_holds_no_hour() {
        let q = StatsQuery {
            app_id: "app".into(),
            boundaries: vec![1_000, 1_010, 1_010, 1_011],
            extra_users: Vec::new(),
        };
        assert_eq!(q.period_of(1_009), Some(0));
        assert_eq!(q.period_of(1_010), Some(2));
        assert_eq!(q.period_of(1_011), None);
    }

    #[test]
    fn no_rows_means_no_periods_and_no_users() {
        let (per_period, total) = two_days().active_users_per_period(Vec::<(i64, u8)>::new(), []);
        assert!(per_period.is_empty());
        assert_eq!(total, 0);
    }

    #[test]
    fn load_times_of_the_same_version_and_value_add_up() {
        let summed = StatsQuery::load_times_summed([
            ("2.0".to_string(), 15, 1),
            ("1.0".to_string(), 20, 2),
            ("1.0".to_string(), 10, 1),
            ("1.0".to_string(), 20, 3),
        ]);
        assert_eq!(
            summed,
            vec![
                ("1.0".to_string(), 10, 1),
                ("1.0".to_string(), 20, 5),
                ("2.0".to_string(), 15, 1)
            ]
        );
    }
}
