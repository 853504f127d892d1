//! Analytics ingestion is all-or-nothing per batch on every engine, also when batches run
//! concurrently (SQLite commits them in groups) and when their callers hang up at random
//! moments. Each batch here writes 20 whole sessions into an hour of its own, so the
//! rollup's session count of that hour tells whether the batch is stored whole (20) or not
//! at all (0); anything in between is a half-stored batch.

use crate::cancellation::cancel_after;
use crate::{fixtures, Fixture, START};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;
use std::collections::BTreeMap;
use std::time::{Duration as StdDuration, Instant};
use time::{Duration, OffsetDateTime};
use tmcp_domain::analytics::{hour_of, hour_start, roll_up_span};
use tmcp_domain::ids::uuid_v7_at;
use tmcp_domain::UserId;
use tmcp_repository::{IngestBatch, NewMetric, NewUsageEvent, RepoError, StatsQuery};

const SESSIONS: usize = 20;

/// The first hour the batches here write into: after the scenario's start, so the
/// PostgreSQL partitions made for it hold every row.
fn first_hour() -> i64 {
    hour_of(*START) + 1
}

/// 20 sessions of 5 events (start, 3 features, end) of `user` in hour `hour`; with
/// `poisoned`, the 51st row names a user that does not exist, so the database refuses the
/// batch half way through its rows.
fn batch(app: &str, user: UserId, hour: i64, poisoned: bool) -> IngestBatch {
    let base = hour_start(hour);
    let mut rows = Vec::with_capacity(SESSIONS * 5);
    for s in 0..SESSIONS {
        for (k, event_type) in [
            "session_start",
            "feature_used",
            "feature_used",
            "feature_used",
            "session_end",
        ]
        .into_iter()
        .enumerate()
        {
            let at = base + Duration::seconds(i64::try_from(s * 60 + k * 10).expect("small"));
            let who = if poisoned && rows.len() == 50 {
                UserId(uuid_v7_at(at))
            } else {
                user
            };
            rows.push(NewUsageEvent {
                id: uuid_v7_at(at),
                app_id: app.to_owned(),
                user_id: Some(who),
                device_id: None,
                session_id: format!("h{hour}s{s}"),
                event_type: event_type.into(),
                duration_seconds: None,
                event_data: json!({}),
                at,
            });
        }
    }
    IngestBatch::Usage(rows)
}

/// Recomputes every dirty bucket from `oldest_hour` on, until no mark is left.
async fn drain_rollups(fixture: &Fixture, oldest_hour: i64) {
    while fixture
        .db
        .roll_up(10_000, oldest_hour)
        .await
        .expect("rollup")
        .marks
        > 0
    {}
}

/// Rolls every dirty bucket up, then the sessions counted in each hour of
/// `first..first + hours`.
async fn sessions_per_hour(fixture: &Fixture, app: &str, hours: i64) -> BTreeMap<i64, i64> {
    let first = first_hour();
    drain_rollups(fixture, first - 24).await;
    let rows = fixture
        .db
        .stats(&StatsQuery {
            app_id: app.to_owned(),
            boundaries: (first..=first + hours).collect(),
            extra_users: Vec::new(),
        })
        .await
        .expect("stats");
    let mut per_hour = BTreeMap::new();
    for (period, _length, sessions) in rows.session_lengths {
        *per_hour.entry(first + period).or_insert(0) += sessions;
    }
    per_hour
}

fn marked_at(hour: i64) -> OffsetDateTime {
    hour_start(hour) + Duration::minutes(30)
}

/// Concurrent batches, a third of them refused by a foreign key half way through: each
/// refused batch answers with its own error and leaves no row, every other batch is stored
/// whole — grouping them into shared transactions must not let one sink its neighbours.
pub async fn refused_batches_leave_nothing_and_spare_their_neighbours(fixture: &Fixture) {
    let dev = fixtures::user(fixture, "adev").await;
    let app = fixtures::app(fixture, "ma_ingest_neighbours", &dev).await;
    let user = fixtures::user(fixture, "asender").await.id;
    let first = first_hour();
    let count = 48;
    let tasks: Vec<_> = (0..count)
        .map(|i| {
            let db = fixture.db.clone();
            let app = app.to_string();
            tokio::spawn(async move {
                let hour = first + i;
                let poisoned = i % 3 == 1;
                let outcome = db
                    .ingest(batch(&app, user, hour, poisoned), marked_at(hour))
                    .await;
                (hour, poisoned, outcome)
            })
        })
        .collect();
    let mut expected = BTreeMap::new();
    for task in tasks {
        let (hour, poisoned, outcome) = task.await.expect("task");
        if poisoned {
            assert!(
                matches!(outcome, Err(RepoError::Constraint { .. })),
                "hour {hour}: {outcome:?}"
            );
        } else {
            assert!(outcome.is_ok(), "hour {hour}: {outcome:?}");
            expected.insert(hour, i64::try_from(SESSIONS).expect("small"));
        }
    }
    assert_eq!(
        sessions_per_hour(fixture, app.as_str(), count).await,
        expected
    );
}

