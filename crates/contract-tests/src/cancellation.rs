//! Cancellation at random points. A client that hangs up makes the server drop its request's
//! future wherever that future is: between two statements, while `BEGIN` or `COMMIT` is on
//! the wire, or while the pooled connection is being handed back. These helpers drop work at
//! random moments and then look for what a badly timed drop can leave behind: a unit of work
//! half applied, a quota row out of step with its entries, a pooled PostgreSQL session still
//! inside a transaction, or PostgreSQL's warnings about transaction state.

use crate::storage::{assert_usage_matches_rows, bytes_write, ctx, key};
use crate::{engines, fixtures, Fixture};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sqlx::{Connection, PgConnection};
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Once;
use std::time::{Duration, Instant};
use tmcp_domain::storage::QuotaLimits;
use tmcp_domain::{AppId, Clock, UserId};
use tmcp_repository::{EntryDelete, RepoError, WriteOp};
use tracing::field::{Field, Visit};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::Layer;

/// Limits that no scenario here reaches: refusals are not what is being tested.
pub const ROOMY: QuotaLimits = QuotaLimits {
    total_bytes: 100_000_000,
    total_keys: 100_000,
};

/// Runs `work` until it finishes or `budget` has elapsed, whichever comes first; `None` when
/// it was dropped unfinished. Timers round to whole milliseconds, so the last millisecond
/// is watched by yielding, which can land the drop anywhere inside a database round trip.
pub async fn cancel_after<F: Future>(work: F, budget: Duration) -> Option<F::Output> {
    let deadline = Instant::now() + budget;
    tokio::select! {
        biased;
        out = work => Some(out),
        () = until(deadline) => None,
    }
}

async fn until(deadline: Instant) {
    let coarse = deadline.checked_sub(Duration::from_millis(1));
    if let Some(wait) = coarse.and_then(|at| at.checked_duration_since(Instant::now())) {
        tokio::time::sleep(wait).await;
    }
    while Instant::now() < deadline {
        tokio::task::yield_now().await;
    }
}

static TRANSACTION_WARNINGS: AtomicU64 = AtomicU64::new(0);

/// How many times PostgreSQL has warned this process about transaction state ("there is
/// already a transaction in progress", "there is no transaction in progress"): sqlx reports
/// server notices as tracing events, which a global layer installed on first call counts.
pub fn transaction_warnings() -> u64 {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let notices = tracing_subscriber::filter::Targets::new()
            .with_target("sqlx::postgres::notice", tracing::Level::WARN);
        // Another global subscriber would hide the notices; fail loudly instead.
        tracing_subscriber::registry()
            .with(NoticeCounter.with_filter(notices))
            .try_init()
            .expect("the notice counter is the only global subscriber");
    });
    TRANSACTION_WARNINGS.load(Ordering::SeqCst)
}

struct NoticeCounter;

impl<S: tracing::Subscriber> Layer<S> for NoticeCounter {
    fn on_event(&self, event: &tracing::Event<'_>, _ctx: Context<'_, S>) {
        let mut text = MessageText(String::new());
        event.record(&mut text);
        if text.0.contains("transaction in progress") {
            TRANSACTION_WARNINGS.fetch_add(1, Ordering::SeqCst);
        }
    }
}

struct MessageText(String);

impl Visit for MessageText {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.0.push_str(value);
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.0.push_str(&format!("{value:?}"));
        }
    }
}

