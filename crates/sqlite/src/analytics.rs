//! Lifecycle analytics on SQLite: a batch is one multi-row `INSERT … VALUES (…), (…)`,
//! committed with the other batches waiting at that moment in one group transaction on the
//! writer, plus one statement for the group's dirty-bucket marks (`analytics_ingest.rs`);
//! the rollup reads its buckets on a reader snapshot and rewrites them in writer
//! transactions (several buckets each), writing a bucket only while a mark the snapshot saw
//! is still there.

use crate::time_text::{from_text, to_text};
use crate::{map_sqlx_error, SqliteDatabase};
use async_trait::async_trait;
use sqlx::error::BoxDynError;
use sqlx::sqlite::SqliteArguments;
use sqlx::{Arguments, QueryBuilder, Sqlite, SqliteConnection};
use std::collections::{BTreeMap, BTreeSet};
use time::OffsetDateTime;
use tmcp_domain::analytics::{
    hour_of, hour_start, roll_up, HourRollup, MetricRow, RawBucket, UsageRow,
};
use tmcp_repository::{
    AnalyticsRepository, IngestBatch, PeriodCounts, RepoError, RepoResult, RollupReport,
    StatsQuery, StatsRows,
};
use uuid::Uuid;

/// Buckets per reader snapshot and per writer transaction: one commit (and WAL sync) for
/// many buckets, while ingestion waits for the writer only for their rollup rows.
const BUCKETS_PER_TRANSACTION: usize = 32;

