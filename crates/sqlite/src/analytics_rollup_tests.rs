//! The SQLite rollup's positions: a pass refused when another moved them first, marks made
//! before migration 0020, rowids never handed out twice (retention, backups).

use super::*;
use serde_json::json;
use time::Duration;
use tmcp_domain::analytics::{hour_of, hour_start};
use tmcp_domain::clock::{Clock, SystemClock};
use tmcp_repository::{AnalyticsRepository, IngestBatch, NewUsageEvent, SystemRepository};

const APP: &str = "positions-app";

struct Fixture {
    dir: tempfile::TempDir,
    db: SqliteDatabase,
    hour: i64,
}

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = open(&dir.path().join("tmcp.db")).await;
    let hour = hour_of(SystemClock.now()) - 2;
    Fixture { dir, db, hour }
}

async fn open(path: &std::path::Path) -> SqliteDatabase {
    let db = SqliteDatabase::connect(&format!("sqlite://{}", path.display()))
        .await
        .expect("open");
    // These tests are about raw rows and rollups; an app row would need a developer, a user
    // and an OAuth client first. The one writer connection keeps the setting.
    sqlx::query("PRAGMA foreign_keys = OFF")
        .execute(&db.writer)
        .await
        .expect("pragma");
    db
}

/// A session of one event `minute` minutes into the fixture's hour.
async fn start_session(f: &Fixture, session: &str, minute: i64) {
    let at = hour_start(f.hour) + Duration::minutes(minute);
    let event = NewUsageEvent {
        id: Uuid::from_u128(0x5e55_0000 + u128::from(minute.unsigned_abs())),
        app_id: APP.to_owned(),
        user_id: None,
        device_id: None,
        session_id: session.to_owned(),
        event_type: "session_start".to_owned(),
        duration_seconds: None,
        event_data: json!({}),
        at,
    };
    f.db.ingest(IngestBatch::Usage(vec![event]), at)
        .await
        .expect("ingest");
}

async fn sessions(f: &Fixture) -> i64 {
    let (n,): (Option<i64>,) = sqlx::query_as(
        "SELECT sum(sessions) FROM analytics_hourly_sessions WHERE app_id = $1 AND hour = $2",
    )
    .bind(APP)
    .bind(f.hour)
    .fetch_one(&f.db.writer)
    .await
    .expect("sessions");
    n.unwrap_or(0)
}

async fn drain(f: &Fixture) {
    while f.db.roll_up(500, f.hour - 24).await.expect("roll up").marks > 0 {}
}

async fn usage_rowids(db: &SqliteDatabase) -> Vec<(i64, Uuid)> {
    sqlx::query_as("SELECT rowid, id FROM app_usage_analytics ORDER BY rowid")
        .fetch_all(&db.writer)
        .await
        .expect("rowids")
}

#[tokio::test]
async fn a_pass_read_before_another_moved_the_positions_writes_nothing() {
    let f = fixture().await;
    start_session(&f, "first", 1).await;
    let mut conn = f.db.reader.acquire().await.expect("reader");
    let (from, _) = stored_positions(&mut conn).await.expect("positions");
    let stale = read_new_rows(&mut conn, from, 100, f.hour - 24)
        .await
        .expect("read");
    drop(conn);
    drain(&f).await;
    assert_eq!(sessions(&f).await, 1);

    let mut tx = f.db.writer.begin().await.expect("tx");
    assert!(
        !move_positions(&mut tx, from, stale.upto)
            .await
            .expect("move"),
        "a pass would add rows another pass already added"
    );
    tx.rollback().await.expect("rollback");
    drain(&f).await;
    assert_eq!(sessions(&f).await, 1);
}

#[tokio::test]
async fn marks_from_before_the_positions_are_recomputed_once_then_rows_are_added() {
    let f = fixture().await;
    start_session(&f, "before-upgrade", 1).await;
    start_session(&f, "before-upgrade-too", 2).await;
    // As migration 0020 leaves a database whose marks were not rolled up yet: positions at
    // the newest rows, every waiting mark a legacy one.
    sqlx::query(
        "UPDATE analytics_rollup_positions SET position = CASE source \
           WHEN 'usage' THEN (SELECT max(rowid) FROM app_usage_analytics) \
           WHEN 'legacy_marks' THEN (SELECT max(id) FROM analytics_dirty_buckets) \
           ELSE position END",
    )
    .execute(&f.db.writer)
    .await
    .expect("upgrade");
    start_session(&f, "after-upgrade", 3).await;

    let report = f.db.roll_up(500, f.hour - 24).await.expect("legacy pass");
    assert_eq!(report.marks, 2, "the legacy marks");
    assert_eq!(sessions(&f).await, 2, "recomputed up to the positions only");
    drain(&f).await;
    assert_eq!(sessions(&f).await, 3, "each session counted once");
    assert_eq!(f.db.oldest_dirty_mark().await.expect("marks"), None);
}

#[tokio::test]
async fn retention_keeps_the_newest_row_so_rowids_only_grow() {
    let f = fixture().await;
    for minute in 1..=3 {
        start_session(&f, &format!("s{minute}"), minute).await;
    }
    drain(&f).await;
    // Retention walks the apps table.
    sqlx::query(
        "INSERT INTO apps (app_id, name, version, classification, developer_id, \
         developer_name) VALUES ($1, 'Positions', '1.0.0', 'community', randomblob(16), 'dev')",
    )
    .bind(APP)
    .execute(&f.db.writer)
    .await
    .expect("app");
    let before = usage_rowids(&f.db).await;
    // A cutoff after every row: all are past retention.
    let cutoff = (hour_start(f.hour) + Duration::days(2)).date();
    f.db.drop_analytics_partitions_before(cutoff)
        .await
        .expect("retention");
    let left = usage_rowids(&f.db).await;
    assert_eq!(
        left,
        before[before.len() - 1..].to_vec(),
        "the newest row stays"
    );
    start_session(&f, "after", 10).await;
    let after = usage_rowids(&f.db).await;
    assert_eq!(after.len(), 2);
    assert!(
        after[1].0 > before[before.len() - 1].0,
        "{after:?} after {before:?}"
    );
    drain(&f).await;
    assert_eq!(sessions(&f).await, 4, "the new row was added, not skipped");
}

#[tokio::test]
async fn a_backup_keeps_every_rowid_so_the_positions_stay_true() {
    let f = fixture().await;
    for minute in 1..=6 {
        start_session(&f, &format!("s{minute}"), minute).await;
    }
    // A gap in the rowids, as retention leaves: VACUUM may renumber rows of a table with no
    // INTEGER PRIMARY KEY, which would put rows under or over the positions.
    sqlx::query("DELETE FROM app_usage_analytics WHERE session_id IN ('s2', 's3')")
        .execute(&f.db.writer)
        .await
        .expect("gap");
    let original = usage_rowids(&f.db).await;
    let copy_path = f.dir.path().join("copy.db");
    f.db.backup_to(&copy_path).await.expect("backup");
    let copy = open(&copy_path).await;
    assert_eq!(usage_rowids(&copy).await, original);
    copy.close().await;
}
