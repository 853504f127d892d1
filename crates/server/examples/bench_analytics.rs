//! Bench helper for the analytics rows of `bench/run.sh`, not part of the server binary.
//!
//! Against the configured database (the same `TMCP_*` configuration and key ring as the
//! server) it makes sure there are a developer `bench_adev`, `apps` mini-apps
//! (`ma_bench_a0`, … owned by that developer, each an OAuth client) and `users` users
//! (`bench_au0`, …), then loads `events` raw events spread over the last `days` days
//! straight through the repository's `ingest` (the same statement and dirty marks as
//! `POST /api/v1/lifecycle/*`; the HTTP routes refuse timestamps older than 7 days, so a
//! 30-day history cannot go through them), and finally drains the rollup job's use case
//! with `BENCH_ROLLUP_WORKERS` concurrent runs (default 2) until no dirty bucket is left.
//! The users are made in bulk (one statement on PostgreSQL, multi-row inserts of 1,000 in
//! one transaction on SQLite), not one repository call each.
//!
//! Batches hold 100 events of one app within one hour (what a client flushing its buffer
//! sends): per 6 batches, 4 of usage events (20 sessions of 5 events: start, 3 features,
//! end, 10 s – 30 min long, random users), 1 of lifecycle events and 1 of metrics (load
//! times and crash reports of 3 versions).
//!
//! Writes into `$BENCH_ANALYTICS_OUT` (a directory): `session` (a session token of the
//! developer), `app` (the app whose stats are read), `teps` (one TEP per line, `BENCH_TEPS`
//! of them, default 1000, TEP `i` for app `i % apps` and a user spread over all users).
//! Timings go to stderr as `name value` lines.
//!
//!     TMCP_DATA_DIR=… cargo run --release --example bench_analytics <apps> <users> <events> <days>

use anyhow::Context;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;
use time::{Duration, OffsetDateTime};
use tmcp_domain::auth::tokens::{issue, TokenKind};
use tmcp_domain::ids::uuid_v7_at;
use tmcp_domain::scope::ScopeSet;
use tmcp_domain::user::Role;
use tmcp_domain::{AppId, Clock, SessionId, SystemClock, UserId};
use tmcp_http::auth::TepMint;
use tmcp_http::AppState;
use tmcp_repository::{
    IngestBatch, NewApp, NewLifecycleEvent, NewMetric, NewSession, NewUsageEvent, NewUser,
    OAuthClient,
};
use tmcp_server::config::{Config, DatabaseTarget};
use tmcp_usecases::analytics::rollup;

const DEVELOPER: &str = "bench_adev";
const USER: &str = "bench_au";
/// Parallel set-up and load tasks (each holds at most one database connection at a time).
const TASKS: usize = 8;
const BATCH: usize = 100;
const VERSIONS: [&str; 3] = ["1.0.0", "1.1.0", "2.0.0"];
const LIFECYCLE: [&str; 5] = ["installed", "launched", "launched", "closed", "updated"];

fn app_id(index: usize) -> String {
    format!("ma_bench_a{index}")
}

async fn user(state: &AppState, username: &str, role: Role) -> anyhow::Result<UserId> {
    let db = state.db.as_ref();
    if let Some(found) = db.find_user_by_login(username).await? {
        return Ok(found.id);
    }
    let now = SystemClock.now();
    let created = db
        .create_user(NewUser {
            id: UserId::new_v7(now),
            email: format!("{username}@example.com"),
            username: username.to_owned(),
            // Not a valid hash: this account cannot log in.
            password_hash: "!bench".into(),
            first_name: None,
            last_name: None,
            phone_ciphertext: None,
            role,
            created_at: now,
        })
        .await?;
    Ok(created.id)
}

async fn app(state: &AppState, index: usize, developer: UserId) -> anyhow::Result<()> {
    let db = state.db.as_ref();
    let id = app_id(index);
    if db.find_client(&id).await?.is_some() {
        return Ok(());
    }
    let now = SystemClock.now();
    db.create_app(NewApp {
        app_id: AppId::parse(&id).context("app id")?,
        name: format!("Bench analytics app {index}"),
        version: "1.0.0".into(),
        classification: "community".into(),
        developer_id: developer,
        developer_name: DEVELOPER.into(),
        status: "active".into(),
        created_at: now,
    })
    .await?;
    db.create_client(OAuthClient {
        client_id: id.clone(),
        client_secret_hash: None,
        app_id: Some(id),
        name: format!("Bench analytics app {index}"),
        redirect_uris: vec!["https://bench.invalid/cb".into()],
        grant_types: vec!["authorization_code".into()],
        scopes: vec!["storage:read".into()],
        is_official: false,
        is_active: true,
        created_at: now,
    })
    .await?;
    Ok(())
}

