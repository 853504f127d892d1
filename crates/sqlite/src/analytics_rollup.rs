//! The SQLite rollup (docs/analytics.md, "Rollups on SQLite"). A pass reads, on a reader
//! snapshot, the raw rows committed after the stored positions (migration 0020) — a range
//! scan of each table's rowids — plus the earlier events of the sessions those rows belong
//! to, turns them into a `RollupDelta`, and adds that to the rollups in one writer
//! transaction that moves the positions on, only if they are still where the snapshot found
//! them. A pass costs what arrived since the last one: recomputing every dirty hour from all
//! of its rows cost what the hour held, and an hour under a steady stream held millions.
//!
//! Marks made before migration 0020 (ids up to `legacy_marks`) stand for rows no pass has
//! seen below the first positions; their buckets are recomputed, up to the positions, before
//! any position moves. Later marks only tell since when rows wait (the job's lag metric).

use crate::analytics_recompute::{clear_rollup, delete_marks, read_bucket};
use crate::time_text::from_text;
use crate::{map_sqlx_error, SqliteDatabase};
use sqlx::{QueryBuilder, Sqlite, SqliteConnection};
use std::collections::{BTreeMap, BTreeSet};
use tmcp_domain::analytics::delta::RollupDelta;
use tmcp_domain::analytics::{roll_up, SessionEvent};
use tmcp_repository::{RepoResult, RollupReport};
use uuid::Uuid;

/// Raw rows per dirty mark in a pass's budget: a batch of `limit` marks (500 by default)
/// reads up to `limit × 20` rows of each table. Passes are cheap, so they stay small: at
/// `× 100` one pass held about 50 MB of rows and statements, and the server's peak memory
/// rose from ~100 MB to 180–270 MB while a seeder loaded 10 M events beside it.
pub(crate) const ROWS_PER_MARK: i64 = 20;

/// Session ids per lookup of their earlier events (one bound value each).
const SESSIONS_PER_LOOKUP: usize = 500;

/// Rows a multi-row statement writes at once (≤ 7 values each, far below SQLite's 32766
/// variables per statement; a prepared statement grows with its values).
const ROWS_PER_STATEMENT: usize = 1000;

/// The rowid, per raw table, up to which the rollups reflect every row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Positions {
    pub lifecycle: i64,
    pub usage: i64,
    pub metrics: i64,
}

impl Positions {
    /// Past every row: what the stats read from the raw tables.
    pub(crate) const EVERY_ROW: Self = Self {
        lifecycle: i64::MAX,
        usage: i64::MAX,
        metrics: i64::MAX,
    };

    fn rows_after(&self, earlier: &Positions) -> i64 {
        (self.lifecycle - earlier.lifecycle)
            + (self.usage - earlier.usage)
            + (self.metrics - earlier.metrics)
    }
}

/// The stored positions and the highest legacy mark id.
async fn stored_positions(conn: &mut SqliteConnection) -> RepoResult<(Positions, i64)> {
    let rows: Vec<(String, i64)> =
        sqlx::query_as("SELECT source, position FROM analytics_rollup_positions")
            .fetch_all(&mut *conn)
            .await
            .map_err(map_sqlx_error)?;
    let mut positions = Positions::default();
    let mut legacy = 0;
    for (source, position) in rows {
        match source.as_str() {
            "lifecycle" => positions.lifecycle = position,
            "usage" => positions.usage = position,
            "metrics" => positions.metrics = position,
            _ => legacy = position,
        }
    }
    Ok((positions, legacy))
}

/// The largest rowid of each raw table (0 when empty): the newest committed rows.
async fn newest_rows(conn: &mut SqliteConnection) -> RepoResult<Positions> {
    let (lifecycle, usage, metrics): (i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT coalesce(max(rowid), 0) FROM app_lifecycle_events), \
                (SELECT coalesce(max(rowid), 0) FROM app_usage_analytics), \
                (SELECT coalesce(max(rowid), 0) FROM app_performance_metrics)",
    )
    .fetch_one(&mut *conn)
    .await
    .map_err(map_sqlx_error)?;
    Ok(Positions {
        lifecycle,
        usage,
        metrics,
    })
}

