//! Lifecycle analytics on SQLite: a batch is one multi-row `INSERT … VALUES (…), (…)`,
//! committed with the other batches waiting at that moment in one group transaction on the
//! writer, plus one statement for the group's dirty-bucket marks (`analytics_ingest.rs`);
//! the rollup reads its buckets on a reader snapshot and rewrites them in writer
//! transactions (several buckets each), writing a bucket only while a mark the snapshot saw
//! is still there.

use crate::analytics_recompute::read_span;
use crate::analytics_rollup::Positions;
use crate::time_text::{from_text, to_text};
use crate::{map_sqlx_error, SqliteDatabase};
use async_trait::async_trait;
use sqlx::error::BoxDynError;
use sqlx::sqlite::SqliteArguments;
use sqlx::{Arguments, QueryBuilder, Sqlite, SqliteConnection};
use std::collections::{BTreeMap, BTreeSet};
use time::OffsetDateTime;
use tmcp_domain::analytics::{hour_of, Counts, RawBucket};
use tmcp_repository::{
    AnalyticsRepository, IngestBatch, PeriodCounts, RepoError, RepoResult, RollupReport,
    StatsQuery, StatsRows,
};
use uuid::Uuid;

pub(crate) const ROLLUP_TABLES: [&str; 5] = [
    "analytics_hourly",
    "analytics_hourly_users",
    "analytics_hourly_sessions",
    "analytics_hourly_load_times",
    "analytics_hourly_crashes",
];

pub(crate) async fn mark_dirty(
    conn: &mut SqliteConnection,
    buckets: &BTreeSet<(String, i64)>,
    marked_at: OffsetDateTime,
) -> RepoResult<()> {
    let marks = buckets.iter().map(|b| (b.clone(), marked_at)).collect();
    insert_marks(conn, &marks).await
}

/// One mark row per bucket, each with its own time (a group commit stamps each bucket with
/// the earliest request that touched it).
pub(crate) async fn insert_marks(
    conn: &mut SqliteConnection,
    marks: &BTreeMap<(String, i64), OffsetDateTime>,
) -> RepoResult<()> {
    let rows: Vec<(&str, i64, String)> = marks
        .iter()
        .map(|((app, hour), at)| (app.as_str(), *hour, to_text(*at)))
        .collect();
    // 3 values a row, far below SQLite's 32766 variables per statement.
    for chunk in rows.chunks(5000) {
        let mut query: QueryBuilder<Sqlite> =
            QueryBuilder::new("INSERT INTO analytics_dirty_buckets (app_id, hour, marked_at) ");
        query.push_values(chunk, |mut row, (app, hour, at)| {
            row.push_bind(*app).push_bind(*hour).push_bind(at.as_str());
        });
        query
            .build()
            .execute(&mut *conn)
            .await
            .map_err(map_sqlx_error)?;
    }
    Ok(())
}

/// A batch's multi-row `INSERT`, built before the batch reaches the writer: the statement
/// text and bound values own everything, so the writer task only hands it to SQLite (the
/// one writer used to wait while its task formatted timestamps and bound values).
pub(crate) struct PreparedInsert {
    sql: String,
    args: SqliteArguments<'static>,
}

const LIFECYCLE_COLUMNS: [&str; 7] = [
    "event_id",
    "app_id",
    "user_id",
    "device_id",
    "event_type",
    "event_data",
    "\"timestamp\"",
];
const USAGE_COLUMNS: [&str; 9] = [
    "id",
    "app_id",
    "user_id",
    "device_id",
    "session_id",
    "event_type",
    "duration_seconds",
    "event_data",
    "\"timestamp\"",
];
const METRIC_COLUMNS: [&str; 7] = [
    "id",
    "app_id",
    "version",
    "metric_type",
    "metric_value",
    "device_info",
    "\"timestamp\"",
];

