//! Lifecycle analytics on PostgreSQL: batches go in with one `INSERT … SELECT FROM UNNEST`
//! per table plus one for their dirty-bucket marks, in one transaction; the rollup job
//! recomputes a bucket from the raw rows under a per-bucket advisory lock, so two workers
//! never interleave their reads and writes of one bucket.

use crate::tx::PgTx;
use crate::{map_sqlx_error, PgDatabase};
use async_trait::async_trait;
use serde_json::Value;
use sqlx::PgConnection;
use std::collections::{BTreeMap, BTreeSet};
use time::{Duration, OffsetDateTime};
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

/// The hours (as their first instants) of every event of the sessions that have an event in
/// `[lo, hi)`, found through the `(app_id, session_id, timestamp)` index. Any of them may
/// hold the session's start as far as an earlier rollup knew (events arrive out of order),
/// so all are recomputed.
async fn session_hours(
    conn: &mut PgConnection,
    app_id: &str,
    lo: OffsetDateTime,
    hi: OffsetDateTime,
) -> RepoResult<Vec<OffsetDateTime>> {
    let rows: Vec<(OffsetDateTime,)> = sqlx::query_as(
        "SELECT DISTINCT date_trunc('hour', u.\"timestamp\" AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' \
         FROM app_usage_analytics u \
         WHERE u.app_id = $1 AND u.session_id IN \
           (SELECT session_id FROM app_usage_analytics \
             WHERE app_id = $1 AND \"timestamp\" >= $2 AND \"timestamp\" < $3 \
               AND session_id IS NOT NULL)",
    )
    .bind(app_id)
    .bind(lo)
    .bind(hi)
    .fetch_all(conn)
    .await
    .map_err(map_sqlx_error)?;
    Ok(rows.into_iter().map(|(t,)| t).collect())
}

async fn read_bucket(conn: &mut PgConnection, app_id: &str, hour: i64) -> RepoResult<RawBucket> {
    let lo = hour_start(hour);
    let hi = hour_start(hour + 1);
    let lifecycle_counts: Vec<(String, i64)> = sqlx::query_as(
        "SELECT event_type::text, count(*) FROM app_lifecycle_events \
         WHERE app_id = $1 AND \"timestamp\" >= $2 AND \"timestamp\" < $3 GROUP BY event_type",
    )
    .bind(app_id)
    .bind(lo)
    .bind(hi)
    .fetch_all(&mut *conn)
    .await
    .map_err(map_sqlx_error)?;
    let users: Vec<(Uuid,)> = sqlx::query_as(
        "SELECT user_id FROM app_lifecycle_events WHERE app_id = $1 AND \"timestamp\" >= $2 \
           AND \"timestamp\" < $3 AND user_id IS NOT NULL \
         UNION SELECT user_id FROM app_usage_analytics WHERE app_id = $1 \
           AND \"timestamp\" >= $2 AND \"timestamp\" < $3 AND user_id IS NOT NULL",
    )
    .bind(app_id)
    .bind(lo)
    .bind(hi)
    .fetch_all(&mut *conn)
    .await
    .map_err(map_sqlx_error)?;
    let session_rows: Vec<(Option<Uuid>, String, bool, OffsetDateTime)> = sqlx::query_as(
        "SELECT u.user_id, u.session_id::text, u.event_type = 'session_end', u.\"timestamp\" \
         FROM app_usage_analytics u \
         WHERE u.app_id = $1 AND u.\"timestamp\" < $4 AND u.session_id IN \
           (SELECT session_id FROM app_usage_analytics \
             WHERE app_id = $1 AND \"timestamp\" >= $2 AND \"timestamp\" < $3 \
               AND session_id IS NOT NULL)",
    )
    .bind(app_id)
    .bind(lo)
    .bind(hi)
    .bind(hi + Duration::hours(24))
    .fetch_all(&mut *conn)
    .await
    .map_err(map_sqlx_error)?;
    let metrics: Vec<(String, String, f64)> = sqlx::query_as(
        "SELECT version::text, metric_type::text, metric_value::float8 \
         FROM app_performance_metrics WHERE app_id = $1 AND \"timestamp\" >= $2 \
           AND \"timestamp\" < $3 AND metric_type IN ('load_time', 'crash_rate')",
    )
    .bind(app_id)
    .bind(lo)
    .bind(hi)
    .fetch_all(&mut *conn)
    .await
    .map_err(map_sqlx_error)?;
    Ok(RawBucket {
        lifecycle_counts,
        users: users.into_iter().map(|(u,)| u).collect(),
        session_rows: session_rows
            .into_iter()
            .map(|(user_id, session_id, is_end, at)| UsageRow {
                user_id,
                session_id,
                is_end,
                at,
            })
            .collect(),
        metrics: metrics
            .into_iter()
            .map(|(version, metric_type, value)| MetricRow {
                version,
                metric_type,
                value,
            })
            .collect(),
    })
}

