//! Bench helper, not part of the server binary: where the time of SQLite ingestion goes.
//! Migrates a fresh database file, makes 16 apps and 100 users, then writes batches shaped
//! like the HTTP ingest row of `bench/scenarios/analytics.sh` (100 usage events of one app and
//! one user, 20 sessions of 5 events, all at the current instant) in one of two ways:
//!
//!     bench_ingest_probe <file> <batches> repo <tasks>
//!         `<tasks>` concurrent callers of the repository's `ingest` (writer queue and all);
//!     bench_ingest_probe <file> <batches> sql <batches per transaction>
//!         one connection of its own, the repository's two statements (rows, then marks)
//!         as raw SQL, `<batches per transaction>` batches per `BEGIN … COMMIT`.
//!
//! Knobs of the `sql` way: `PROBE_FK=off` (foreign keys off), `PROBE_NO_MARKS=1` (rows
//! only), `PROBE_DROP=idx_a,idx_b` (indexes dropped before the run), `PROBE_PRAGMAS="temp_store=memory;cache_size=-65536"`
//! (pragmas of the connection, `;`-separated). Prints rows per second.

use anyhow::Context;
use serde_json::json;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sqlx::{ConnectOptions, QueryBuilder, Sqlite};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Instant;
use time::OffsetDateTime;
use tmcp_domain::analytics::hour_of;
use tmcp_domain::ids::uuid_v7_at;
use tmcp_domain::user::Role;
use tmcp_domain::{AppId, Clock, SystemClock, UserId};
use tmcp_repository::{Database, IngestBatch, NewApp, NewUsageEvent, NewUser};
use tmcp_sqlite::SqliteDatabase;

const APPS: usize = 16;

/// The stored form of an instant (as the SQLite repositories write it).
fn text(at: OffsetDateTime) -> String {
    let utc = at.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
        utc.year(),
        u8::from(utc.month()),
        utc.day(),
        utc.hour(),
        utc.minute(),
        utc.second(),
        utc.microsecond()
    )
}
const USERS: usize = 100;

fn batch(n: usize, users: &[UserId], now: OffsetDateTime) -> Vec<NewUsageEvent> {
    let app_id = format!("ma_probe_a{}", n % APPS);
    let user = users[(n * 7) % users.len()];
    let mut rows = Vec::with_capacity(100);
    for s in 0..20 {
        for event_type in [
            "session_start",
            "feature_used",
            "feature_used",
            "feature_used",
            "session_end",
        ] {
            rows.push(NewUsageEvent {
                id: uuid_v7_at(now),
                app_id: app_id.clone(),
                user_id: Some(user),
                device_id: None,
                session_id: format!("p{n}-{s}"),
                event_type: event_type.into(),
                duration_seconds: None,
                event_data: json!({}),
                at: now,
            });
        }
    }
    rows
}

async fn setup(db: &dyn Database) -> anyhow::Result<Vec<UserId>> {
    let now = SystemClock.now();
    let mut users = Vec::with_capacity(USERS + 1);
    for i in 0..=USERS {
        let created = db
            .create_user(NewUser {
                id: UserId::new_v7(now),
                email: format!("probe{i}@example.com"),
                username: format!("probe{i}"),
                password_hash: "!probe".into(),
                first_name: None,
                last_name: None,
                phone_ciphertext: None,
                role: if i == 0 { Role::Developer } else { Role::User },
                created_at: now,
            })
            .await?;
        users.push(created.id);
    }
    let developer = users.remove(0);
    for a in 0..APPS {
        db.create_app(NewApp {
            app_id: AppId::parse(&format!("ma_probe_a{a}")).context("app id")?,
            name: format!("Probe {a}"),
            version: "1.0.0".into(),
            classification: "community".into(),
            developer_id: developer,
            developer_name: "probe".into(),
            status: "active".into(),
            created_at: now,
        })
        .await?;
    }
    Ok(users)
}