/// `INSERT INTO table (columns…) VALUES (?, …), …` with `bind` adding each row's values in
/// the order of `columns`.
fn prepared<R>(
    table: &str,
    columns: &[&str],
    rows: &[R],
    bind: impl Fn(&mut SqliteArguments<'static>, &R) -> Result<(), BoxDynError>,
) -> RepoResult<PreparedInsert> {
    let mut args = SqliteArguments::default();
    args.reserve(rows.len() * columns.len(), 0);
    for row in rows {
        bind(&mut args, row).map_err(|error| {
            RepoError::Internal(format!("cannot bind an analytics value: {error}"))
        })?;
    }
    let placeholders = format!("({})", vec!["?"; columns.len()].join(", "));
    let sql = format!(
        "INSERT INTO {table} ({}) VALUES {}",
        columns.join(", "),
        vec![placeholders; rows.len()].join(", ")
    );
    Ok(PreparedInsert { sql, args })
}

pub(crate) fn prepare_insert(batch: &IngestBatch) -> RepoResult<PreparedInsert> {
    match batch {
        IngestBatch::Lifecycle(rows) => prepared(
            "app_lifecycle_events",
            &LIFECYCLE_COLUMNS,
            rows,
            |args, r| {
                args.add(r.id)?;
                args.add(r.app_id.clone())?;
                args.add(r.user_id.map(|u| u.0))?;
                args.add(r.device_id.clone())?;
                args.add(r.event_type.clone())?;
                args.add(r.event_data.to_string())?;
                args.add(to_text(r.at))
            },
        ),
        IngestBatch::Usage(rows) => {
            prepared("app_usage_analytics", &USAGE_COLUMNS, rows, |args, r| {
                args.add(r.id)?;
                args.add(r.app_id.clone())?;
                args.add(r.user_id.map(|u| u.0))?;
                args.add(r.device_id.clone())?;
                args.add(r.session_id.clone())?;
                args.add(r.event_type.clone())?;
                args.add(r.duration_seconds)?;
                args.add(r.event_data.to_string())?;
                args.add(to_text(r.at))
            })
        }
        IngestBatch::Metrics(rows) => prepared(
            "app_performance_metrics",
            &METRIC_COLUMNS,
            rows,
            |args, r| {
                args.add(r.id)?;
                args.add(r.app_id.clone())?;
                args.add(r.version.clone())?;
                args.add(r.metric_type.clone())?;
                args.add(r.value)?;
                args.add(r.device_info.as_ref().map(|v| v.to_string()))?;
                args.add(to_text(r.at))
            },
        ),
    }
}

/// Runs a prepared batch (once: its values move into the statement).
pub(crate) async fn insert_prepared(
    conn: &mut SqliteConnection,
    insert: &mut PreparedInsert,
) -> RepoResult<()> {
    let args = std::mem::take(&mut insert.args);
    sqlx::query_with(&insert.sql, args)
        .execute(conn)
        .await
        .map_err(map_sqlx_error)?;
    Ok(())
}

pub(crate) fn touched(batch: &IngestBatch) -> BTreeSet<(String, i64)> {
    match batch {
        IngestBatch::Lifecycle(rows) => rows
            .iter()
            .map(|r| (r.app_id.clone(), hour_of(r.at)))
            .collect(),
        IngestBatch::Usage(rows) => rows
            .iter()
            .map(|r| (r.app_id.clone(), hour_of(r.at)))
            .collect(),
        IngestBatch::Metrics(rows) => rows
            .iter()
            .map(|r| (r.app_id.clone(), hour_of(r.at)))
            .collect(),
    }
}

#[async_trait]
impl AnalyticsRepository for SqliteDatabase {
    async fn ingest(&self, batch: IngestBatch, marked_at: OffsetDateTime) -> RepoResult<()> {
        self.ingest
            .ingest(&self.writer, &self.checkpointer, batch, marked_at)
            .await
    }

    async fn roll_up(&self, limit: i64, oldest_hour: i64) -> RepoResult<RollupReport> {
        self.roll_up_new_rows(limit, oldest_hour).await
    }

    async fn oldest_dirty_mark(&self) -> RepoResult<Option<OffsetDateTime>> {
        let row: (Option<String>,) =
            sqlx::query_as("SELECT min(marked_at) FROM analytics_dirty_buckets")
                .fetch_one(&self.reader)
                .await
                .map_err(map_sqlx_error)?;
        row.0.as_deref().map(from_text).transpose()
    }

    async fn purge_rollups_before(&self, hour: i64, limit: i64) -> RepoResult<u64> {
        let mut purged = 0;
        for table in ROLLUP_TABLES {
            // Table names come from the fixed list above; the tables are WITHOUT ROWID, so
            // the bound is on the primary key.
            let done = sqlx::query(&format!(
                "DELETE FROM {table} WHERE (app_id, hour) IN \
                 (SELECT app_id, hour FROM {table} WHERE hour < $1 LIMIT $2)"
            ))
            .bind(hour)
            .bind(limit)
            .execute(&self.writer)
            .await
            .map_err(map_sqlx_error)?;
            purged += done.rows_affected();
        }
        Ok(purged)
    }

    async fn stats(&self, q: &StatsQuery) -> RepoResult<StatsRows> {
        let mut conn = self.reader.acquire().await.map_err(map_sqlx_error)?;
        // Periods come from `json_each` of the boundaries; `CROSS JOIN` keeps them the outer
        // loop, so each period is one range scan of the rollup table's primary key.
        let boundaries = q.boundaries_json();
        let counts: Vec<(i64, i64, i64, i64, i64)> = sqlx::query_as(
            "WITH b(p, lo, hi) AS (SELECT key, value, lead(value) OVER (ORDER BY key) \
             FROM json_each($4)) SELECT b.p, sum(h.installs), sum(h.uninstalls), sum(h.updates), \
             sum(h.launches) FROM b CROSS JOIN analytics_hourly h \
             WHERE h.app_id = $1 AND h.hour >= $2 AND h.hour < $3 \
               AND h.hour >= b.lo AND h.hour < b.hi GROUP BY b.p ORDER BY b.p",
        )
        .bind(&q.app_id)
        .bind(q.from_hour())
        .bind(q.to_hour())
        .bind(&boundaries)
        .fetch_all(&mut *conn)
        .await
        .map_err(map_sqlx_error)?;
        let (active_users, total_active_users) = if q.extra_users.is_empty() {
            distinct_users_in_sql(&mut conn, q, &boundaries).await?
        } else {
            // Users from raw spans to merge: the (hour, user) rows are folded here instead,
            // as on PostgreSQL (only zones whose days start at :30 or :45 take this path).
            let rows: Vec<(i64, Uuid)> = range_rows(
                &mut conn,
                q,
                "SELECT hour, user_id FROM analytics_hourly_users \
                 WHERE app_id = $1 AND hour >= $2 AND hour < $3",
            )
            .await?;
            q.active_users_per_period(rows, q.extra_users.iter().copied())
        };
        // The histogram rows as stored, summed per period here: lengths are nearly unique per
        // app and hour, so grouping in SQL (a temporary B-tree over every row) merged almost
        // nothing and cost ~20 × the plain range read.
        let session_rows: Vec<(i64, i64, i64)> = range_rows(
            &mut conn,
            q,
            "SELECT hour, length_seconds, sessions FROM analytics_hourly_sessions \
             WHERE app_id = $1 AND hour >= $2 AND hour < $3",
        )
        .await?;
        let session_lengths = q.sessions_per_period(session_rows);
        let mut load_times: Vec<(String, i64, i64)> = range_rows(
            &mut conn,
            q,
            "SELECT version, value_tenths, sum(samples) FROM analytics_hourly_load_times \
             WHERE app_id = $1 AND hour >= $2 AND hour < $3 GROUP BY version, value_tenths",
        )
        .await?;
        load_times.sort();
        let mut crashes: Vec<(String, i64, i64)> = range_rows(
            &mut conn,
            q,
            "SELECT version, sum(reports), sum(crashing) FROM analytics_hourly_crashes \
             WHERE app_id = $1 AND hour >= $2 AND hour < $3 GROUP BY version",
        )
        .await?;
        crashes.sort();
        Ok(StatsRows {
            counts: counts
                .into_iter()
                .map(
                    |(period, installs, uninstalls, updates, launches)| PeriodCounts {
                        period,
                        counts: Counts {
                            installs,
                            uninstalls,
                            updates,
                            launches,
                            closes: 0,
                        },
                    },
                )
                .collect(),
            active_users,
            total_active_users,
            session_lengths,
            load_times,
            crashes,
        })
    }

    async fn raw_spans(
        &self,
        app_id: &str,
        spans: &[(OffsetDateTime, OffsetDateTime)],
    ) -> RepoResult<Vec<RawBucket>> {
        if spans.is_empty() {
            return Ok(Vec::new());
        }
        let mut conn = self.reader.acquire().await.map_err(map_sqlx_error)?;
        let mut raw = Vec::with_capacity(spans.len());
        for span in spans {
            let read = read_span(&mut conn, app_id, *span, Positions::EVERY_ROW).await?;
            raw.push(read.raw);
        }
        Ok(raw)
    }
}

/// Distinct users per period and over the range, counted by SQLite itself.
async fn distinct_users_in_sql(
    conn: &mut SqliteConnection,
    q: &StatsQuery,
    boundaries: &str,
) -> RepoResult<(Vec<(i64, i64)>, i64)> {
    // One correlated subquery per period: each counts its own range of the primary key
    // with a small DISTINCT of its own, where a join grouped by period built one temporary
    // B-tree for the grouping and one for the DISTINCT over every row (~10 × slower at
    // 3 M events).
    let active_users: Vec<(i64, i64)> = sqlx::query_as(
        "WITH b(p, lo, hi) AS (SELECT key, value, lead(value) OVER (ORDER BY key) \
         FROM json_each($2)) SELECT p, n FROM (SELECT b.p AS p, \
           (SELECT count(DISTINCT h.user_id) FROM analytics_hourly_users h \
             WHERE h.app_id = $1 AND h.hour >= b.lo AND h.hour < b.hi) AS n \
         FROM b WHERE b.hi IS NOT NULL) WHERE n > 0 ORDER BY p",
    )
    .bind(&q.app_id)
    .bind(boundaries)
    .fetch_all(&mut *conn)
    .await
    .map_err(map_sqlx_error)?;
    let (total_active_users,): (i64,) = sqlx::query_as(
        "SELECT count(DISTINCT user_id) FROM analytics_hourly_users \
         WHERE app_id = $1 AND hour >= $2 AND hour < $3",
    )
    .bind(&q.app_id)
    .bind(q.from_hour())
    .bind(q.to_hour())
    .fetch_one(&mut *conn)
    .await
    .map_err(map_sqlx_error)?;
    Ok((active_users, total_active_users))
}

/// The rows `sql` reads over the query's hour range: its `$1`, `$2` and `$3` are the app
/// and the first and the next-after-last hour.
async fn range_rows<O>(conn: &mut SqliteConnection, q: &StatsQuery, sql: &str) -> RepoResult<Vec<O>>
where
    O: for<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow> + Send + Unpin,
{
    sqlx::query_as(sql)
        .bind(&q.app_id)
        .bind(q.from_hour())
        .bind(q.to_hour())
        .fetch_all(conn)
        .await
        .map_err(map_sqlx_error)
}
