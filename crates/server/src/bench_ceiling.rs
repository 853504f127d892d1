//! `/bench/ceiling` (only with `bench_routes`): one `SELECT 1` on a plain pool the size of
//! the server's, in a bare handler outside every layer and every repository. It is the
//! physical ceiling `bench/run.sh` divides every row by: what the machine gives a request
//! that does one database round trip and nothing else (no ping before the query: the
//! server's pools skip it too).

use crate::config::{Config, DatabaseTarget};
use anyhow::Context;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use sqlx::postgres::PgPoolOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
use sqlx::{PgPool, SqlitePool};

#[derive(Clone)]
enum Plain {
    Postgres(PgPool),
    Sqlite(SqlitePool),
}

pub async fn routes(config: &Config) -> anyhow::Result<Router> {
    let pool = match config.database_target() {
        DatabaseTarget::Postgres(url) => Plain::Postgres(
            PgPoolOptions::new()
                .max_connections(config.db_max_connections)
                .test_before_acquire(false)
                .connect(&url)
                .await
                .context("bench ceiling pool")?,
        ),
        DatabaseTarget::Sqlite(path) => Plain::Sqlite(
            SqlitePoolOptions::new()
                .max_connections(tmcp_sqlite::READER_CONNECTIONS)
                .test_before_acquire(false)
                .connect_with(SqliteConnectOptions::new().filename(path).read_only(true))
                .await
                .context("bench ceiling pool")?,
        ),
    };
    Ok(Router::new()
        .route("/bench/ceiling", get(select_one))
        .with_state(pool))
}

async fn select_one(State(pool): State<Plain>) -> Result<&'static str, StatusCode> {
    let done = match &pool {
        Plain::Postgres(pool) => sqlx::query("SELECT 1").execute(pool).await.map(drop),
        Plain::Sqlite(pool) => sqlx::query("SELECT 1").execute(pool).await.map(drop),
    };
    done.map(|()| "ok")
        .map_err(|_| StatusCode::SERVICE_UNAVAILABLE)
}