async fn sql_way(
    file: &str,
    batches: usize,
    per_tx: usize,
    users: &[UserId],
) -> anyhow::Result<f64> {
    let fk = std::env::var("PROBE_FK").map_or(true, |v| v != "off");
    let marks = std::env::var("PROBE_NO_MARKS").is_err();
    let mut conn = SqliteConnectOptions::from_str(&format!("sqlite://{file}"))?
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .foreign_keys(fk)
        .connect()
        .await?;
    if let Ok(list) = std::env::var("PROBE_PRAGMAS") {
        for pragma in list.split(';').filter(|p| !p.is_empty()) {
            sqlx::query(&format!("PRAGMA {pragma}"))
                .execute(&mut conn)
                .await?;
        }
    }
    if let Ok(list) = std::env::var("PROBE_DROP") {
        for name in list.split(',').filter(|n| !n.is_empty()) {
            sqlx::query(&format!("DROP INDEX {name}"))
                .execute(&mut conn)
                .await?;
        }
    }
    let started = Instant::now();
    let mut n = 0;
    while n < batches {
        let mut tx = sqlx::Connection::begin(&mut conn).await?;
        for _ in 0..per_tx.min(batches - n) {
            let now = SystemClock.now();
            let rows = batch(n, users, now);
            let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(
                "INSERT INTO app_usage_analytics (id, app_id, user_id, device_id, session_id, \
                 event_type, duration_seconds, event_data, \"timestamp\") ",
            );
            q.push_values(&rows, |mut b, r| {
                b.push_bind(r.id)
                    .push_bind(r.app_id.as_str())
                    .push_bind(r.user_id.map(|u| u.0))
                    .push_bind(r.device_id.as_deref())
                    .push_bind(r.session_id.as_str())
                    .push_bind(r.event_type.as_str())
                    .push_bind(r.duration_seconds)
                    .push_bind(r.event_data.to_string())
                    .push_bind(text(r.at));
            });
            q.build().execute(&mut *tx).await?;
            if marks {
                sqlx::query(
                    "INSERT INTO analytics_dirty_buckets (app_id, hour, marked_at) \
                     VALUES ($1, $2, $3)",
                )
                .bind(&rows[0].app_id)
                .bind(hour_of(now))
                .bind("2026-01-01T00:00:00.000000Z")
                .execute(&mut *tx)
                .await?;
            }
            n += 1;
        }
        tx.commit().await?;
    }
    Ok(started.elapsed().as_secs_f64())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let usage = "usage: bench_ingest_probe <file> <batches> repo <tasks> | sql <per tx>";
    let mut args = std::env::args().skip(1);
    let file = args.next().context(usage)?;
    let batches: usize = args.next().context(usage)?.parse()?;
    let way = args.next().context(usage)?;
    let knob: usize = args.next().context(usage)?.parse()?;
    let sqlite = SqliteDatabase::connect(&file).await?;
    let db: Arc<dyn Database> = Arc::new(sqlite.clone());
    let users = Arc::new(setup(db.as_ref()).await?);
    let seconds = match way.as_str() {
        "repo" => {
            let started = Instant::now();
            let mut tasks = tokio::task::JoinSet::new();
            for task in 0..knob {
                let db = Arc::clone(&db);
                let users = Arc::clone(&users);
                tasks.spawn(async move {
                    for n in (task..batches).step_by(knob) {
                        let now = SystemClock.now();
                        db.ingest(IngestBatch::Usage(batch(n, &users, now)), now)
                            .await?;
                    }
                    anyhow::Ok(())
                });
            }
            while let Some(joined) = tasks.join_next().await {
                joined??;
            }
            started.elapsed().as_secs_f64()
        }
        "sql" => {
            sqlite.close().await;
            sql_way(&file, batches, knob, &users).await?
        }
        other => anyhow::bail!("unknown way {other}; {usage}"),
    };
    #[allow(clippy::cast_precision_loss)] // row counts are far below 2^52
    let rate = (batches * 100) as f64 / seconds;
    println!("{rate:.0}");
    Ok(())
}
