//! The full recomputation of a bucket from its raw rows, up to given positions: used by
//! the SQLite rollup only for marks made before migration 0020 (`analytics_rollup.rs`), whose
//! rows no pass of the incremental rollup has seen.

use crate::analytics::ROLLUP_TABLES;
use crate::analytics_rollup::Positions;
use crate::map_sqlx_error;
use crate::time_text::{from_text, to_text};
use sqlx::{QueryBuilder, Sqlite, SqliteConnection};
use std::collections::BTreeSet;
use time::OffsetDateTime;
use tmcp_domain::analytics::{hour_of, hour_start, MetricRow, RawBucket, UsageRow};
use tmcp_repository::RepoResult;
use uuid::Uuid;

/// A bucket's raw rows, and the other hours its sessions have events in.
pub(crate) struct BucketRead {
    pub raw: RawBucket,
    /// Any of these may hold a session's start as far as an earlier rollup knew (events
    /// arrive out of order), so a change to this bucket's sessions re-rolls them too.
    pub session_hours: BTreeSet<i64>,
}

/// Reads a bucket's raw rows. The usage table is read once, through its
/// `(app_id, session_id, timestamp)` index: every event of the sessions that have an event in
/// the hour, with no upper bound on time. Later events than the domain's 25 hours cannot
/// change the rollup (they are past the session cap), and reading them here gives the other
/// hours of those sessions and, from the rows inside the hour, the hour's usage users —
/// what used to be two more passes over the same rows. Only rows at or below `upto` count:
/// the rollups reflect exactly those, and later ones are the incremental pass's to add.
pub(crate) async fn read_bucket(
    conn: &mut SqliteConnection,
    app_id: &str,
    hour: i64,
    upto: Positions,
) -> RepoResult<BucketRead> {
    read_span(conn, app_id, (hour_start(hour), hour_start(hour + 1)), upto).await
}

/// [`read_bucket`] over the instants `[lo, hi)` (the stats read part of an hour this way).
pub(crate) async fn read_span(
    conn: &mut SqliteConnection,
    app_id: &str,
    (lo_at, hi_at): (OffsetDateTime, OffsetDateTime),
    upto: Positions,
) -> RepoResult<BucketRead> {
    let lo = to_text(lo_at);
    let hi = to_text(hi_at);
    let lifecycle_counts: Vec<(String, i64)> = sqlx::query_as(
        "SELECT event_type, count(*) FROM app_lifecycle_events \
         WHERE app_id = $1 AND \"timestamp\" >= $2 AND \"timestamp\" < $3 AND rowid <= $4 \
         GROUP BY event_type",
    )
    .bind(app_id)
    .bind(&lo)
    .bind(&hi)
    .bind(upto.lifecycle)
    .fetch_all(&mut *conn)
    .await
    .map_err(map_sqlx_error)?;
    // Users of the hour that the session rows below do not carry: lifecycle events, and usage
    // events without a session (none from this server's ingestion, which requires one).
    let other_users: Vec<(Uuid,)> = sqlx::query_as(
        "SELECT user_id FROM app_lifecycle_events WHERE app_id = $1 AND \"timestamp\" >= $2 \
           AND \"timestamp\" < $3 AND user_id IS NOT NULL AND rowid <= $4 \
         UNION SELECT user_id FROM app_usage_analytics WHERE app_id = $1 \
           AND session_id IS NULL AND \"timestamp\" >= $2 AND \"timestamp\" < $3 \
           AND user_id IS NOT NULL AND rowid <= $5",
    )
    .bind(app_id)
    .bind(&lo)
    .bind(&hi)
    .bind(upto.lifecycle)
    .bind(upto.usage)
    .fetch_all(&mut *conn)
    .await
    .map_err(map_sqlx_error)?;
    let session_rows: Vec<(Option<Uuid>, String, bool, String)> = sqlx::query_as(
        "SELECT u.user_id, u.session_id, u.event_type = 'session_end', u.\"timestamp\" \
         FROM app_usage_analytics u \
         WHERE u.app_id = $1 AND u.rowid <= $4 AND u.session_id IN \
           (SELECT session_id FROM app_usage_analytics \
             WHERE app_id = $1 AND \"timestamp\" >= $2 AND \"timestamp\" < $3 \
               AND session_id IS NOT NULL AND rowid <= $4)",
    )
    .bind(app_id)
    .bind(&lo)
    .bind(&hi)
    .bind(upto.usage)
    .fetch_all(&mut *conn)
    .await
    .map_err(map_sqlx_error)?;
    let metrics: Vec<(String, String, f64)> = sqlx::query_as(
        "SELECT version, metric_type, metric_value FROM app_performance_metrics \
         WHERE app_id = $1 AND \"timestamp\" >= $2 AND \"timestamp\" < $3 \
           AND metric_type IN ('load_time', 'crash_rate') AND rowid <= $4",
    )
    .bind(app_id)
    .bind(&lo)
    .bind(&hi)
    .bind(upto.metrics)
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

/// Deletes a bucket's rollup rows, before its recomputed figures are added back.
pub(crate) async fn clear_rollup(
    conn: &mut SqliteConnection,
    app_id: &str,
    hour: i64,
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
    Ok(())
}

pub(crate) async fn delete_marks(conn: &mut SqliteConnection, ids: &[i64]) -> RepoResult<()> {
    for chunk in ids.chunks(5000) {
        let mut q: QueryBuilder<Sqlite> =
            QueryBuilder::new("DELETE FROM analytics_dirty_buckets WHERE id IN (");
        let mut list = q.separated(", ");
        for id in chunk {
            list.push_bind(*id);
        }
        q.push(")");
        q.build()
            .persistent(false)
            .execute(&mut *conn)
            .await
            .map_err(map_sqlx_error)?;
    }
    Ok(())
}