async fn replace_rollup(
    conn: &mut PgConnection,
    app_id: &str,
    hour: i64,
    rollup: &HourRollup,
) -> RepoResult<()> {
    for table in [
        "analytics_hourly",
        "analytics_hourly_users",
        "analytics_hourly_sessions",
        "analytics_hourly_load_times",
        "analytics_hourly_crashes",
    ] {
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
    if !rollup.users.is_empty() {
        sqlx::query(
            "INSERT INTO analytics_hourly_users (app_id, hour, user_id) \
             SELECT $1, $2, u FROM UNNEST($3::uuid[]) AS t(u)",
        )
        .bind(app_id)
        .bind(hour)
        .bind(rollup.users.iter().copied().collect::<Vec<_>>())
        .execute(&mut *conn)
        .await
        .map_err(map_sqlx_error)?;
    }
    if !rollup.session_lengths.is_empty() {
        let (lengths, counts): (Vec<i32>, Vec<i64>) = rollup
            .session_lengths
            .iter()
            .map(|(l, n)| (i32::try_from(*l).unwrap_or(i32::MAX), *n))
            .unzip();
        sqlx::query(
            "INSERT INTO analytics_hourly_sessions (app_id, hour, length_seconds, sessions) \
             SELECT $1, $2, l, n FROM UNNEST($3::int4[], $4::int8[]) AS t(l, n)",
        )
        .bind(app_id)
        .bind(hour)
        .bind(lengths)
        .bind(counts)
        .execute(&mut *conn)
        .await
        .map_err(map_sqlx_error)?;
    }
    if !rollup.load_times.is_empty() {
        let mut versions = Vec::new();
        let mut values = Vec::new();
        let mut counts = Vec::new();
        for ((version, value), count) in &rollup.load_times {
            versions.push(version.as_str());
            values.push(*value);
            counts.push(*count);
        }
        sqlx::query(
            "INSERT INTO analytics_hourly_load_times (app_id, hour, version, value_tenths, \
             samples) SELECT $1, $2, v, x, n \
             FROM UNNEST($3::varchar[], $4::int8[], $5::int8[]) AS t(v, x, n)",
        )
        .bind(app_id)
        .bind(hour)
        .bind(versions)
        .bind(values)
        .bind(counts)
        .execute(&mut *conn)
        .await
        .map_err(map_sqlx_error)?;
    }
    if !rollup.crashes.is_empty() {
        let mut versions = Vec::new();
        let mut reports = Vec::new();
        let mut crashing = Vec::new();
        for (version, (r, c)) in &rollup.crashes {
            versions.push(version.as_str());
            reports.push(*r);
            crashing.push(*c);
        }
        sqlx::query(
            "INSERT INTO analytics_hourly_crashes (app_id, hour, version, reports, crashing) \
             SELECT $1, $2, v, r, c FROM UNNEST($3::varchar[], $4::int8[], $5::int8[]) \
             AS t(v, r, c)",
        )
        .bind(app_id)
        .bind(hour)
        .bind(versions)
        .bind(reports)
        .bind(crashing)
        .execute(&mut *conn)
        .await
        .map_err(map_sqlx_error)?;
    }
    Ok(())
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

impl PgDatabase {
    async fn roll_up_bucket(&self, app_id: &str, hour: i64, marks: &[i64]) -> RepoResult<()> {
        let mut tx = PgTx::begin(&self.system, None)
            .await
            .map_err(map_sqlx_error)?;
        // One recomputation of a bucket at a time: a second worker waits here, then reads
        // everything the first one saw and more.
        sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, $2))")
            .bind(app_id)
            .bind(hour)
            .execute(&mut *tx)
            .await
            .map_err(map_sqlx_error)?;
        let raw = read_bucket(&mut tx, app_id, hour).await?;
        let rollup = roll_up(hour, raw);
        replace_rollup(&mut tx, app_id, hour, &rollup).await?;
        delete_marks(&mut tx, marks).await?;
        tx.commit().await.map_err(map_sqlx_error)
    }
}

#[async_trait]
impl AnalyticsRepository for PgDatabase {
    async fn ingest(&self, batch: IngestBatch, marked_at: OffsetDateTime) -> RepoResult<()> {
        let buckets = touched(&batch);
        if buckets.is_empty() {
            return Ok(());
        }
        let mut tx = PgTx::begin(&self.app, None).await.map_err(map_sqlx_error)?;
        insert_batch(&mut tx, &batch).await?;
        mark_dirty(&mut tx, &buckets, marked_at).await?;
        tx.commit().await.map_err(map_sqlx_error)
    }