const ROLLUP_TABLES: [&str; 5] = [
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

/// A bucket's raw rows, and the other hours its sessions have events in.
struct BucketRead {
    raw: RawBucket,
    /// Any of these may hold a session's start as far as an earlier rollup knew (events
    /// arrive out of order), so a change to this bucket's sessions re-rolls them too.
    session_hours: BTreeSet<i64>,
}

/// Reads a bucket's raw rows. The usage table is read once, through its
/// `(app_id, session_id, timestamp)` index: every event of the sessions that have an event in
/// the hour, with no upper bound on time. Later events than the domain's 25 hours cannot
/// change the rollup (they are past the session cap), and reading them here gives the other
/// hours of those sessions and, from the rows inside the hour, the hour's usage users —
/// what used to be two more passes over the same rows.
async fn read_bucket(
    conn: &mut SqliteConnection,
    app_id: &str,
    hour: i64,
) -> RepoResult<BucketRead> {
    let lo_at = hour_start(hour);
    let hi_at = hour_start(hour + 1);
    let lo = to_text(lo_at);
    let hi = to_text(hi_at);
    let lifecycle_counts: Vec<(String, i64)> = sqlx::query_as(
        "SELECT event_type, count(*) FROM app_lifecycle_events \
         WHERE app_id = $1 AND \"timestamp\" >= $2 AND \"timestamp\" < $3 GROUP BY event_type",
    )
    .bind(app_id)
    .bind(&lo)
    .bind(&hi)
    .fetch_all(&mut *conn)
    .await
    .map_err(map_sqlx_error)?;
    // Users of the hour that the session rows below do not carry: lifecycle events, and usage
    // events without a session (none from this server's ingestion, which requires one).
    let other_users: Vec<(Uuid,)> = sqlx::query_as(
        "SELECT user_id FROM app_lifecycle_events WHERE app_id = $1 AND \"timestamp\" >= $2 \
           AND \"timestamp\" < $3 AND user_id IS NOT NULL \
         UNION SELECT user_id FROM app_usage_analytics WHERE app_id = $1 \
           AND session_id IS NULL AND \"timestamp\" >= $2 AND \"timestamp\" < $3 \
           AND user_id IS NOT NULL",
    )
    .bind(app_id)
    .bind(&lo)
    .bind(&hi)
    .fetch_all(&mut *conn)
    .await
    .map_err(map_sqlx_error)?;
    let session_rows: Vec<(Option<Uuid>, String, bool, String)> = sqlx::query_as(
        "SELECT u.user_id, u.session_id, u.event_type = 'session_end', u.\"timestamp\" \
         FROM app_usage_analytics u \
         WHERE u.app_id = $1 AND u.session_id IN \
           (SELECT session_id FROM app_usage_analytics \
             WHERE app_id = $1 AND \"timestamp\" >= $2 AND \"timestamp\" < $3 \
               AND session_id IS NOT NULL)",
    )
    .bind(app_id)
    .bind(&lo)
    .bind(&hi)
    .fetch_all(&mut *conn)
    .await
    .map_err(map_sqlx_error)?;
    let metrics: Vec<(String, String, f64)> = sqlx::query_as(
        "SELECT version, metric_type, metric_value FROM app_performance_metrics \
         WHERE app_id = $1 AND \"timestamp\" >= $2 AND \"timestamp\" < $3 \
           AND metric_type IN ('load_time', 'crash_rate')",
    )
    .bind(app_id)
    .bind(&lo)
    .bind(&hi)
    .fetch_all(&mut *conn)
    .await
    .map_err(map_sqlx_error)?;
    let mut users: BTreeSet<Uuid> = other_users.into_iter().map(|(u,)| u).collect();
    let mut session_hours = BTreeSet::new();
    let mut usage = Vec::with_capacity(session_rows.len());
    for (user_id, session_id, is_end, at) in session_rows {
        let at = from_text(&at)?;
        if at >= lo_at && at < hi_at {
            users.extend(user_id);
        } else {
            session_hours.insert(hour_of(at));
        }
        usage.push(UsageRow {
            user_id,
            session_id,
            is_end,
            at,
        });
    }
    Ok(BucketRead {
        raw: RawBucket {
            lifecycle_counts,
            users: users.into_iter().collect(),
            session_rows: usage,
            metrics: metrics
                .into_iter()
                .map(|(version, metric_type, value)| MetricRow {
                    version,
                    metric_type,
                    value,
                })
                .collect(),
        },
        session_hours,
    })
}

async fn replace_rollup(
    conn: &mut SqliteConnection,
    app_id: &str,
    hour: i64,
    rollup: &HourRollup,
) -> RepoResult<()> {
    for table in ROLLUP_TABLES {
        // Table names come from the fixed list above.
        sqlx::query(&format!(
            "DELETE FROM {table} WHERE app_id = $1 AND hour = $2"
        ))
        .bind(app_id)
        .bind(hour)
        .execute(&mut *conn)
        .await
        .map_err(map_sqlx_error)?;
    }
    if rollup.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO analytics_hourly (app_id, hour, installs, uninstalls, updates, launches, \
         closes) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(app_id)
    .bind(hour)
    .bind(rollup.installs)
    .bind(rollup.uninstalls)
    .bind(rollup.updates)
    .bind(rollup.launches)
    .bind(rollup.closes)
    .execute(&mut *conn)
    .await
    .map_err(map_sqlx_error)?;
    // At most 3 values per row and SQLite's 32766 variables: chunks of 5000 rows.
    let users: Vec<Uuid> = rollup.users.iter().copied().collect();
    for chunk in users.chunks(5000) {
        let mut q: QueryBuilder<Sqlite> =
            QueryBuilder::new("INSERT INTO analytics_hourly_users (app_id, hour, user_id) ");
        q.push_values(chunk, |mut b, u| {
            b.push_bind(app_id).push_bind(hour).push_bind(*u);
        });
        q.build()
            .execute(&mut *conn)
            .await
            .map_err(map_sqlx_error)?;
    }
    let sessions: Vec<(i64, i64)> = rollup
        .session_lengths
        .iter()
        .map(|(l, n)| (*l, *n))
        .collect();
    for chunk in sessions.chunks(5000) {
        let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(
            "INSERT INTO analytics_hourly_sessions (app_id, hour, length_seconds, sessions) ",
        );
        q.push_values(chunk, |mut b, (l, n)| {
            b.push_bind(app_id)
                .push_bind(hour)
                .push_bind(*l)
                .push_bind(*n);
        });
        q.build()
            .execute(&mut *conn)
            .await
            .map_err(map_sqlx_error)?;
    }
    let loads: Vec<(&str, i64, i64)> = rollup
        .load_times
        .iter()
        .map(|((v, x), n)| (v.as_str(), *x, *n))
        .collect();
    for chunk in loads.chunks(5000) {
        let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(
            "INSERT INTO analytics_hourly_load_times (app_id, hour, version, value_tenths, \
             samples) ",
        );
        q.push_values(chunk, |mut b, (v, x, n)| {
            b.push_bind(app_id)
                .push_bind(hour)
                .push_bind(*v)
                .push_bind(*x)
                .push_bind(*n);
        });
        q.build()
            .execute(&mut *conn)
            .await
            .map_err(map_sqlx_error)?;
    }
    let crashes: Vec<(&str, i64, i64)> = rollup
        .crashes
        .iter()
        .map(|(v, (r, c))| (v.as_str(), *r, *c))
        .collect();
    for chunk in crashes.chunks(5000) {
        let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(
            "INSERT INTO analytics_hourly_crashes (app_id, hour, version, reports, crashing) ",
        );
        q.push_values(chunk, |mut b, (v, r, c)| {
            b.push_bind(app_id)
                .push_bind(hour)
                .push_bind(*v)
                .push_bind(*r)
                .push_bind(*c);
        });
        q.build()
            .execute(&mut *conn)
            .await
            .map_err(map_sqlx_error)?;
    }
    Ok(())
}

/// Every mark of the bucket, not only the ones this run took, after recomputing it inside a
/// transaction that holds the write lock (`BEGIN IMMEDIATE`): every mark in the table belongs
/// to rows that recomputation read. Under a steady stream of events into an
/// open hour each group commit adds a mark; deleting only the taken ones left the rest to
/// recompute the same growing bucket again, batch after batch, holding the one writer while
/// ingestion waited (measured: ingestion fell from ~600 to 2 requests/s after a minute).
async fn delete_bucket_marks(
    conn: &mut SqliteConnection,
    app_id: &str,
    hour: i64,
) -> RepoResult<()> {
    sqlx::query("DELETE FROM analytics_dirty_buckets WHERE app_id = $1 AND hour = $2")
        .bind(app_id)
        .bind(hour)
        .execute(&mut *conn)
        .await
        .map_err(map_sqlx_error)?;
    Ok(())
}

async fn delete_marks(conn: &mut SqliteConnection, ids: &[i64]) -> RepoResult<()> {
    for chunk in ids.chunks(5000) {
        let mut q: QueryBuilder<Sqlite> =
            QueryBuilder::new("DELETE FROM analytics_dirty_buckets WHERE id IN (");
        let mut list = q.separated(", ");
        for id in chunk {
            list.push_bind(*id);
        }
        q.push(")");
        q.build()
            .execute(&mut *conn)
            .await
            .map_err(map_sqlx_error)?;
    }
    Ok(())
}

/// A bucket's rollup as computed on a reader snapshot, or the bucket itself when it had no
/// mark in that snapshot (it is only here because a session of a dirty bucket has events in
/// it, or another run took its marks meanwhile).
enum Computed {
    OnSnapshot {
        app_id: String,
        hour: i64,
        /// The highest id among the bucket's marks in the snapshot: the rows of every mark up
        /// to it were read, and no later mark can have a smaller id (migration 0019).
        seen_mark: i64,
        rollup: HourRollup,
    },
    UnderWriteLock {
        app_id: String,
        hour: i64,
    },
}

async fn highest_bucket_mark(
    conn: &mut SqliteConnection,
    app_id: &str,
    hour: i64,
) -> RepoResult<Option<i64>> {
    let (seen,): (Option<i64>,) = sqlx::query_as(
        "SELECT max(id) FROM analytics_dirty_buckets WHERE app_id = $1 AND hour = $2",
    )
    .bind(app_id)
    .bind(hour)
    .fetch_one(conn)
    .await
    .map_err(map_sqlx_error)?;
    Ok(seen)
}

/// Deletes the marks a snapshot saw (later ones stay for the next run) and says whether
/// there were any. If none was left, another run wrote this bucket from a snapshot at least
/// as new as ours (it deleted every mark up to its own highest, which covers ours), and
/// writing ours would put older figures back.
async fn take_seen_marks(
    conn: &mut SqliteConnection,
    app_id: &str,
    hour: i64,
    seen_mark: i64,
) -> RepoResult<bool> {
    let done = sqlx::query(
        "DELETE FROM analytics_dirty_buckets WHERE app_id = $1 AND hour = $2 AND id <= $3",
    )
    .bind(app_id)
    .bind(hour)
    .bind(seen_mark)
    .execute(conn)
    .await
    .map_err(map_sqlx_error)?;
    Ok(done.rows_affected() > 0)
}

impl SqliteDatabase {
    /// Reads and rolls up the buckets on one reader snapshot (a WAL read transaction), so the
    /// one writer, and ingestion queued behind it, never waits for the reads: they were most
    /// of a rollup pass, which stalled ingestion for seconds once a minute. Also returns the
    /// other hours the buckets' sessions have events in.
    async fn roll_up_on_snapshot(
        &self,
        chunk: &[(String, i64)],
    ) -> RepoResult<(Vec<Computed>, BTreeSet<(String, i64)>)> {
        let mut snapshot = self.reader.begin().await.map_err(map_sqlx_error)?;
        let mut computed = Vec::with_capacity(chunk.len());
        let mut session_hours = BTreeSet::new();
        for (app_id, hour) in chunk {
            let app_id = app_id.clone();
            let hour = *hour;
            computed.push(
                match highest_bucket_mark(&mut snapshot, &app_id, hour).await? {
                    Some(seen_mark) => {
                        let read = read_bucket(&mut snapshot, &app_id, hour).await?;
                        for other in read.session_hours {
                            session_hours.insert((app_id.clone(), other));
                        }
                        Computed::OnSnapshot {
                            rollup: roll_up(hour, read.raw),
                            app_id,
                            hour,
                            seen_mark,
                        }
                    }
                    None => Computed::UnderWriteLock { app_id, hour },
                },
            );
        }
        snapshot.rollback().await.map_err(map_sqlx_error)?;
        Ok((computed, session_hours))
    }

    /// Rolls up `buckets` a chunk at a time (each chunk read on one snapshot, written in one
    /// transaction) and counts them in `report`; returns the other hours their sessions have
    /// events in.
    async fn roll_up_buckets(
        &self,
        buckets: &[(String, i64)],
        report: &mut RollupReport,
    ) -> RepoResult<BTreeSet<(String, i64)>> {
        let mut touched = BTreeSet::new();
        for chunk in buckets.chunks(BUCKETS_PER_TRANSACTION) {
            let (computed, session_hours) = self.roll_up_on_snapshot(chunk).await?;
            touched.extend(session_hours);
            self.write_rollups(computed).await?;
            report.buckets += u64::try_from(chunk.len()).unwrap_or(0);
        }
        Ok(touched)
    }

    /// Writes the computed rollups in one writer transaction. A bucket without marks is read
    /// and rolled up here, under the write lock: nothing orders its rows against a snapshot.
    /// `BEGIN IMMEDIATE` takes the write lock first, so another process on the same file (the
    /// bench seeder beside a server) makes it wait for the busy timeout instead of failing
    /// the upgrade from reader to writer ("database is locked").
    async fn write_rollups(&self, computed: Vec<Computed>) -> RepoResult<()> {
        let mut tx = self
            .writer
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(map_sqlx_error)?;
        for bucket in computed {
            match bucket {
                Computed::OnSnapshot {
                    app_id,
                    hour,
                    seen_mark,
                    rollup,
                } => {
                    // Same transaction: the marks go only with the rollup that read them.
                    if take_seen_marks(&mut tx, &app_id, hour, seen_mark).await? {
                        replace_rollup(&mut tx, &app_id, hour, &rollup).await?;
                    }
                }
                Computed::UnderWriteLock { app_id, hour } => {
                    let read = read_bucket(&mut tx, &app_id, hour).await?;
                    replace_rollup(&mut tx, &app_id, hour, &roll_up(hour, read.raw)).await?;
                    delete_bucket_marks(&mut tx, &app_id, hour).await?;
                }
            }
        }
        tx.commit().await.map_err(map_sqlx_error)?;
        Ok(())
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
        let marks: Vec<(i64, String, i64)> = sqlx::query_as(
            "SELECT id, app_id, hour FROM analytics_dirty_buckets ORDER BY id LIMIT $1",
        )
        .bind(limit)
        .fetch_all(&self.writer)
        .await
        .map_err(map_sqlx_error)?;
        let mut report = RollupReport {
            marks: u64::try_from(marks.len()).unwrap_or(0),
            buckets: 0,
        };
        let mut buckets: BTreeSet<(String, i64)> = BTreeSet::new();
        let mut expired = Vec::new();
        for (id, app_id, hour) in marks {
            if hour < oldest_hour {
                expired.push(id);
            } else {
                buckets.insert((app_id, hour));
            }
        }
        {
            let mut tx = self.writer.begin().await.map_err(map_sqlx_error)?;
            delete_marks(&mut tx, &expired).await?;
            tx.commit().await.map_err(map_sqlx_error)?;
        }
        // A session is counted in the hour of its first event, and its events arrive in any
        // order: a change to a session re-rolls every hour it has events in. Those hours come
        // from the dirty buckets' reads and are rolled up after them (their figures depend on
        // raw rows only, never on another bucket's rollup).
        let dirty: Vec<(String, i64)> = buckets.iter().cloned().collect();
        let touched = self.roll_up_buckets(&dirty, &mut report).await?;
        let touched: Vec<(String, i64)> = touched
            .into_iter()
            .filter(|bucket| bucket.1 >= oldest_hour && !buckets.contains(bucket))
            .collect();
        // No further level: the dirty buckets' reads held every event of their sessions, so
        // these are all the hours those sessions have events in.
        self.roll_up_buckets(&touched, &mut report).await?;
        Ok(report)
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
        .bind(&boundaries)
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
        // The histogram rows as stored, summed per period here: lengths are nearly unique per
        // app and hour, so grouping in SQL (a temporary B-tree over every row) merged almost
        // nothing and cost ~20 × the plain range read.
        let session_rows: Vec<(i64, i64, i64)> = sqlx::query_as(
            "SELECT hour, length_seconds, sessions FROM analytics_hourly_sessions \
             WHERE app_id = $1 AND hour >= $2 AND hour < $3",
        )
        .bind(&q.app_id)
        .bind(q.from_hour())
        .bind(q.to_hour())
        .fetch_all(&mut *conn)
        .await
        .map_err(map_sqlx_error)?;
        let session_lengths = q.sessions_per_period(session_rows);
        let mut load_times: Vec<(String, i64, i64)> = sqlx::query_as(
            "SELECT version, value_tenths, sum(samples) FROM analytics_hourly_load_times \
             WHERE app_id = $1 AND hour >= $2 AND hour < $3 GROUP BY version, value_tenths",
        )
        .bind(&q.app_id)
        .bind(q.from_hour())
        .bind(q.to_hour())
        .fetch_all(&mut *conn)
        .await
        .map_err(map_sqlx_error)?;
        load_times.sort();
        let mut crashes: Vec<(String, i64, i64)> = sqlx::query_as(
            "SELECT version, sum(reports), sum(crashing) FROM analytics_hourly_crashes \
             WHERE app_id = $1 AND hour >= $2 AND hour < $3 GROUP BY version",
        )
        .bind(&q.app_id)
        .bind(q.from_hour())
        .bind(q.to_hour())
        .fetch_all(&mut *conn)
        .await
        .map_err(map_sqlx_error)?;
        crashes.sort();
        Ok(StatsRows {
            counts: counts
                .into_iter()
                .map(
                    |(period, installs, uninstalls, updates, launches)| PeriodCounts {
                        period,
                        installs,
                        uninstalls,
                        updates,
                        launches,
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
}

#[cfg(test)]
#[path = "analytics_snapshot_tests.rs"]
mod snapshot_tests;