/// Sessions of `database` idle inside a transaction block, as `pid: state: last query`. A
/// session only between two statements of a live transaction leaves that state at once, so
/// the answer is awaited for a few seconds; a session that went back to its pool inside a
/// transaction stays there.
pub async fn idle_in_transaction(database: &str) -> Vec<String> {
    let mut conn = PgConnection::connect(&engines::admin_url())
        .await
        .expect("admin connection");
    let mut found = Vec::new();
    for _ in 0..30 {
        found = sqlx::query_as::<_, (i32, String, String)>(
            "SELECT pid, state, query FROM pg_stat_activity \
             WHERE datname = $1 AND state LIKE 'idle in transaction%'",
        )
        .bind(database)
        .fetch_all(&mut conn)
        .await
        .expect("pg_stat_activity readable")
        .into_iter()
        .map(|(pid, state, query)| format!("{pid}: {state}: {query}"))
        .collect();
        if found.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    found
}

/// Asserts that every batch is either wholly stored or wholly absent, that the quota row
/// equals the stored rows, and that a write made now is stored and visible.
pub async fn assert_whole(fixture: &Fixture, user: UserId, app: &AppId, batches: &[Vec<String>]) {
    let now = fixture.clock.now();
    let mut present = 0;
    for batch in batches {
        let keys: Vec<_> = batch.iter().map(|k| key(k)).collect();
        let found = fixture
            .db
            .get_entries(user, app, &keys, now)
            .await
            .expect("batch readable");
        assert!(
            found.is_empty() || found.len() == keys.len(),
            "batch {batch:?} half applied: {} of {} keys stored",
            found.len(),
            keys.len()
        );
        present += usize::from(!found.is_empty());
    }
    assert_usage_matches_rows(fixture, user, app).await;
    let after = bytes_write("after/the/storm", 10, None);
    fixture
        .db
        .put_entry(user, app, after, &ctx(fixture, ROOMY))
        .await
        .expect("a write after the storm works");
    let seen = fixture
        .db
        .get_entry(user, app, &key("after/the/storm"), fixture.clock.now())
        .await
        .expect("readable");
    assert!(seen.is_some(), "a write after the storm is visible");
    eprintln!("{present} of {} batches stored", batches.len());
}

/// Repository-level storm: `workers` tasks each run `rounds` atomic batches (sets of new
/// keys, and deletions of a whole earlier batch), most of them dropped after a random
/// budget. Returns the owner, the app and every batch's keys.
pub async fn storm(
    fixture: &Fixture,
    workers: u64,
    rounds: usize,
) -> (UserId, AppId, Vec<Vec<String>>) {
    let user = fixtures::user(fixture, "canceller").await.id;
    let app = AppId::parse("ma_cancelled").expect("app id");
    let tasks: Vec<_> = (0..workers)
        .map(|worker| {
            let db = fixture.db.clone();
            let clock = fixture.clock.clone();
            let app = app.clone();
            tokio::spawn(async move {
                let mut rng = StdRng::seed_from_u64(0xCA9CE1 + worker);
                let mut batches: Vec<Vec<String>> = Vec::new();
                let (mut done, mut dropped) = (0, 0);
                // Budgets are drawn up to a little past the typical duration of a unit, so
                // drops land anywhere in it (and some units finish in time).
                let mut typical = Duration::from_millis(2);
                for round in 0..rounds {
                    let write_ctx = tmcp_repository::WriteContext {
                        now: clock.now(),
                        limits: ROOMY,
                    };
                    let ops = if round % 4 == 3 && !batches.is_empty() {
                        let victim = &batches[rng.gen_range(0..batches.len())];
                        victim
                            .iter()
                            .map(|k| {
                                WriteOp::Delete(EntryDelete {
                                    key: key(k),
                                    expected: None,
                                })
                            })
                            .collect()
                    } else {
                        let names: Vec<String> = (0..rng.gen_range(2..7))
                            .map(|j| format!("w{worker}/r{round}/k{j}"))
                            .collect();
                        let ops = names
                            .iter()
                            .map(|n| WriteOp::Put(bytes_write(n, rng.gen_range(1..3_000), None)))
                            .collect();
                        batches.push(names);
                        ops
                    };
                    let work = db.write_entries(user, &app, ops, &write_ctx);
                    let started = Instant::now();
                    let outcome = if rng.gen_bool(0.2) {
                        let out = work.await;
                        typical = (typical * 3 + started.elapsed()) / 4;
                        Some(out)
                    } else {
                        cancel_after(work, typical.mul_f64(rng.gen_range(0.0..1.2))).await
                    };
                    match outcome {
                        Some(Ok(_)) => done += 1,
                        Some(Err(RepoError::QuotaExceeded(_))) => panic!("roomy limits"),
                        Some(Err(other)) => panic!("round {round}: {other:?}"),
                        None => dropped += 1,
                    }
                }
                eprintln!("worker {worker}: {done} finished, {dropped} dropped");
                batches
            })
        })
        .collect();
    let mut batches = Vec::new();
    for task in tasks {
        batches.extend(task.await.expect("worker finished"));
    }
    (user, app, batches)
}
