//! Bench helper for the SQLite ingestion baseline of `bench/scenarios/analytics.sh`, not part
//! of the server binary: 100-row multi-row `INSERT`s into a plain table with the columns of
//! `app_usage_analytics`, each in its own transaction, through the same driver as the server
//! (sqlx, one prepared statement with bound values, WAL, `synchronous=NORMAL`). Prints the
//! rows per second on stdout.
//!
//!     cargo run --release --example bench_sqlite_insert <file> <statements>

use anyhow::Context;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sqlx::{ConnectOptions, QueryBuilder, Sqlite};
use std::str::FromStr;
use std::time::Instant;
use tmcp_domain::ids::uuid_v7_at;
use tmcp_domain::{Clock, SystemClock};

const ROWS: usize = 100;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let file = args
        .next()
        .context("usage: bench_sqlite_insert <file> <statements>")?;
    let statements: usize = args
        .next()
        .context("usage: bench_sqlite_insert <file> <statements>")?
        .parse()
        .context("statements must be a number")?;
    let mut conn = SqliteConnectOptions::from_str(&format!("sqlite://{file}"))?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .connect()
        .await?;
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS bench_usage (id BLOB NOT NULL PRIMARY KEY, \
         app_id TEXT NOT NULL, user_id BLOB, device_id TEXT, session_id TEXT, \
         event_type TEXT NOT NULL, duration_seconds INTEGER, \
         event_data TEXT NOT NULL DEFAULT '{}', \"timestamp\" TEXT NOT NULL)",
    )
    .execute(&mut conn)
    .await?;
    let now = SystemClock.now();
    let at = "2026-01-01T00:00:00.000000Z";
    let started = Instant::now();
    for n in 0..statements {
        let mut query: QueryBuilder<Sqlite> = QueryBuilder::new(
            "INSERT INTO bench_usage (id, app_id, user_id, device_id, session_id, event_type, \
             duration_seconds, event_data, \"timestamp\") ",
        );
        query.push_values(0..ROWS, |mut row, i| {
            row.push_bind(uuid_v7_at(now))
                .push_bind(format!("ma_bench_a{}", i % 10))
                .push_bind(uuid_v7_at(now))
                .push_bind(None::<String>)
                .push_bind(format!("base-{n}-{i}"))
                .push_bind("feature_used")
                .push_bind(None::<i32>)
                .push_bind("{}")
                .push_bind(at);
        });
        // The same SQL text every time: sqlx prepares it once and caches it.
        let mut tx = sqlx::Connection::begin(&mut conn).await?;
        query.build().persistent(true).execute(&mut *tx).await?;
        tx.commit().await?;
    }
    let seconds = started.elapsed().as_secs_f64();
    #[allow(clippy::cast_precision_loss)] // row counts are far below 2^52
    let rate = (statements * ROWS) as f64 / seconds;
    println!("{rate:.0}");
    Ok(())
}
