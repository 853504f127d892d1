//! Lifecycle analytics on PostgreSQL: batches go in with one `INSERT … SELECT FROM UNNEST`
//! per table plus one for their dirty-bucket marks, in one transaction; the rollup job
//! recomputes a batch of buckets set-based (a fixed number of statements for the whole batch)
//! from the raw rows, in one transaction holding per-bucket advisory locks, so two workers
//! never interleave their reads and writes of one bucket.

use crate::tx::PgTx;
use crate::{map_sqlx_error, PgDatabase};
use async_trait::async_trait;
use serde_json::Value;
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Row};
use std::collections::{BTreeMap, BTreeSet};
use time::OffsetDateTime;
use tmcp_domain::analytics::{
    hour_of, hour_start, roll_up, HourRollup, MetricRow, RawBucket, UsageRow,
};
use tmcp_repository::{
    AnalyticsRepository, IngestBatch, PeriodCounts, RepoResult, RollupReport, StatsQuery, StatsRows,
};
use uuid::Uuid;

/// Marks one row per distinct (app, hour) of `buckets`.
pub(crate) async fn mark_dirty(
    conn: &mut PgConnection,
    buckets: &BTreeSet<(String, i64)>,
    marked_at: OffsetDateTime,
) -> RepoResult<()> {
    if buckets.is_empty() {
        return Ok(());
    }
    let (apps, hours): (Vec<&str>, Vec<i64>) =
        buckets.iter().map(|(a, h)| (a.as_str(), *h)).unzip();
    sqlx::query(
        "INSERT INTO analytics_dirty_buckets (app_id, hour, marked_at) \
         SELECT a, h, $3 FROM UNNEST($1::varchar[], $2::bigint[]) AS t(a, h)",
    )
    .bind(apps)
    .bind(hours)
    .bind(marked_at)
    .execute(conn)
    .await
    .map_err(map_sqlx_error)?;
    Ok(())
}

async fn insert_batch(conn: &mut PgConnection, batch: &IngestBatch) -> RepoResult<()> {
    let query = match batch {
        IngestBatch::Lifecycle(rows) => sqlx::query(
            "INSERT INTO app_lifecycle_events (event_id, app_id, user_id, device_id, \
             event_type, event_data, \"timestamp\") \
             SELECT * FROM UNNEST($1::uuid[], $2::varchar[], $3::uuid[], $4::varchar[], \
             $5::varchar[], $6::jsonb[], $7::timestamptz[])",
        )
        .bind(rows.iter().map(|r| r.id).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.app_id.as_str()).collect::<Vec<_>>())
        .bind(
            rows.iter()
                .map(|r| r.user_id.map(|u| u.0))
                .collect::<Vec<_>>(),
        )
        .bind(
            rows.iter()
                .map(|r| r.device_id.as_deref())
                .collect::<Vec<_>>(),
        )
        .bind(
            rows.iter()
                .map(|r| r.event_type.as_str())
                .collect::<Vec<_>>(),
        )
        .bind(
            rows.iter()
                .map(|r| r.event_data.clone())
                .collect::<Vec<Value>>(),
        )
        .bind(rows.iter().map(|r| r.at).collect::<Vec<_>>()),
        IngestBatch::Usage(rows) => sqlx::query(
            "INSERT INTO app_usage_analytics (id, app_id, user_id, device_id, session_id, \
             event_type, duration_seconds, event_data, \"timestamp\") \
             SELECT * FROM UNNEST($1::uuid[], $2::varchar[], $3::uuid[], $4::varchar[], \
             $5::varchar[], $6::varchar[], $7::int4[], $8::jsonb[], $9::timestamptz[])",
        )
        .bind(rows.iter().map(|r| r.id).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.app_id.as_str()).collect::<Vec<_>>())
        .bind(
            rows.iter()
                .map(|r| r.user_id.map(|u| u.0))
                .collect::<Vec<_>>(),
        )
        .bind(
            rows.iter()
                .map(|r| r.device_id.as_deref())
                .collect::<Vec<_>>(),
        )
        .bind(
            rows.iter()
                .map(|r| r.session_id.as_str())
                .collect::<Vec<_>>(),
        )
        .bind(
            rows.iter()
                .map(|r| r.event_type.as_str())
                .collect::<Vec<_>>(),
        )
        .bind(rows.iter().map(|r| r.duration_seconds).collect::<Vec<_>>())
        .bind(
            rows.iter()
                .map(|r| r.event_data.clone())
                .collect::<Vec<Value>>(),
        )
        .bind(rows.iter().map(|r| r.at).collect::<Vec<_>>()),
        IngestBatch::Metrics(rows) => sqlx::query(
            "INSERT INTO app_performance_metrics (id, app_id, version, metric_type, \
             metric_value, device_info, \"timestamp\") \
             SELECT * FROM UNNEST($1::uuid[], $2::varchar[], $3::varchar[], $4::varchar[], \
             $5::float8[], $6::jsonb[], $7::timestamptz[])",
        )
        .bind(rows.iter().map(|r| r.id).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.app_id.as_str()).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.version.as_str()).collect::<Vec<_>>())
        .bind(
            rows.iter()
                .map(|r| r.metric_type.as_str())
                .collect::<Vec<_>>(),
        )
        .bind(rows.iter().map(|r| r.value).collect::<Vec<_>>())
        .bind(
            rows.iter()
                .map(|r| r.device_info.clone())
                .collect::<Vec<Option<Value>>>(),
        )
        .bind(rows.iter().map(|r| r.at).collect::<Vec<_>>()),
    };
    query.execute(conn).await.map_err(map_sqlx_error)?;
    Ok(())
}

