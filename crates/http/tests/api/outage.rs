//! The database out of reach, on both engines: PostgreSQL is a private cluster that the test
//! kills (`pg_ctl stop -m immediate`); SQLite is a file whose write lock another process holds
//! past the busy timeout. Either way the API answers 503 `SERVICE_UNAVAILABLE` with
//! `Retry-After`, the OAuth endpoints `temporarily_unavailable`, the OAuth pages a 503 page, and
//! everything works again once the database is back, with the same state.

use crate::support::*;
use axum::http::StatusCode;
use serde_json::json;
use sqlx::{Connection, Executor, SqliteConnection};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tmcp_contract_tests::cluster::PrivateCluster;
use tmcp_contract_tests::{Fixture, START};
use tmcp_domain::{Clock, ManualClock};
use tmcp_postgres::{PgDatabase, PgSettings};
use tmcp_sqlite::{SqliteDatabase, SqliteSettings};

/// How fast a request must fail: the old behaviour took the 5 s acquire timeout.
const PROMPT: Duration = Duration::from_secs(3);

/// Takes the database away and gives it back.
enum Outage {
    Postgres(PrivateCluster),
    /// The database file, and while the outage lasts, the connection holding its write lock.
    Sqlite(String, Option<SqliteConnection>),
}

impl Outage {
    async fn begin(&mut self) {
        match self {
            Self::Postgres(cluster) => cluster.stop().await,
            Self::Sqlite(path, holder) => {
                let mut conn = SqliteConnection::connect(&format!("sqlite://{path}"))
                    .await
                    .expect("second connection to the file");
                conn.execute("BEGIN IMMEDIATE")
                    .await
                    .expect("write lock taken");
                *holder = Some(conn);
            }
        }
    }

    async fn end(&mut self) {
        match self {
            Self::Postgres(cluster) => cluster.resume().await,
            Self::Sqlite(_, holder) => {
                if let Some(mut conn) = holder.take() {
                    conn.execute("ROLLBACK").await.expect("lock released");
                }
            }
        }
    }
}

async fn postgres() -> Option<(Env, Outage)> {
    let cluster = PrivateCluster::start().await?;
    let settings = PgSettings {
        max_connections: 4,
        system_max_connections: 4,
        acquire_timeout: Duration::from_secs(1),
        ..PgSettings::default()
    };
    let db = PgDatabase::connect(&cluster.url(), &settings)
        .await
        .expect("private cluster opens and migrates");
    let clock = ManualClock::new(*START);
    tmcp_repository::SystemRepository::ensure_partitions(&db, clock.now(), 3)
        .await
        .expect("partitions for the test clock");
    let fixture = Fixture {
        db: Arc::new(db),
        clock,
        _guard: Box::new(()),
    };
    Some((Env::new(fixture).await, Outage::Postgres(cluster)))
}

async fn sqlite() -> Option<(Env, Outage)> {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("outage.db").to_string_lossy().into_owned();
    let settings = SqliteSettings {
        busy_timeout: Duration::from_millis(300),
    };
    let db = SqliteDatabase::connect_with(&path, &settings)
        .await
        .expect("SQLite opens");
    let fixture = Fixture {
        db: Arc::new(db),
        clock: ManualClock::new(*START),
        _guard: Box::new(dir),
    };
    Some((Env::new(fixture).await, Outage::Sqlite(path, None)))
}

fn assert_prompt_retry_after(reply: &Reply, took: Duration, what: &str) {
    assert_eq!(
        reply.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{what}: {}",
        reply.text()
    );
    let retry_after = reply
        .header("retry-after")
        .and_then(|v| v.parse::<u64>().ok());
    assert!(retry_after.is_some_and(|s| s > 0), "{what}: Retry-After");
    assert!(took < PROMPT, "{what}: answered after {took:?}");
}

async fn register(env: &Env, name: &str) -> (Reply, Duration) {
    let started = Instant::now();
    let reply = env
        .json(
            "/api/v1/auth/register",
            json!({"username": name, "email": format!("{name}@example.com"), "password": PASSWORD}),
            None,
        )
        .await;
    (reply, started.elapsed())
}

async fn writes_answer_503_while_the_database_is_out_and_resume_after(
    env: Env,
    mut outage: Outage,
) {
    // The consent page is loaded before the outage; its form is sent during it.
    let (_, challenge) = pkce();
    let page = env
        .get(
            &env.authorize_path(PUBLIC, "user:read", "st4te", &challenge),
            &[env.session_cookie()],
        )
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text());
    let csrf = page.csrf().expect("csrf field");
    let mut cookies = page.cookies();
    cookies.push(env.session_cookie());

    outage.begin().await;

    let (reply, took) = register(&env, "during_outage").await;
    assert_prompt_retry_after(&reply, took, "POST /api/v1/auth/register");
    let body = reply.json();
    assert_eq!(body["error"]["code"], "SERVICE_UNAVAILABLE", "{body}");
    assert_eq!(body["error"]["details"]["dependency"], "database", "{body}");
    assert!(
        !reply.text().to_lowercase().contains("pool")
            && !reply.text().contains("refused")
            && !reply.text().contains("locked"),
        "no driver detail reaches the client: {}",
        reply.text()
    );

    let started = Instant::now();
    let device = env
        .token_like(
            "/oauth2/device/authorization",
            &[("client_id", PUBLIC), ("scope", "storage:read")],
        )
        .await;
    assert_prompt_retry_after(&device, started.elapsed(), "device authorization");
    assert_eq!(
        device.json()["error"],
        "temporarily_unavailable",
        "{}",
        device.text()
    );
    assert_eq!(device.header("cache-control").as_deref(), Some("no-store"));

    let started = Instant::now();
    let approval = env
        .form(
            "/oauth2/authorize",
            &[
                ("action", "approve"),
                ("csrf_token", &csrf),
                ("response_type", "code"),
                ("client_id", PUBLIC),
                ("redirect_uri", REDIRECT),
                ("scope", "user:read"),
                ("state", "st4te"),
                ("code_challenge", &challenge),
                ("code_challenge_method", "S256"),
            ],
            &cookies,
            &[],
        )
        .await;
    assert_prompt_retry_after(&approval, started.elapsed(), "consent form");
    assert!(
        approval
            .header("content-type")
            .is_some_and(|v| v.starts_with("text/html")),
        "the pages answer with a page"
    );
    assert!(approval.text().contains("Temporarily unavailable"));

    outage.end().await;

    let (reply, _) = register(&env, "after_outage").await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
    let me = env
        .send(
            axum::http::Request::get("/api/v1/users/me")
                .header("authorization", format!("Bearer {}", env.session))
                .body(axum::body::Body::empty())
                .expect("request"),
        )
        .await;
    assert_eq!(me.status, StatusCode::OK, "session survived: {}", me.text());
}

#[tokio::test]
async fn postgres_writes_answer_503_while_the_database_is_out_and_resume_after() {
    let Some((env, outage)) = postgres().await else {
        return;
    };
    writes_answer_503_while_the_database_is_out_and_resume_after(env, outage).await;
}

#[tokio::test]
async fn sqlite_writes_answer_503_while_the_database_is_out_and_resume_after() {
    let Some((env, outage)) = sqlite().await else {
        return;
    };
    writes_answer_503_while_the_database_is_out_and_resume_after(env, outage).await;
}