/// Batch `n` (0-based) of the load: its app, hour and kind follow from `n` and the seed.
fn batch(
    n: usize,
    apps: usize,
    users: &[UserId],
    start: OffsetDateTime,
    hours: i64,
) -> IngestBatch {
    let mut rng = StdRng::seed_from_u64(n as u64);
    let app = app_id(rng.gen_range(0..apps));
    let hour = start + Duration::hours(rng.gen_range(0..hours));
    let mut at = || hour + Duration::seconds(rng.gen_range(0..3600));
    let mut rng = StdRng::seed_from_u64(u64::MAX - n as u64);
    let pick_user = |rng: &mut StdRng| users[rng.gen_range(0..users.len())];
    match n % 6 {
        4 => IngestBatch::Lifecycle(
            (0..BATCH)
                .map(|i| {
                    let when = at();
                    NewLifecycleEvent {
                        id: uuid_v7_at(when),
                        app_id: app.clone(),
                        user_id: Some(pick_user(&mut rng)),
                        device_id: Some(format!("dev{}", i % 7)),
                        event_type: LIFECYCLE[i % LIFECYCLE.len()].into(),
                        event_data: json!({}),
                        at: when,
                    }
                })
                .collect(),
        ),
        5 => IngestBatch::Metrics(
            (0..BATCH)
                .map(|i| {
                    let when = at();
                    let (metric_type, value) = if i % 2 == 0 {
                        ("load_time", f64::from(rng.gen_range(500..40_000)) / 10.0)
                    } else {
                        (
                            "crash_rate",
                            if rng.gen_range(0..50) == 0 { 1.0 } else { 0.0 },
                        )
                    };
                    NewMetric {
                        id: uuid_v7_at(when),
                        app_id: app.clone(),
                        version: VERSIONS[i % VERSIONS.len()].into(),
                        metric_type: metric_type.into(),
                        value,
                        device_info: None,
                        at: when,
                    }
                })
                .collect(),
        ),
        _ => {
            let mut rows = Vec::with_capacity(BATCH);
            for s in 0..BATCH / 5 {
                let who = pick_user(&mut rng);
                let begin = at();
                let length = rng.gen_range(10..1800);
                let session_id = format!("b{n}s{s}");
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
                    let when = begin + Duration::seconds(length * k as i64 / 4);
                    rows.push(NewUsageEvent {
                        id: uuid_v7_at(when),
                        app_id: app.clone(),
                        user_id: Some(who),
                        device_id: None,
                        session_id: session_id.clone(),
                        event_type: event_type.into(),
                        duration_seconds: None,
                        event_data: json!({}),
                        at: when,
                    });
                }
            }
            IngestBatch::Usage(rows)
        }
    }
}