fn touched(batch: &IngestBatch) -> BTreeSet<(String, i64)> {
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

/// Buckets as parallel arrays, for `UNNEST($1::varchar[], $2::int8[], $3::timestamptz[],
/// $4::timestamptz[]) AS b(a, h, lo, hi)`: app, hour, the hour's first instant and the next
/// hour's.
struct BucketArrays<'a> {
    apps: Vec<&'a str>,
    hours: Vec<i64>,
    lo: Vec<OffsetDateTime>,
    hi: Vec<OffsetDateTime>,
}

impl<'a> BucketArrays<'a> {
    fn new(buckets: impl Iterator<Item = &'a (String, i64)>) -> Self {
        let mut arrays = Self {
            apps: Vec::new(),
            hours: Vec::new(),
            lo: Vec::new(),
            hi: Vec::new(),
        };
        for (app, hour) in buckets {
            arrays.apps.push(app.as_str());
            arrays.hours.push(*hour);
            arrays.lo.push(hour_start(*hour));
            arrays.hi.push(hour_start(*hour + 1));
        }
        arrays
    }

    /// Spans `[lo, hi)` of one app, keyed by their index in place of an hour.
    fn spans(app: &'a str, spans: &[(OffsetDateTime, OffsetDateTime)]) -> Self {
        let mut arrays = Self {
            apps: vec![app; spans.len()],
            hours: Vec::with_capacity(spans.len()),
            lo: Vec::with_capacity(spans.len()),
            hi: Vec::with_capacity(spans.len()),
        };
        for (index, (lo, hi)) in (0_i64..).zip(spans) {
            arrays.hours.push(index);
            arrays.lo.push(*lo);
            arrays.hi.push(*hi);
        }
        arrays
    }
}

const BUCKETS: &str = "UNNEST($1::varchar[], $2::int8[], $3::timestamptz[], $4::timestamptz[]) \
                       AS b(a, h, lo, hi)";