/// Callers that hang up at random moments (before their batch is queued, while it waits,
/// while its transaction runs, after it commits): afterwards every hour holds its batch
/// whole or not at all, and every batch that was answered `Ok` is there.
pub async fn dropped_ingests_store_whole_batches_or_nothing(fixture: &Fixture) {
    let dev = fixtures::user(fixture, "cdev").await;
    let app = fixtures::app(fixture, "ma_ingest_dropped", &dev).await;
    let user = fixtures::user(fixture, "csender").await.id;
    let first = first_hour();
    let workers: i64 = 6;
    let rounds: i64 = 30;
    let tasks: Vec<_> = (0..workers)
        .map(|worker| {
            let db = fixture.db.clone();
            let app = app.to_string();
            tokio::spawn(async move {
                let mut rng = StdRng::seed_from_u64(0xA7A1 + worker.unsigned_abs());
                let mut typical = StdDuration::from_millis(3);
                let mut answered = Vec::new();
                let (mut finished, mut dropped) = (0, 0);
                for round in 0..rounds {
                    let hour = first + worker * rounds + round;
                    let work = db.ingest(batch(&app, user, hour, false), marked_at(hour));
                    let started = Instant::now();
                    let outcome = if rng.gen_bool(0.2) {
                        let out = work.await;
                        typical = (typical * 3 + started.elapsed()) / 4;
                        Some(out)
                    } else {
                        cancel_after(work, typical.mul_f64(rng.gen_range(0.0..1.5))).await
                    };
                    match outcome {
                        Some(Ok(())) => {
                            finished += 1;
                            answered.push(hour);
                        }
                        Some(Err(e)) => panic!("hour {hour}: {e:?}"),
                        None => dropped += 1,
                    }
                }
                (answered, finished, dropped)
            })
        })
        .collect();
    let mut answered = Vec::new();
    let (mut finished, mut dropped) = (0, 0);
    for task in tasks {
        let (hours, f, d) = task.await.expect("task");
        answered.extend(hours);
        finished += f;
        dropped += d;
    }
    assert!(
        finished > 0 && dropped > 0,
        "{finished} finished, {dropped} dropped"
    );
    // Let a group still being written when its callers left finish.
    tokio::time::sleep(StdDuration::from_millis(200)).await;
    let per_hour = sessions_per_hour(fixture, app.as_str(), workers * rounds).await;
    let whole = i64::try_from(SESSIONS).expect("small");
    for (hour, sessions) in &per_hour {
        assert_eq!(*sessions, whole, "hour {hour} holds part of a batch");
    }
    for hour in answered {
        assert!(
            per_hour.contains_key(&hour),
            "hour {hour} was answered Ok but is missing"
        );
    }
}

