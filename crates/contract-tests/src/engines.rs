//! Fresh, migrated databases for tests: a SQLite file in a temporary directory, or a
//! throwaway PostgreSQL database (found through `TMCP_TEST_DATABASE_URL`, default
//! `postgres://postgres@127.0.0.1:5432/test`) dropped when the test ends.

use crate::{Fixture, START};
use sqlx::{Connection, Executor, PgConnection};
use std::sync::Arc;
use tmcp_domain::{Clock, ManualClock};
use tmcp_postgres::{PgDatabase, PgSettings};
use tmcp_sqlite::SqliteDatabase;

pub fn admin_url() -> String {
    std::env::var("TMCP_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// Drops the scenario's database when the scenario ends (even when it panicked).
pub struct DropDatabase {
    pub name: String,
}

impl Drop for DropDatabase {
    fn drop(&mut self) {
        let name = self.name.clone();
        // A separate thread with its own runtime: Drop cannot await on the test's runtime.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            if let Ok(runtime) = runtime {
                runtime.block_on(async {
                    if let Ok(mut conn) = PgConnection::connect(&admin_url()).await {
                        let sql = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
                        let _ = conn.execute(sql.as_str()).await;
                    }
                });
            }
        })
        .join();
    }
}

/// Creates an empty database; returns its URL and drop guard.
pub async fn empty_database() -> (String, DropDatabase) {
    let admin = admin_url();
    let mut conn = PgConnection::connect(&admin)
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL is required for these tests ({admin}): {e}"));
    // The creation time in the name lets `scripts/services.sh` drop databases left by
    // interrupted runs (hours old) without touching those of a run going on right now.
    let created = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let name = format!("tmcp_test_{created}_{}", uuid::Uuid::new_v4().simple());
    conn.execute(format!("CREATE DATABASE \"{name}\"").as_str())
        .await
        .expect("create database");
    let guard = DropDatabase { name: name.clone() };
    (url_with_database(&admin, &name), guard)
}

/// Creates and migrates a fresh database; returns it with its URL and drop guard.
pub async fn fresh_database() -> (PgDatabase, String, DropDatabase) {
    let (url, guard) = empty_database().await;
    // A patient pool: tests race dozens of writers on one row while the suite shares two
    // cores, and a 503 after the server's 2 s default would be load, not a defect. Outage
    // tests build their own pools with the short timeout they assert.
    let settings = PgSettings {
        max_connections: 8,
        system_max_connections: 4,
        acquire_timeout: std::time::Duration::from_secs(15),
        ..PgSettings::default()
    };
    let db = PgDatabase::connect(&url, &settings)
        .await
        .expect("PostgreSQL opens and migrates");
    (db, url, guard)
}

fn url_with_database(base: &str, name: &str) -> String {
    match base.rsplit_once('/') {
        Some((prefix, last)) => {
            let query = last
                .split_once('?')
                .map(|(_, q)| format!("?{q}"))
                .unwrap_or_default();
            format!("{prefix}/{name}{query}")
        }
        None => panic!("TMCP_TEST_DATABASE_URL must end with /<database>"),
    }
}

pub async fn postgres() -> Fixture {
    let (db, _url, guard) = fresh_database().await;
    let clock = ManualClock::new(*START);
    // The fixed test time may lie outside the months the migration prepared.
    tmcp_repository::SystemRepository::ensure_partitions(&db, clock.now(), 3)
        .await
        .expect("partitions for the test clock");
    Fixture {
        db: Arc::new(db),
        clock,
        _guard: Box::new(guard),
    }
}

/// A fresh SQLite database in its own temporary directory.
pub async fn sqlite() -> Fixture {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("contract.db");
    let db = SqliteDatabase::connect(&path.to_string_lossy())
        .await
        .expect("SQLite opens and migrates");
    Fixture {
        db: Arc::new(db),
        clock: ManualClock::new(*START),
        _guard: Box::new(dir),
    }
}