/// Moves the positions from `from` to `to`; false (nothing moved) if another pass, in this
/// process or another one on the same file, moved them first.
async fn move_positions(
    conn: &mut SqliteConnection,
    from: Positions,
    to: Positions,
) -> RepoResult<bool> {
    let (current, _) = stored_positions(conn).await?;
    if current != from {
        return Ok(false);
    }
    for (source, position) in [
        ("lifecycle", to.lifecycle),
        ("usage", to.usage),
        ("metrics", to.metrics),
    ] {
        sqlx::query("UPDATE analytics_rollup_positions SET position = $1 WHERE source = $2")
            .bind(position)
            .bind(source)
            .execute(&mut *conn)
            .await
            .map_err(map_sqlx_error)?;
    }
    Ok(true)
}

/// A new usage row: app, user, session id, whether it ends its session, time.
type UsageRead = (String, Option<Uuid>, Option<String>, bool, String);

/// (app, user, session id) of a usage row.
type SessionKey = (String, Option<Uuid>, String);

/// What a pass read on its snapshot.
struct NewRows {
    delta: RollupDelta,
    /// Where the rows read end (at most the newest rows of the snapshot).
    upto: Positions,
    /// Whether `upto` is the newest rows of the snapshot.
    caught_up: bool,
    /// The highest mark id in the snapshot.
    newest_mark: i64,
}

/// Reads the rows after `from` (up to `budget` per table) and the earlier events of their
/// sessions.
async fn read_new_rows(
    conn: &mut SqliteConnection,
    from: Positions,
    budget: i64,
    oldest_hour: i64,
) -> RepoResult<NewRows> {
    let newest = newest_rows(conn).await?;
    let (newest_mark,): (Option<i64>,) =
        sqlx::query_as("SELECT max(id) FROM analytics_dirty_buckets")
            .fetch_one(&mut *conn)
            .await
            .map_err(map_sqlx_error)?;
    let upto = Positions {
        lifecycle: newest.lifecycle.min(from.lifecycle.saturating_add(budget)),
        usage: newest.usage.min(from.usage.saturating_add(budget)),
        metrics: newest.metrics.min(from.metrics.saturating_add(budget)),
    };
    let mut delta = RollupDelta::new(oldest_hour);

    let lifecycle: Vec<(String, Option<Uuid>, String, String)> = sqlx::query_as(
        "SELECT app_id, user_id, event_type, \"timestamp\" FROM app_lifecycle_events \
         WHERE rowid > $1 AND rowid <= $2",
    )
    .bind(from.lifecycle)
    .bind(upto.lifecycle)
    .fetch_all(&mut *conn)
    .await
    .map_err(map_sqlx_error)?;
    for (app_id, user_id, event_type, at) in lifecycle {
        delta.lifecycle(&app_id, user_id, &event_type, from_text(&at)?);
    }

    let metrics: Vec<(String, String, String, f64, String)> = sqlx::query_as(
        "SELECT app_id, version, metric_type, metric_value, \"timestamp\" \
         FROM app_performance_metrics WHERE rowid > $1 AND rowid <= $2 \
           AND metric_type IN ('load_time', 'crash_rate')",
    )
    .bind(from.metrics)
    .bind(upto.metrics)
    .fetch_all(&mut *conn)
    .await
    .map_err(map_sqlx_error)?;
    for (app_id, version, metric_type, value, at) in metrics {
        delta.metric(&app_id, &version, &metric_type, value, from_text(&at)?);
    }

    let usage: Vec<UsageRead> = sqlx::query_as(
        "SELECT app_id, user_id, session_id, event_type = 'session_end', \"timestamp\" \
         FROM app_usage_analytics WHERE rowid > $1 AND rowid <= $2",
    )
    .bind(from.usage)
    .bind(upto.usage)
    .fetch_all(&mut *conn)
    .await
    .map_err(map_sqlx_error)?;
    let mut added: BTreeMap<SessionKey, Vec<SessionEvent>> = BTreeMap::new();
    for (app_id, user_id, session_id, is_end, at) in usage {
        let at = from_text(&at)?;
        delta.usage_user(&app_id, user_id, at);
        if let Some(session_id) = session_id {
            added
                .entry((app_id, user_id, session_id))
                .or_default()
                .push(SessionEvent { at, is_end });
        }
    }
    let mut before = earlier_session_events(conn, &added, from.usage).await?;
    for (key, new_events) in added {
        let earlier = before.remove(&key).unwrap_or_default();
        let mut all = earlier.clone();
        all.extend(new_events);
        delta.session_changed(&key.0, &earlier, &all);
    }
    Ok(NewRows {
        delta,
        caught_up: upto == newest,
        upto,
        newest_mark: newest_mark.unwrap_or(0),
    })
}