/// The rows of a statement over [`BUCKETS`] (which `sql` names), with the arrays bound.
async fn fetch_over_buckets<O>(
    conn: &mut PgConnection,
    sql: &str,
    buckets: &BucketArrays<'_>,
) -> RepoResult<Vec<O>>
where
    O: for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow> + Send + Unpin,
{
    sqlx::query_as(sql)
        .bind(&buckets.apps)
        .bind(&buckets.hours)
        .bind(&buckets.lo)
        .bind(&buckets.hi)
        .fetch_all(conn)
        .await
        .map_err(map_sqlx_error)
}

/// The hours of every event of the sessions that have an event in one of `buckets`, found
/// through the `(app_id, session_id, timestamp)` index. Any of them may hold a session's
/// start as far as an earlier rollup knew (events arrive out of order), so all are
/// recomputed. `OFFSET 0`: as in [`read_buckets`], one index lookup per session.
async fn session_hours(
    conn: &mut PgConnection,
    buckets: &BucketArrays<'_>,
) -> RepoResult<Vec<(String, i64)>> {
    fetch_over_buckets(
        conn,
        &format!(
            "SELECT DISTINCT b.a::text, \
           floor(extract(epoch FROM u.\"timestamp\") / 3600)::int8 \
         FROM {BUCKETS} \
         CROSS JOIN LATERAL (SELECT DISTINCT session_id FROM app_usage_analytics \
             WHERE app_id = b.a AND \"timestamp\" >= b.lo AND \"timestamp\" < b.hi \
               AND session_id IS NOT NULL) s \
         CROSS JOIN LATERAL (SELECT e.\"timestamp\" FROM app_usage_analytics e \
             WHERE e.app_id = b.a AND e.session_id = s.session_id OFFSET 0) u"
        ),
        buckets,
    )
    .await
}

/// The raw rows of every bucket, four statements for all of them.
async fn read_buckets(
    conn: &mut PgConnection,
    buckets: &BucketArrays<'_>,
) -> RepoResult<BTreeMap<(String, i64), RawBucket>> {
    let mut raw: BTreeMap<(String, i64), RawBucket> = BTreeMap::new();
    let lifecycle_counts: Vec<(String, i64, String, i64)> = fetch_over_buckets(
        &mut *conn,
        &format!(
            "SELECT b.a::text, b.h, e.event_type::text, count(*) FROM {BUCKETS} \
         JOIN app_lifecycle_events e ON e.app_id = b.a AND e.\"timestamp\" >= b.lo \
           AND e.\"timestamp\" < b.hi \
         GROUP BY b.a, b.h, e.event_type"
        ),
        buckets,
    )
    .await?;
    for (app, hour, event_type, count) in lifecycle_counts {
        raw.entry((app, hour))
            .or_default()
            .lifecycle_counts
            .push((event_type, count));
    }
    let users: Vec<(String, i64, Uuid)> = fetch_over_buckets(
        &mut *conn,
        &format!(
            "SELECT b.a::text, b.h, x.user_id FROM {BUCKETS} \
         CROSS JOIN LATERAL (SELECT user_id FROM app_lifecycle_events WHERE app_id = b.a \
             AND \"timestamp\" >= b.lo AND \"timestamp\" < b.hi AND user_id IS NOT NULL \
           UNION SELECT user_id FROM app_usage_analytics WHERE app_id = b.a \
             AND \"timestamp\" >= b.lo AND \"timestamp\" < b.hi AND user_id IS NOT NULL) x"
        ),
        buckets,
    )
    .await?;
    for (app, hour, user) in users {
        raw.entry((app, hour)).or_default().users.push(user);
    }
    // Every event, up to 24 hours after the bucket ends, of the sessions with an event in
    // the bucket: each session looked up on its own through the `(app_id, session_id,
    // timestamp)` index. `OFFSET 0` keeps that lookup a subquery; as a plain join, with
    // tens of buckets the planner hashed every event of the app up to the last bucket's end
    // instead (the stats' 60 spans of a 30-day range in +05:30: 200 ms against 2 ms).
    let session_rows: Vec<(String, i64, Option<Uuid>, String, bool, OffsetDateTime)> =
        fetch_over_buckets(
            &mut *conn,
            &format!(
                "SELECT b.a::text, b.h, u.user_id, u.session_id, u.is_end, u.\"timestamp\" \
             FROM {BUCKETS} \
             CROSS JOIN LATERAL (SELECT DISTINCT session_id FROM app_usage_analytics \
                 WHERE app_id = b.a AND \"timestamp\" >= b.lo AND \"timestamp\" < b.hi \
                   AND session_id IS NOT NULL) s \
             CROSS JOIN LATERAL (SELECT e.user_id, e.session_id::text AS session_id, \
                   e.event_type = 'session_end' AS is_end, e.\"timestamp\" \
                 FROM app_usage_analytics e WHERE e.app_id = b.a \
                   AND e.session_id = s.session_id \
                   AND e.\"timestamp\" < b.hi + interval '24 hours' OFFSET 0) u"
            ),
            buckets,
        )
        .await?;
    for (app, hour, user_id, session_id, is_end, at) in session_rows {
        raw.entry((app, hour))
            .or_default()
            .session_rows
            .push(UsageRow {
                user_id,
                session_id,
                is_end,
                at,
            });
    }
    let metrics: Vec<(String, i64, String, String, f64)> = fetch_over_buckets(
        &mut *conn,
        &format!(
            "SELECT b.a::text, b.h, m.version::text, m.metric_type::text, \
           m.metric_value::float8 FROM {BUCKETS} \
         JOIN app_performance_metrics m ON m.app_id = b.a AND m.\"timestamp\" >= b.lo \
           AND m.\"timestamp\" < b.hi AND m.metric_type IN ('load_time', 'crash_rate')"
        ),
        buckets,
    )
    .await?;
    for (app, hour, version, metric_type, value) in metrics {
        raw.entry((app, hour)).or_default().metrics.push(MetricRow {
            version,
            metric_type,
            value,
        });
    }
    Ok(raw)
}