/// The users `bench_au0…` on SQLite: multi-row `INSERT OR IGNORE`s of 1,000 users in one
/// `BEGIN IMMEDIATE` transaction on a connection of its own (the columns `create_user`
/// writes; the rest keep their defaults), then one `SELECT` of their ids. One user at a
/// time through the repository took ~25 s per 100,000.
async fn bulk_users_sqlite(path: &std::path::Path, count: usize) -> anyhow::Result<Vec<UserId>> {
    use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
    use sqlx::ConnectOptions;
    let mut conn = SqliteConnectOptions::new()
        .filename(path)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .busy_timeout(std::time::Duration::from_secs(30))
        .connect()
        .await?;
    let now = SystemClock.now();
    let at = now
        .format(time::macros::format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z"
        ))
        .context("timestamp")?;
    let names: Vec<String> = (0..count).map(|i| format!("{USER}{i}")).collect();
    let mut tx = sqlx::Connection::begin_with(&mut conn, "BEGIN IMMEDIATE").await?;
    for chunk in names.chunks(1000) {
        let mut query: sqlx::QueryBuilder<sqlx::Sqlite> = sqlx::QueryBuilder::new(
            "INSERT OR IGNORE INTO users (id, username, email, password_hash, role, \
             created_at, updated_at) ",
        );
        query.push_values(chunk, |mut row, name| {
            row.push_bind(UserId::new_v7(now).0)
                .push_bind(name.as_str())
                .push_bind(format!("{name}@example.com"))
                .push_bind("!bench")
                .push_bind("user")
                .push_bind(at.as_str())
                .push_bind(at.as_str());
        });
        query.build().execute(&mut *tx).await?;
    }
    tx.commit().await?;
    // `bench_au` + digits sort between `bench_au` and `bench_av`.
    let found: Vec<(String, uuid::Uuid)> =
        sqlx::query_as("SELECT username, id FROM users WHERE username >= $1 AND username < $2")
            .bind(USER)
            .bind("bench_av")
            .fetch_all(&mut conn)
            .await?;
    let by_name: std::collections::HashMap<String, uuid::Uuid> = found.into_iter().collect();
    names
        .iter()
        .map(|n| {
            by_name
                .get(n)
                .map(|id| UserId(*id))
                .with_context(|| format!("user {n} missing"))
        })
        .collect()
}

/// The users `bench_au0…` on PostgreSQL: one `INSERT … SELECT FROM UNNEST … ON CONFLICT DO
/// NOTHING` for all of them (the columns `create_user` writes; the rest keep their
/// defaults), then one `SELECT` of their ids. Seconds instead of one round trip pair per
/// user.
async fn bulk_users(url: &str, count: usize) -> anyhow::Result<Vec<UserId>> {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(url).await?;
    let now = SystemClock.now();
    let names: Vec<String> = (0..count).map(|i| format!("{USER}{i}")).collect();
    let emails: Vec<String> = names.iter().map(|n| format!("{n}@example.com")).collect();
    let ids: Vec<uuid::Uuid> = (0..count).map(|_| UserId::new_v7(now).0).collect();
    sqlx::query(
        "INSERT INTO users (id, username, email, password_hash, role, created_at, updated_at) \
         SELECT i, n, e, '!bench', 'user', $4, $4 \
         FROM UNNEST($1::uuid[], $2::varchar[], $3::varchar[]) AS t(i, n, e) \
         ON CONFLICT DO NOTHING",
    )
    .bind(&ids)
    .bind(&names)
    .bind(&emails)
    .bind(now)
    .execute(&mut conn)
    .await?;
    let found: Vec<(String, uuid::Uuid)> =
        sqlx::query_as("SELECT username::text, id FROM users WHERE username = ANY($1)")
            .bind(&names)
            .fetch_all(&mut conn)
            .await?;
    let by_name: std::collections::HashMap<String, uuid::Uuid> = found.into_iter().collect();
    names
        .iter()
        .map(|n| {
            by_name
                .get(n)
                .map(|id| UserId(*id))
                .with_context(|| format!("user {n} missing"))
        })
        .collect()
}