/// The events at or below rowid `upto` of the sessions in `sessions`, through the
/// `(app_id, session_id, timestamp)` index; a session seen for the first time has none.
async fn earlier_session_events(
    conn: &mut SqliteConnection,
    sessions: &BTreeMap<SessionKey, Vec<SessionEvent>>,
    upto: i64,
) -> RepoResult<BTreeMap<SessionKey, Vec<SessionEvent>>> {
    let mut per_app: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for (app_id, _, session_id) in sessions.keys() {
        per_app.entry(app_id).or_default().insert(session_id);
    }
    let mut earlier: BTreeMap<SessionKey, Vec<SessionEvent>> = BTreeMap::new();
    for (app_id, ids) in per_app {
        let ids: Vec<&str> = ids.into_iter().collect();
        for chunk in ids.chunks(SESSIONS_PER_LOOKUP) {
            let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(
                "SELECT user_id, session_id, event_type = 'session_end', \"timestamp\" \
                 FROM app_usage_analytics WHERE app_id = ",
            );
            q.push_bind(app_id).push(" AND rowid <= ").push_bind(upto);
            q.push(" AND session_id IN (");
            let mut list = q.separated(", ");
            for id in chunk {
                list.push_bind(*id);
            }
            q.push(")");
            let rows: Vec<(Option<Uuid>, String, bool, String)> = q
                .build_query_as()
                .persistent(false)
                .fetch_all(&mut *conn)
                .await
                .map_err(map_sqlx_error)?;
            for (user_id, session_id, is_end, at) in rows {
                let key = (app_id.to_owned(), user_id, session_id);
                // Another user's session of the same id is another session.
                if sessions.contains_key(&key) {
                    earlier.entry(key).or_default().push(SessionEvent {
                        at: from_text(&at)?,
                        is_end,
                    });
                }
            }
        }
    }
    Ok(earlier)
}