/// SQLite: a rollup pass costs what arrived since the last one. Under a steady stream into
/// one open hour, recomputing the hour from all of its rows each pass cost what the hour
/// held, and ingestion starved behind it on the one writer. Here 12 ingests of 100 rows go
/// into one hour: a pass limited to one mark adds exactly its 20 rows (the first 4 sessions
/// of 5 events), later passes add the rest once each, and the last one clears every mark.
pub async fn a_pass_adds_only_the_rows_since_the_last_one(fixture: &Fixture) {
    let dev = fixtures::user(fixture, "hdev").await;
    let app = fixtures::app(fixture, "ma_hot_bucket", &dev).await;
    let user = fixtures::user(fixture, "hsender").await.id;
    let hour = first_hour();
    let ingests = 12;
    for i in 0..ingests {
        let IngestBatch::Usage(mut rows) = batch(app.as_str(), user, hour, false) else {
            unreachable!("batch() builds usage rows");
        };
        for row in &mut rows {
            // Distinct sessions and ids per ingest, all in the same hour.
            row.session_id = format!("{}i{i}", row.session_id);
            row.id = uuid_v7_at(row.at + Duration::milliseconds(i));
        }
        fixture
            .db
            .ingest(IngestBatch::Usage(rows), marked_at(hour))
            .await
            .expect("ingest");
    }
    let per_ingest = i64::try_from(SESSIONS).expect("small");
    let report = fixture.db.roll_up(1, hour - 24).await.expect("rollup");
    assert_eq!((report.marks, report.buckets), (1, 1));
    let first = fixture
        .db
        .stats(&StatsQuery {
            app_id: app.as_str().to_owned(),
            boundaries: vec![hour, hour + 1],
            extra_users: Vec::new(),
        })
        .await
        .expect("stats");
    let counted: i64 = first.session_lengths.iter().map(|(_, _, n)| n).sum();
    assert_eq!(counted, 4, "one pass of one mark adds its 20 rows");
    assert!(fixture
        .db
        .oldest_dirty_mark()
        .await
        .expect("marks")
        .is_some());
    assert_eq!(
        sessions_per_hour(fixture, app.as_str(), 1).await,
        BTreeMap::from([(hour, per_ingest * ingests)])
    );
    assert_eq!(
        fixture.db.oldest_dirty_mark().await.expect("marks"),
        None,
        "the pass that reached the newest rows left marks"
    );
}

/// Rolls every dirty bucket from `oldest` on up, then `hour`'s sessions and load-time
/// samples.
async fn hour_figures(fixture: &Fixture, app: &str, hour: i64, oldest: i64) -> (i64, i64) {
    drain_rollups(fixture, oldest).await;
    let rows = fixture
        .db
        .stats(&StatsQuery {
            app_id: app.to_owned(),
            boundaries: vec![hour, hour + 1],
            extra_users: Vec::new(),
        })
        .await
        .expect("stats");
    (
        rows.session_lengths.iter().map(|(_, _, n)| n).sum(),
        rows.load_times.iter().map(|(_, _, n)| n).sum(),
    )
}

/// One `load_time` sample of `app` in `hour`.
fn load_time(app: &str, hour: i64) -> IngestBatch {
    let at = hour_start(hour) + Duration::minutes(5);
    IngestBatch::Metrics(vec![NewMetric {
        id: uuid_v7_at(at),
        app_id: app.to_owned(),
        version: "1.0.0".into(),
        metric_type: "load_time".into(),
        value: 120.0,
        device_info: None,
        at,
    }])
}

/// Retention deletes the raw events before its cutoff for every app and keeps the newer
/// ones (SQLite finds them app by app through `(app_id, "timestamp")`, PostgreSQL drops
/// whole months). Observed through the rollup: a late event joins the first session of each
/// hour after that session's end, which changes nothing while the session's raw events are
/// there; once they are gone it counts as a session of its own, added to the hour's kept
/// rollup (SQLite; PostgreSQL refuses it, the month's partition being gone).
pub async fn retention_drops_old_raw_events_of_every_app_and_keeps_newer_ones(fixture: &Fixture) {
    let dev = fixtures::user(fixture, "rdev").await;
    let user = fixtures::user(fixture, "rsender").await.id;
    // Old events about five weeks back (their month's partition made here), newer ones in
    // the scenario's hour; the cutoff is the first day of the month after the old events:
    // a month boundary, so both engines' retention (rows before it, or partitions wholly
    // before it) agree, and never after the newer events.
    let old_hour = hour_of(*START - Duration::days(35));
    let new_hour = first_hour();
    let old_day = hour_start(old_hour).date();
    let cutoff = old_day
        .replace_day(1)
        .expect("day 1")
        .checked_add(Duration::days(32))
        .expect("in range")
        .replace_day(1)
        .expect("day 1");
    fixture
        .db
        .ensure_partitions(hour_start(old_hour), 3)
        .await
        .expect("partitions");
    let mut apps = Vec::new();
    for name in ["ma_retention_a", "ma_retention_b"] {
        let app = fixtures::app(fixture, name, &dev).await;
        for hour in [old_hour, new_hour] {
            for events in [
                batch(app.as_str(), user, hour, false),
                load_time(app.as_str(), hour),
            ] {
                fixture
                    .db
                    .ingest(events, marked_at(hour))
                    .await
                    .expect("ingest");
            }
        }
        apps.push(app);
    }
    let oldest = old_hour - 24;
    for app in &apps {
        assert_eq!(
            hour_figures(fixture, app.as_str(), old_hour, oldest).await,
            (20, 1)
        );
    }
    fixture
        .db
        .drop_analytics_partitions_before(cutoff)
        .await
        .expect("retention");
    // On PostgreSQL the old month's partition is gone with its rows, so a late event there
    // is refused; on SQLite it is stored.
    let partitioned = fixture.db.engine() == "postgres";
    for app in &apps {
        for hour in [old_hour, new_hour] {
            let at = hour_start(hour) + Duration::minutes(59);
            let late = NewUsageEvent {
                id: uuid_v7_at(at),
                app_id: app.as_str().to_owned(),
                user_id: Some(user),
                device_id: None,
                session_id: format!("h{hour}s0"),
                event_type: "feature_used".into(),
                duration_seconds: None,
                event_data: json!({}),
                at,
            };
            let stored = fixture
                .db
                .ingest(IngestBatch::Usage(vec![late]), marked_at(hour))
                .await;
            if hour == old_hour && partitioned {
                assert!(stored.is_err(), "the old month's partition is still there");
            } else {
                stored.expect("late event");
            }
        }
    }
    let sessions = i64::try_from(SESSIONS).expect("small");
    for app in &apps {
        let new = hour_figures(fixture, app.as_str(), new_hour, oldest).await;
        assert_eq!(new, (sessions, 1), "newer raw events of {app} went");
        if !partitioned {
            // The late event found nothing of its session: a session of its own (one event,
            // length 0) beside the 20 the kept rollup still counts.
            let old = hour_figures(fixture, app.as_str(), old_hour, oldest).await;
            assert_eq!(old, (sessions + 1, 1), "old raw events of {app} remain");
        }
    }
}