    async fn roll_up(&self, limit: i64, oldest_hour: i64) -> RepoResult<RollupReport> {
        let marks: Vec<(i64, String, i64)> = sqlx::query_as(
            "SELECT id, app_id::text, hour FROM analytics_dirty_buckets ORDER BY id LIMIT $1",
        )
        .bind(limit)
        .fetch_all(&self.system)
        .await
        .map_err(map_sqlx_error)?;
        let mut report = RollupReport {
            marks: u64::try_from(marks.len()).unwrap_or(0),
            buckets: 0,
        };
        let mut buckets: BTreeMap<(String, i64), Vec<i64>> = BTreeMap::new();
        let mut expired = Vec::new();
        for (id, app_id, hour) in marks {
            if hour < oldest_hour {
                expired.push(id);
            } else {
                buckets.entry((app_id, hour)).or_default().push(id);
            }
        }
        let mut conn = self.system.acquire().await.map_err(map_sqlx_error)?;
        // A session is counted in the hour of its first event, and its events arrive in any
        // order: a change to a session touches every hour it has events in.
        let dirty: Vec<(String, i64)> = buckets.keys().cloned().collect();
        for (app_id, hour) in dirty {
            let hours =
                session_hours(&mut conn, &app_id, hour_start(hour), hour_start(hour + 1)).await?;
            for at in hours {
                let other = hour_of(at);
                if other != hour && other >= oldest_hour {
                    buckets.entry((app_id.clone(), other)).or_default();
                }
            }
        }
        delete_marks(&mut conn, &expired).await?;
        drop(conn);
        for ((app_id, hour), ids) in &buckets {
            self.roll_up_bucket(app_id, *hour, ids).await?;
            report.buckets += 1;
        }
        Ok(report)
    }

    async fn oldest_dirty_mark(&self) -> RepoResult<Option<OffsetDateTime>> {
        let row: (Option<OffsetDateTime>,) =
            sqlx::query_as("SELECT min(marked_at) FROM analytics_dirty_buckets")
                .fetch_one(&self.system)
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
            .execute(&self.system)
            .await
            .map_err(map_sqlx_error)?;
            purged += done.rows_affected();
        }
        Ok(purged)
    }

    async fn stats(&self, q: &StatsQuery) -> RepoResult<StatsRows> {
        let mut conn = self.app.acquire().await.map_err(map_sqlx_error)?;
        let counts: Vec<(i64, i64, i64, i64, i64)> = sqlx::query_as(
            "SELECT width_bucket(hour, $4::int8[])::int8 - 1 AS p, sum(installs)::int8, \
             sum(uninstalls)::int8, sum(updates)::int8, sum(launches)::int8 \
             FROM analytics_hourly WHERE app_id = $1 AND hour >= $2 AND hour < $3 \
             GROUP BY p ORDER BY p",
        )
        .bind(&q.app_id)
        .bind(q.from_hour())
        .bind(q.to_hour())
        .bind(&q.boundaries)
        .fetch_all(&mut *conn)
        .await
        .map_err(map_sqlx_error)?;
        let active_users: Vec<(i64, i64)> = sqlx::query_as(
            "SELECT width_bucket(hour, $4::int8[])::int8 - 1 AS p, count(DISTINCT user_id) \
             FROM analytics_hourly_users WHERE app_id = $1 AND hour >= $2 AND hour < $3 \
             GROUP BY p ORDER BY p",
        )
        .bind(&q.app_id)
        .bind(q.from_hour())
        .bind(q.to_hour())
        .bind(&q.boundaries)
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
        let session_lengths: Vec<(i64, i64, i64)> = sqlx::query_as(
            "SELECT width_bucket(hour, $4::int8[])::int8 - 1 AS p, length_seconds::int8, \
             sum(sessions)::int8 \
             FROM analytics_hourly_sessions WHERE app_id = $1 AND hour >= $2 AND hour < $3 \
             GROUP BY p, length_seconds ORDER BY p, length_seconds",
        )
        .bind(&q.app_id)
        .bind(q.from_hour())
        .bind(q.to_hour())
        .bind(&q.boundaries)
        .fetch_all(&mut *conn)
        .await
        .map_err(map_sqlx_error)?;
        let mut load_times: Vec<(String, i64, i64)> = sqlx::query_as(
            "SELECT version::text, value_tenths, sum(samples)::int8 \
             FROM analytics_hourly_load_times WHERE app_id = $1 AND hour >= $2 AND hour < $3 \
             GROUP BY version, value_tenths",
        )
        .bind(&q.app_id)
        .bind(q.from_hour())
        .bind(q.to_hour())
        .fetch_all(&mut *conn)
        .await
        .map_err(map_sqlx_error)?;
        load_times.sort();
        let mut crashes: Vec<(String, i64, i64)> = sqlx::query_as(
            "SELECT version::text, sum(reports)::int8, sum(crashing)::int8 \
             FROM analytics_hourly_crashes WHERE app_id = $1 AND hour >= $2 AND hour < $3 \
             GROUP BY version",
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