/// Adds a delta to the rollup tables.
async fn apply_delta(conn: &mut SqliteConnection, delta: &RollupDelta) -> RepoResult<()> {
    let counts: Vec<_> = delta.counts.iter().collect();
    for chunk in counts.chunks(ROWS_PER_STATEMENT) {
        let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(
            "INSERT INTO analytics_hourly (app_id, hour, installs, uninstalls, updates, \
             launches, closes) ",
        );
        q.push_values(chunk, |mut b, ((app_id, hour), c)| {
            b.push_bind(app_id.as_str())
                .push_bind(*hour)
                .push_bind(c.installs)
                .push_bind(c.uninstalls)
                .push_bind(c.updates)
                .push_bind(c.launches)
                .push_bind(c.closes);
        });
        q.push(
            " ON CONFLICT (app_id, hour) DO UPDATE SET \
             installs = installs + excluded.installs, \
             uninstalls = uninstalls + excluded.uninstalls, \
             updates = updates + excluded.updates, \
             launches = launches + excluded.launches, closes = closes + excluded.closes",
        );
        execute(conn, q).await?;
    }
    let users: Vec<_> = delta.users.iter().collect();
    for chunk in users.chunks(ROWS_PER_STATEMENT) {
        let mut q: QueryBuilder<Sqlite> =
            QueryBuilder::new("INSERT INTO analytics_hourly_users (app_id, hour, user_id) ");
        q.push_values(chunk, |mut b, ((app_id, hour), user)| {
            b.push_bind(app_id.as_str())
                .push_bind(*hour)
                .push_bind(*user);
        });
        q.push(" ON CONFLICT DO NOTHING");
        execute(conn, q).await?;
    }
    let sessions: Vec<_> = delta.session_lengths.iter().collect();
    for chunk in sessions.chunks(ROWS_PER_STATEMENT) {
        let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(
            "INSERT INTO analytics_hourly_sessions (app_id, hour, length_seconds, sessions) ",
        );
        q.push_values(chunk, |mut b, (((app_id, hour), length), n)| {
            b.push_bind(app_id.as_str())
                .push_bind(*hour)
                .push_bind(*length)
                .push_bind(**n);
        });
        q.push(" ON CONFLICT DO UPDATE SET sessions = sessions + excluded.sessions");
        execute(conn, q).await?;
    }
    // A session taken back from an hour can leave a length with no sessions: a full
    // recomputation would have no row there.
    for (((app_id, hour), length), _) in delta.session_lengths.iter().filter(|(_, n)| **n < 0) {
        sqlx::query(
            "DELETE FROM analytics_hourly_sessions WHERE app_id = $1 AND hour = $2 \
             AND length_seconds = $3 AND sessions <= 0",
        )
        .bind(app_id)
        .bind(hour)
        .bind(length)
        .execute(&mut *conn)
        .await
        .map_err(map_sqlx_error)?;
    }
    let loads: Vec<_> = delta.load_times.iter().collect();
    for chunk in loads.chunks(ROWS_PER_STATEMENT) {
        let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(
            "INSERT INTO analytics_hourly_load_times (app_id, hour, version, value_tenths, \
             samples) ",
        );
        q.push_values(chunk, |mut b, (((app_id, hour), version, tenths), n)| {
            b.push_bind(app_id.as_str())
                .push_bind(*hour)
                .push_bind(version.as_str())
                .push_bind(*tenths)
                .push_bind(**n);
        });
        q.push(" ON CONFLICT DO UPDATE SET samples = samples + excluded.samples");
        execute(conn, q).await?;
    }
    let crashes: Vec<_> = delta.crashes.iter().collect();
    for chunk in crashes.chunks(ROWS_PER_STATEMENT) {
        let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(
            "INSERT INTO analytics_hourly_crashes (app_id, hour, version, reports, crashing) ",
        );
        q.push_values(
            chunk,
            |mut b, (((app_id, hour), version), (reports, crashing))| {
                b.push_bind(app_id.as_str())
                    .push_bind(*hour)
                    .push_bind(version.as_str())
                    .push_bind(*reports)
                    .push_bind(*crashing);
            },
        );
        q.push(
            " ON CONFLICT DO UPDATE SET reports = reports + excluded.reports, \
             crashing = crashing + excluded.crashing",
        );
        execute(conn, q).await?;
    }
    Ok(())
}

/// Runs a statement built for one pass without keeping it prepared: its text varies with
/// the number of rows, and sqlx's per-connection cache of 100 statements held the large
/// ones (thousands of bound values each) for good — the server grew past 250 MB.
async fn execute(conn: &mut SqliteConnection, mut q: QueryBuilder<'_, Sqlite>) -> RepoResult<()> {
    q.build()
        .persistent(false)
        .execute(&mut *conn)
        .await
        .map_err(map_sqlx_error)?;
    Ok(())
}