/// Columns (app, hour, version, value, value) of the per-version rollup tables.
type VersionColumns<'a> = (Vec<&'a str>, Vec<i64>, Vec<&'a str>, Vec<i64>, Vec<i64>);

/// The rollup rows of many buckets as parallel arrays, one `INSERT … SELECT FROM UNNEST` per
/// table.
#[derive(Default)]
struct RollupArrays<'a> {
    hourly: (Vec<&'a str>, Vec<i64>, [Vec<i64>; 5]),
    users: (Vec<&'a str>, Vec<i64>, Vec<Uuid>),
    sessions: (Vec<&'a str>, Vec<i64>, Vec<i32>, Vec<i64>),
    loads: VersionColumns<'a>,
    crashes: VersionColumns<'a>,
}

impl<'a> RollupArrays<'a> {
    fn add(&mut self, app: &'a str, hour: i64, r: &'a HourRollup) {
        if r.is_empty() {
            return;
        }
        self.hourly.0.push(app);
        self.hourly.1.push(hour);
        for (column, value) in self.hourly.2.iter_mut().zip([
            r.counts.installs,
            r.counts.uninstalls,
            r.counts.updates,
            r.counts.launches,
            r.counts.closes,
        ]) {
            column.push(value);
        }
        for user in &r.users {
            self.users.0.push(app);
            self.users.1.push(hour);
            self.users.2.push(*user);
        }
        for (length, count) in &r.session_lengths {
            self.sessions.0.push(app);
            self.sessions.1.push(hour);
            self.sessions
                .2
                .push(i32::try_from(*length).unwrap_or(i32::MAX));
            self.sessions.3.push(*count);
        }
        for ((version, value), count) in &r.load_times {
            self.loads.0.push(app);
            self.loads.1.push(hour);
            self.loads.2.push(version.as_str());
            self.loads.3.push(*value);
            self.loads.4.push(*count);
        }
        for (version, (reports, crashing)) in &r.crashes {
            self.crashes.0.push(app);
            self.crashes.1.push(hour);
            self.crashes.2.push(version.as_str());
            self.crashes.3.push(*reports);
            self.crashes.4.push(*crashing);
        }
    }

    async fn insert(self, conn: &mut PgConnection) -> RepoResult<()> {
        let [installs, uninstalls, updates, launches, closes] = self.hourly.2;
        sqlx::query(
            "INSERT INTO analytics_hourly (app_id, hour, installs, uninstalls, updates, \
             launches, closes) SELECT * FROM UNNEST($1::varchar[], $2::int8[], $3::int8[], \
             $4::int8[], $5::int8[], $6::int8[], $7::int8[])",
        )
        .bind(self.hourly.0)
        .bind(self.hourly.1)
        .bind(installs)
        .bind(uninstalls)
        .bind(updates)
        .bind(launches)
        .bind(closes)
        .execute(&mut *conn)
        .await
        .map_err(map_sqlx_error)?;
        sqlx::query(
            "INSERT INTO analytics_hourly_users (app_id, hour, user_id) \
             SELECT * FROM UNNEST($1::varchar[], $2::int8[], $3::uuid[])",
        )
        .bind(self.users.0)
        .bind(self.users.1)
        .bind(self.users.2)
        .execute(&mut *conn)
        .await
        .map_err(map_sqlx_error)?;
        sqlx::query(
            "INSERT INTO analytics_hourly_sessions (app_id, hour, length_seconds, sessions) \
             SELECT * FROM UNNEST($1::varchar[], $2::int8[], $3::int4[], $4::int8[])",
        )
        .bind(self.sessions.0)
        .bind(self.sessions.1)
        .bind(self.sessions.2)
        .bind(self.sessions.3)
        .execute(&mut *conn)
        .await
        .map_err(map_sqlx_error)?;
        sqlx::query(
            "INSERT INTO analytics_hourly_load_times (app_id, hour, version, value_tenths, \
             samples) SELECT * FROM UNNEST($1::varchar[], $2::int8[], $3::varchar[], \
             $4::int8[], $5::int8[])",
        )
        .bind(self.loads.0)
        .bind(self.loads.1)
        .bind(self.loads.2)
        .bind(self.loads.3)
        .bind(self.loads.4)
        .execute(&mut *conn)
        .await
        .map_err(map_sqlx_error)?;
        sqlx::query(
            "INSERT INTO analytics_hourly_crashes (app_id, hour, version, reports, crashing) \
             SELECT * FROM UNNEST($1::varchar[], $2::int8[], $3::varchar[], $4::int8[], \
             $5::int8[])",
        )
        .bind(self.crashes.0)
        .bind(self.crashes.1)
        .bind(self.crashes.2)
        .bind(self.crashes.3)
        .bind(self.crashes.4)
        .execute(&mut *conn)
        .await
        .map_err(map_sqlx_error)?;
        Ok(())
    }
}

/// Buckets whose raw rows one set of statements reads and rewrites. A run (up to
/// `rollup_batch_size` marks) goes through its buckets this many at a time, in its one
/// transaction: memory stays bounded by these buckets' rows, at ~14 statements per chunk.
const BUCKETS_PER_READ: usize = 64;

/// Recomputes `buckets` from the raw rows and replaces their rollups, in the caller's
/// transaction, which already holds their locks.
async fn recompute(conn: &mut PgConnection, buckets: &[&(String, i64)]) -> RepoResult<()> {
    let arrays = BucketArrays::new(buckets.iter().copied());
    let mut raw = read_buckets(conn, &arrays).await?;
    let rollups: Vec<(&str, i64, HourRollup)> = buckets
        .iter()
        .map(|(app, hour)| {
            let rows = raw.remove(&(app.clone(), *hour)).unwrap_or_default();
            (app.as_str(), *hour, roll_up(*hour, rows))
        })
        .collect();
    for table in [
        "analytics_hourly",
        "analytics_hourly_users",
        "analytics_hourly_sessions",
        "analytics_hourly_load_times",
        "analytics_hourly_crashes",
    ] {
        // Table names come from the fixed list above.
        sqlx::query(&format!(
            "DELETE FROM {table} t USING UNNEST($1::varchar[], $2::int8[]) AS b(a, h) \
             WHERE t.app_id = b.a AND t.hour = b.h"
        ))
        .bind(&arrays.apps)
        .bind(&arrays.hours)
        .execute(&mut *conn)
        .await
        .map_err(map_sqlx_error)?;
    }
    let mut rows = RollupArrays::default();
    for (app, hour, rollup) in &rollups {
        rows.add(app, *hour, rollup);
    }
    rows.insert(conn).await
}

async fn delete_marks(conn: &mut PgConnection, ids: &[i64]) -> RepoResult<()> {
    if ids.is_empty() {
        return Ok(());
    }
    sqlx::query("DELETE FROM analytics_dirty_buckets WHERE id = ANY($1)")
        .bind(ids)
        .execute(conn)
        .await
        .map_err(map_sqlx_error)?;
    Ok(())
}

#[async_trait]
impl AnalyticsRepository for PgDatabase {
    async fn ingest(&self, batch: IngestBatch, marked_at: OffsetDateTime) -> RepoResult<()> {
        let buckets = touched(&batch);
        if buckets.is_empty() {
            return Ok(());
        }
        let mut tx = PgTx::begin(self.app(), None)
            .await
            .map_err(map_sqlx_error)?;
        insert_batch(&mut tx, &batch).await?;
        mark_dirty(&mut tx, &buckets, marked_at).await?;
        tx.commit().await.map_err(map_sqlx_error)
    }

    async fn roll_up(&self, limit: i64, oldest_hour: i64) -> RepoResult<RollupReport> {
        // One transaction for the whole batch. The marks it takes are row-locked and skipped
        // by other workers, so several workers share the backlog without doing a batch twice.
        let mut tx = PgTx::begin(self.system(), None)
            .await
            .map_err(map_sqlx_error)?;
        let marks: Vec<(i64, String, i64)> = sqlx::query_as(
            "SELECT id, app_id::text, hour FROM analytics_dirty_buckets ORDER BY id LIMIT $1 \
             FOR UPDATE SKIP LOCKED",
        )
        .bind(limit)
        .fetch_all(&mut *tx)
        .await
        .map_err(map_sqlx_error)?;
        let mut report = RollupReport {
            marks: u64::try_from(marks.len()).unwrap_or(0),
            buckets: 0,
        };
        if marks.is_empty() {
            tx.commit().await.map_err(map_sqlx_error)?;
            return Ok(report);
        }
        let ids: Vec<i64> = marks.iter().map(|(id, ..)| *id).collect();
        let mut buckets: BTreeSet<(String, i64)> = marks
            .into_iter()
            .filter(|(_, _, hour)| *hour >= oldest_hour)
            .map(|(_, app, hour)| (app, hour))
            .collect();
        // A session is counted in the hour of its first event, and its events arrive in any
        // order: a change to a session touches every hour it has events in.
        let marked = BucketArrays::new(buckets.iter());
        let others = session_hours(&mut tx, &marked).await?;
        drop(marked);
        buckets.extend(others.into_iter().filter(|(_, hour)| *hour >= oldest_hour));
        if !buckets.is_empty() {
            // One recomputation of a bucket at a time: a second worker waits here, then
            // reads everything the first one saw and more. Locks are taken in one global
            // order (by key), so two workers with overlapping buckets cannot deadlock.
            let arrays = BucketArrays::new(buckets.iter());
            sqlx::query(
                "SELECT pg_advisory_xact_lock(k) FROM \
                   (SELECT DISTINCT hashtextextended(a, h) AS k \
                    FROM UNNEST($1::text[], $2::int8[]) AS b(a, h) ORDER BY k) keys",
            )
            .bind(&arrays.apps)
            .bind(&arrays.hours)
            .execute(&mut *tx)
            .await
            .map_err(map_sqlx_error)?;
            drop(arrays);
            // A few buckets' raw rows at a time: under a stream an open hour holds thousands
            // of session events, and a run's hundreds of them read at once held them all.
            let ordered: Vec<&(String, i64)> = buckets.iter().collect();
            for chunk in ordered.chunks(BUCKETS_PER_READ) {
                recompute(&mut tx, chunk).await?;
            }
        }
        delete_marks(&mut tx, &ids).await?;
        tx.commit().await.map_err(map_sqlx_error)?;
        report.buckets = u64::try_from(buckets.len()).unwrap_or(0);
        Ok(report)
    }

    async fn oldest_dirty_mark(&self) -> RepoResult<Option<OffsetDateTime>> {
        let row: (Option<OffsetDateTime>,) =
            sqlx::query_as("SELECT min(marked_at) FROM analytics_dirty_buckets")
                .fetch_one(self.system())
                .await
                .map_err(map_sqlx_error)?;
        Ok(row.0)
    }

    async fn purge_rollups_before(&self, hour: i64, limit: i64) -> RepoResult<u64> {
        let mut purged = 0;
        for table in [
            "analytics_hourly",
            "analytics_hourly_users",
            "analytics_hourly_sessions",
            "analytics_hourly_load_times",
            "analytics_hourly_crashes",
        ] {
            // Table names come from the fixed list above.
            let done = sqlx::query(&format!(
                "DELETE FROM {table} WHERE ctid = ANY(ARRAY(SELECT ctid FROM {table} \
                 WHERE hour < $1 LIMIT $2))"
            ))
            .bind(hour)
            .bind(limit)
            .execute(self.system())
            .await
            .map_err(map_sqlx_error)?;
            purged += done.rows_affected();
        }
        Ok(purged)
    }

    async fn stats(&self, q: &StatsQuery) -> RepoResult<StatsRows> {
        // One statement, one row: each rollup table's range read comes back as a few
        // parallel arrays (the aggregates of one level see the same rows in the same order,
        // so the arrays line up), and the server folds them per period. At 10 M events an
        // app reads ~6,000 rollup rows a month; as rows, decoding them cost the server as
        // much CPU as the database spent reading them, and six statements were six round
        // trips.
        let row = sqlx::query(
            "SELECT c.hours, c.installs, c.uninstalls, c.updates, c.launches, \
                    u.hours, u.users, s.hours, s.lengths, s.sessions, \
                    l.versions, l.tenths, l.samples, k.versions, k.reports, k.crashing \
             FROM (SELECT array_agg(hour) AS hours, array_agg(installs) AS installs, \
                          array_agg(uninstalls) AS uninstalls, array_agg(updates) AS updates, \
                          array_agg(launches) AS launches \
                   FROM analytics_hourly WHERE app_id = $1 AND hour >= $2 AND hour < $3) c, \
                  (SELECT array_agg(hour) AS hours, array_agg(user_id) AS users \
                   FROM analytics_hourly_users \
                   WHERE app_id = $1 AND hour >= $2 AND hour < $3) u, \
                  (SELECT array_agg(hour) AS hours, array_agg(length_seconds::int8) AS lengths, \
                          array_agg(sessions) AS sessions \
                   FROM analytics_hourly_sessions \
                   WHERE app_id = $1 AND hour >= $2 AND hour < $3) s, \
                  (SELECT array_agg(version::text) AS versions, \
                          array_agg(value_tenths) AS tenths, array_agg(samples) AS samples \
                   FROM analytics_hourly_load_times \
                   WHERE app_id = $1 AND hour >= $2 AND hour < $3) l, \
                  (SELECT array_agg(version) AS versions, array_agg(reports) AS reports, \
                          array_agg(crashing) AS crashing \
                   FROM (SELECT version::text AS version, sum(reports)::int8 AS reports, \
                                sum(crashing)::int8 AS crashing \
                         FROM analytics_hourly_crashes \
                         WHERE app_id = $1 AND hour >= $2 AND hour < $3 \
                         GROUP BY version) v) k",
        )
        .bind(&q.app_id)
        .bind(q.from_hour())
        .bind(q.to_hour())
        .fetch_one(self.app())
        .await
        .map_err(map_sqlx_error)?;
        stats_from_arrays(q, &row).map_err(map_sqlx_error)
    }

    async fn raw_spans(
        &self,
        app_id: &str,
        spans: &[(OffsetDateTime, OffsetDateTime)],
    ) -> RepoResult<Vec<RawBucket>> {
        if spans.is_empty() {
            return Ok(Vec::new());
        }
        let mut conn = self.app().acquire().await.map_err(map_sqlx_error)?;
        let arrays = BucketArrays::spans(app_id, spans);
        let mut raw = read_buckets(&mut conn, &arrays).await?;
        Ok((0_i64..)
            .take(spans.len())
            .map(|index| raw.remove(&(app_id.to_owned(), index)).unwrap_or_default())
            .collect())
    }
}

/// Column `index` of the stats row as a vector; an aggregate over no rows is NULL: empty.
fn array<'r, T>(row: &'r PgRow, index: usize) -> sqlx::Result<Vec<T>>
where
    Vec<T>: sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres>,
{
    Ok(row.try_get::<Option<Vec<T>>, _>(index)?.unwrap_or_default())
}

/// Columns `first`, `first + 1` and `first + 2` of the stats row (three arrays of one
/// rollup table) zipped into rows.
fn triples<'r, A, B, C>(
    row: &'r PgRow,
    first: usize,
) -> sqlx::Result<impl Iterator<Item = (A, B, C)>>
where
    Vec<A>: sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres>,
    Vec<B>: sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres>,
    Vec<C>: sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres>,
{
    let (a, b, c) = (
        array::<A>(row, first)?,
        array::<B>(row, first + 1)?,
        array::<C>(row, first + 2)?,
    );
    Ok(a.into_iter().zip(b).zip(c).map(|((a, b), c)| (a, b, c)))
}