/// Part of an hour, read from the raw rows (the stats' spans where a local day starts at
/// `:30` or `:45` UTC), holds exactly the sessions that start in it; users the stats add
/// from such spans count once per period and once over the range.
pub async fn raw_spans_split_an_hour_and_extra_users_count_once(fixture: &Fixture) {
    let dev = fixtures::user(fixture, "adev").await;
    let app = fixtures::app(fixture, "ma_raw_spans", &dev)
        .await
        .to_string();
    let user = fixtures::user(fixture, "aspanner").await.id;
    let other = fixtures::user(fixture, "aspanned").await.id;
    let hour = first_hour() + 2;
    fixture
        .db
        .ingest(batch(&app, user, hour, false), marked_at(hour))
        .await
        .expect("ingest");
    // Sessions start a minute apart from the hour's start: 10 in its first 10 minutes.
    let split = hour_start(hour) + Duration::minutes(10);
    let spans = [
        (hour_start(hour), split),
        (split, hour_start(hour + 1)),
        (hour_start(hour + 1), hour_start(hour + 2)),
    ];
    let raw = fixture.db.raw_spans(&app, &spans).await.expect("spans");
    assert_eq!(raw.len(), 3);
    let rolled: Vec<_> = spans
        .iter()
        .zip(raw)
        .map(|((lo, hi), raw)| roll_up_span(*lo, *hi, raw))
        .collect();
    let sessions = |i: usize| rolled[i].session_lengths.values().sum::<i64>();
    assert_eq!((sessions(0), sessions(1), sessions(2)), (10, 10, 0));
    assert!(rolled[0].users.contains(&user.0) && rolled[1].users.contains(&user.0));
    assert!(rolled[2].is_empty(), "an hour without rows rolls up empty");
    // Every session is 40 s long, whichever part of the hour it starts in.
    assert_eq!(
        rolled[0].session_lengths.keys().collect::<Vec<_>>(),
        vec![&40]
    );
    let other_app = fixtures::app(fixture, "ma_raw_spans_other", &dev)
        .await
        .to_string();
    let foreign = fixture
        .db
        .raw_spans(&other_app, &spans)
        .await
        .expect("spans");
    assert!(foreign
        .into_iter()
        .all(|r| r.session_rows.is_empty() && r.users.is_empty()));

    drain_rollups(fixture, first_hour() - 24).await;
    let rows = fixture
        .db
        .stats(&StatsQuery {
            app_id: app.clone(),
            boundaries: vec![hour, hour + 1, hour + 2],
            extra_users: vec![(0, user.0), (0, other.0), (1, other.0)],
        })
        .await
        .expect("stats");
    assert_eq!(rows.active_users, vec![(0, 2), (1, 1)]);
    assert_eq!(rows.total_active_users, 2);
}