fn count(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

impl SqliteDatabase {
    /// One bounded pass: legacy marks first, then up to `limit × ROWS_PER_MARK` new rows of
    /// each table. `marks` in the report counts legacy marks recomputed, or the rows added in
    /// units of `ROWS_PER_MARK` plus the lag marks cleared; 0 means nothing was left.
    pub(crate) async fn roll_up_new_rows(
        &self,
        limit: i64,
        oldest_hour: i64,
    ) -> RepoResult<RollupReport> {
        // One pass at a time in this process; passes of other processes on the file are
        // caught by `move_positions`.
        let _turn = self.rollup_turn.lock().await;
        let mut snapshot = self.reader.begin().await.map_err(map_sqlx_error)?;
        let (from, legacy) = stored_positions(&mut snapshot).await?;
        let legacy_marks: Vec<(i64, String, i64)> = sqlx::query_as(
            "SELECT id, app_id, hour FROM analytics_dirty_buckets WHERE id <= $1 \
             ORDER BY id LIMIT $2",
        )
        .bind(legacy)
        .bind(limit)
        .fetch_all(&mut *snapshot)
        .await
        .map_err(map_sqlx_error)?;
        if !legacy_marks.is_empty() {
            let report = self
                .recompute_legacy(&mut snapshot, from, legacy_marks, oldest_hour)
                .await;
            snapshot.rollback().await.map_err(map_sqlx_error)?;
            return report;
        }
        let budget = limit.max(1).saturating_mul(ROWS_PER_MARK);
        let read = read_new_rows(&mut snapshot, from, budget, oldest_hour).await?;
        snapshot.rollback().await.map_err(map_sqlx_error)?;
        let rows = read.upto.rows_after(&from);

        let mut tx = self
            .writer
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(map_sqlx_error)?;
        if !move_positions(&mut tx, from, read.upto).await? {
            // Another pass added these rows first: nothing of ours is written.
            tx.rollback().await.map_err(map_sqlx_error)?;
            return Ok(RollupReport {
                marks: 1,
                buckets: 0,
            });
        }
        apply_delta(&mut tx, &read.delta).await?;
        let mut cleared = 0;
        if read.caught_up {
            // Every mark the snapshot held was made with rows it read; later ones have
            // higher ids (AUTOINCREMENT, one writer) and stay.
            cleared = sqlx::query("DELETE FROM analytics_dirty_buckets WHERE id <= $1")
                .bind(read.newest_mark)
                .execute(&mut *tx)
                .await
                .map_err(map_sqlx_error)?
                .rows_affected();
        }
        tx.commit().await.map_err(map_sqlx_error)?;
        let units = (rows + ROWS_PER_MARK - 1) / ROWS_PER_MARK;
        Ok(RollupReport {
            marks: u64::try_from(units).unwrap_or(0) + cleared,
            buckets: count(read.delta.buckets().len()),
        })
    }

    /// Recomputes the buckets of legacy marks (and the other hours of their sessions) from
    /// the rows up to `at`, which no later write changes, and deletes the marks.
    async fn recompute_legacy(
        &self,
        snapshot: &mut SqliteConnection,
        at: Positions,
        marks: Vec<(i64, String, i64)>,
        oldest_hour: i64,
    ) -> RepoResult<RollupReport> {
        let ids: Vec<i64> = marks.iter().map(|(id, _, _)| *id).collect();
        let dirty: BTreeSet<(String, i64)> = marks
            .into_iter()
            .filter(|(_, _, hour)| *hour >= oldest_hour)
            .map(|(_, app_id, hour)| (app_id, hour))
            .collect();
        // The buckets emptied and their recomputed figures, added back as a delta.
        let mut recomputed_buckets = Vec::new();
        let mut recomputed = RollupDelta::new(oldest_hour);
        let mut session_hours = BTreeSet::new();
        for (app_id, hour) in &dirty {
            let read = read_bucket(snapshot, app_id, *hour, at).await?;
            session_hours.extend(read.session_hours.into_iter().map(|h| (app_id.clone(), h)));
            recomputed.add_rollup(app_id, *hour, &roll_up(*hour, read.raw));
            recomputed_buckets.push((app_id.clone(), *hour));
        }
        // The dirty buckets' reads held every event of their sessions: these are all the
        // other hours those sessions have events in.
        for (app_id, hour) in session_hours {
            if hour >= oldest_hour && !dirty.contains(&(app_id.clone(), hour)) {
                let read = read_bucket(snapshot, &app_id, hour, at).await?;
                recomputed.add_rollup(&app_id, hour, &roll_up(hour, read.raw));
                recomputed_buckets.push((app_id, hour));
            }
        }
        let buckets = count(recomputed_buckets.len());
        let mut tx = self
            .writer
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(map_sqlx_error)?;
        // The rows up to `at` are what the figures are of; if another process's pass has
        // moved the positions, these are older than its rollups.
        if stored_positions(&mut tx).await?.0 == at {
            for (app_id, hour) in &recomputed_buckets {
                clear_rollup(&mut tx, app_id, *hour).await?;
            }
            apply_delta(&mut tx, &recomputed).await?;
            delete_marks(&mut tx, &ids).await?;
        }
        tx.commit().await.map_err(map_sqlx_error)?;
        Ok(RollupReport {
            marks: count(ids.len()),
            buckets,
        })
    }
}

#[cfg(test)]
#[path = "analytics_rollup_tests.rs"]
mod tests;