/// Folds the stats statement's arrays (column order as in its SELECT list) per period.
fn stats_from_arrays(q: &StatsQuery, row: &PgRow) -> sqlx::Result<StatsRows> {
    let count_hours: Vec<i64> = array(row, 0)?;
    let installs: Vec<i64> = array(row, 1)?;
    let uninstalls: Vec<i64> = array(row, 2)?;
    let updates: Vec<i64> = array(row, 3)?;
    let launches: Vec<i64> = array(row, 4)?;
    let mut counts: BTreeMap<i64, PeriodCounts> = BTreeMap::new();
    for (i, hour) in count_hours.iter().enumerate() {
        let Some(period) = q.period_of(*hour) else {
            continue;
        };
        let c = counts.entry(period).or_insert_with(|| PeriodCounts {
            period,
            ..PeriodCounts::default()
        });
        let at = |v: &[i64]| v.get(i).copied().unwrap_or(0);
        c.counts.installs += at(&installs);
        c.counts.uninstalls += at(&uninstalls);
        c.counts.updates += at(&updates);
        c.counts.launches += at(&launches);
    }
    let user_hours: Vec<i64> = array(row, 5)?;
    let users: Vec<Uuid> = array(row, 6)?;
    let (active_users, total_active_users) = q.active_users_per_period(
        user_hours.into_iter().zip(users),
        q.extra_users.iter().copied(),
    );
    let session_lengths = q.sessions_per_period(triples(row, 7)?);
    let load_times = StatsQuery::load_times_summed(triples(row, 10)?);
    let mut crashes: Vec<(String, i64, i64)> = triples(row, 13)?.collect();
    crashes.sort();
    Ok(StatsRows {
        counts: counts.into_values().collect(),
        active_users,
        total_active_users,
        session_lengths,
        load_times,
        crashes,
    })
}
