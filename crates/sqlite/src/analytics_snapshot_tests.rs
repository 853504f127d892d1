//! The rollup's snapshot guard: a bucket rolled up on a reader snapshot is written only while
//! a mark that snapshot saw is still there, and only the marks it saw are deleted.

use super::*;
use serde_json::json;
use time::Duration;
use tmcp_domain::clock::{Clock, SystemClock};
use tmcp_repository::NewUsageEvent;

const APP: &str = "snapshot-guard-app";

struct Fixture {
    _dir: tempfile::TempDir,
    db: SqliteDatabase,
    hour: i64,
}

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}", dir.path().join("tmcp.db").display());
    let db = SqliteDatabase::connect(&url).await.expect("open");
    // These tests are about marks and rollups; an app row would need a developer, a user
    // and an OAuth client first. The one writer connection keeps the setting.
    sqlx::query("PRAGMA foreign_keys = OFF")
        .execute(&db.writer)
        .await
        .expect("pragma");
    let hour = hour_of(SystemClock.now()) - 2;
    Fixture {
        _dir: dir,
        db,
        hour,
    }
}

/// One session of one event, started `minute` minutes into the fixture's hour.
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

async fn marks(f: &Fixture) -> i64 {
    let (n,): (i64,) = sqlx::query_as("SELECT count(*) FROM analytics_dirty_buckets")
        .fetch_one(&f.db.writer)
        .await
        .expect("marks");
    n
}

/// The fixture's bucket rolled up on a reader snapshot, not yet written.
async fn snapshot(f: &Fixture) -> Vec<Computed> {
    let (computed, _) =
        f.db.roll_up_on_snapshot(&[(APP.to_owned(), f.hour)])
            .await
            .expect("snapshot");
    computed
}

async fn highest_mark(f: &Fixture) -> i64 {
    let (id,): (i64,) = sqlx::query_as("SELECT max(id) FROM analytics_dirty_buckets")
        .fetch_one(&f.db.writer)
        .await
        .expect("id");
    id
}

async fn drain(f: &Fixture) {
    while f.db.roll_up(500, f.hour - 24).await.expect("roll up").marks > 0 {}
}

#[tokio::test]
async fn a_snapshot_older_than_the_last_rollup_of_its_bucket_is_not_written() {
    let f = fixture().await;
    start_session(&f, "first", 1).await;
    let stale = snapshot(&f).await;
    start_session(&f, "second", 2).await;
    drain(&f).await;
    assert_eq!(sessions(&f).await, 2);

    f.db.write_rollups(stale).await.expect("write");
    assert_eq!(sessions(&f).await, 2, "older figures were written back");
    assert_eq!(marks(&f).await, 0);
}

#[tokio::test]
async fn marks_that_arrive_after_the_snapshot_stay_for_the_next_run() {
    let f = fixture().await;
    start_session(&f, "first", 1).await;
    let computed = snapshot(&f).await;
    start_session(&f, "second", 2).await;

    f.db.write_rollups(computed).await.expect("write");
    assert_eq!(sessions(&f).await, 1, "the snapshot's figures");
    assert_eq!(
        marks(&f).await,
        1,
        "the later event's mark was deleted unrolled"
    );
    drain(&f).await;
    assert_eq!(sessions(&f).await, 2);
}

#[tokio::test]
async fn mark_ids_are_not_reused_after_the_highest_is_deleted() {
    let f = fixture().await;
    start_session(&f, "first", 1).await;
    let first = highest_mark(&f).await;
    drain(&f).await;
    start_session(&f, "second", 2).await;
    let second = highest_mark(&f).await;
    assert!(second > first, "{second} reuses {first}");
}