fn arg(args: &mut impl Iterator<Item = String>, name: &str) -> anyhow::Result<usize> {
    args.next()
        .with_context(|| format!("usage: bench_analytics <apps> <users> <events> <days> ({name})"))?
        .parse()
        .with_context(|| format!("{name} must be a number"))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let file = std::env::var_os("TMCP_CONFIG").map(PathBuf::from);
    let config = Config::load(file.as_deref())?;
    let mut args = std::env::args().skip(1);
    let apps = arg(&mut args, "apps")?;
    let user_count = arg(&mut args, "users")?;
    let events = arg(&mut args, "events")?;
    let days = arg(&mut args, "days")?;
    anyhow::ensure!(
        apps > 0 && user_count > 0 && days > 0,
        "counts must be positive"
    );
    let out = PathBuf::from(std::env::var("BENCH_ANALYTICS_OUT").context("BENCH_ANALYTICS_OUT")?);
    let teps: usize = std::env::var("BENCH_TEPS")
        .ok()
        .map(|v| v.parse())
        .transpose()?
        .unwrap_or(1000);
    let state = tmcp_server::serve::build_state(&config, Arc::new(SystemClock)).await?;
    let clock = SystemClock;

    let started = Instant::now();
    let developer = user(&state, DEVELOPER, Role::Developer).await?;
    let mut tasks = tokio::task::JoinSet::new();
    for task in 0..TASKS {
        let state = state.clone();
        tasks.spawn(async move {
            for index in (task..apps).step_by(TASKS) {
                app(&state, index, developer).await?;
            }
            anyhow::Ok(())
        });
    }
    while let Some(joined) = tasks.join_next().await {
        joined??;
    }
    let users: Arc<Vec<UserId>> = Arc::new(match config.database_target() {
        DatabaseTarget::Postgres(url) => bulk_users(&url, user_count).await?,
        DatabaseTarget::Sqlite(path) => bulk_users_sqlite(&path, user_count).await?,
    });
    anyhow::ensure!(users.len() == user_count, "users: {}", users.len());
    eprintln!("setup_seconds {:.1}", started.elapsed().as_secs_f64());

    // The developer's session (what a login would open).
    let now = clock.now();
    let session = issue(TokenKind::Session);
    let refresh = issue(TokenKind::Refresh);
    state
        .db
        .create_session(NewSession {
            id: SessionId::new_v7(now),
            user_id: developer,
            session_token_hash: session.hash,
            refresh_token_hash: refresh.hash,
            device_id: None,
            device_name: None,
            user_agent: Some("bench_analytics".into()),
            ip_address: None,
            expires_at: now + Duration::hours(12),
            refresh_expires_at: now + Duration::hours(12),
            created_at: now,
        })
        .await?;
    std::fs::write(out.join("session"), format!("{}\n", session.token))?;
    std::fs::write(out.join("app"), format!("{}\n", app_id(0)))?;
    let mut lines = String::new();
    for i in 0..teps {
        let who = users[(i * 7919) % users.len()];
        let minted = state
            .tep
            .mint(
                state.db.as_ref(),
                now,
                TepMint {
                    user_id: Some(who),
                    client_id: app_id(i % apps),
                    scopes: ScopeSet::parse("storage:read").context("scopes")?,
                    session_id: None,
                    lifetime: None,
                    user_context: None,
                    miniapp_context: None,
                },
            )
            .await
            .map_err(|e| anyhow::anyhow!("minting failed: {}", e.message))?;
        lines.push_str(&minted.token);
        lines.push('\n');
    }
    std::fs::write(out.join("teps"), lines)?;

    // The history: whole hours of the last `days` days, up to the current hour.
    let hours = i64::try_from(days)? * 24;
    let start = now - Duration::hours(hours);
    let batches = events.div_ceil(BATCH);
    let loading = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for task in 0..TASKS {
        let state = state.clone();
        let users = Arc::clone(&users);
        tasks.spawn(async move {
            for n in (task..batches).step_by(TASKS) {
                let rows = batch(n, apps, &users, start, hours);
                state.db.ingest(rows, SystemClock.now()).await?;
            }
            anyhow::Ok(())
        });
    }
    while let Some(joined) = tasks.join_next().await {
        joined??;
    }
    let load = loading.elapsed().as_secs_f64();
    eprintln!("loaded_events {}", batches * BATCH);
    eprintln!("load_seconds {load:.1}");
    #[allow(clippy::cast_precision_loss)] // event counts are far below 2^52
    let rate = (batches * BATCH) as f64 / load;
    eprintln!("load_rows_per_second {rate:.0}");

    let rolling = Instant::now();
    let settings = config
        .analytics
        .settings(config.maintenance.analytics_retention_days);
    let workers: usize = std::env::var("BENCH_ROLLUP_WORKERS")
        .ok()
        .map(|v| v.parse())
        .transpose()?
        .unwrap_or(2);
    let report = rollup::drain_parallel(state.db.as_ref(), clock.now(), &settings, workers).await?;
    eprintln!("rollup_workers {workers}");
    eprintln!("rollup_marks {}", report.marks);
    eprintln!("rollup_buckets {}", report.buckets);
    let rolled = rolling.elapsed().as_secs_f64();
    eprintln!("rollup_seconds {rolled:.1}");
    #[allow(clippy::cast_precision_loss)] // bucket counts are far below 2^52
    let per_second = report.buckets as f64 / rolled.max(0.001);
    eprintln!("rollup_buckets_per_second {per_second:.0}");
    Ok(())
}
