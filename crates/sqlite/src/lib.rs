//! SQLite backend: the zero-setup engine for local development and small installs.
//!
//! SQLite allows one writer at a time, so writes go through a single-connection pool (no
//! `SQLITE_BUSY` upgrades between concurrent transactions) and reads through a WAL reader
//! pool. There is no row-level security: every query names its (user, app) scope explicitly.

mod accounts;
mod analytics;
mod analytics_ingest;
mod analytics_recompute;
mod analytics_rollup;
mod app_versions;
mod apps;
mod checkpoint;
mod devices;
mod error;
mod idempotency;
mod mfa;
mod oauth;
mod payment_methods;
mod payment_tx;
mod payments;
mod sessions;
mod storage;
mod store;
mod store_search;
mod store_users;
mod stored;
mod system;
mod time_text;
mod tokens;
mod top_ups;
mod users;
mod wallet_tx;
mod wallets;
mod webhooks;
mod withdrawal;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::SqlitePool;
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;
use tmcp_repository::{RepoError, RepoResult};

pub use error::map_sqlx_error;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Lock waiting.
#[derive(Debug, Clone)]
pub struct SqliteSettings {
    /// How long a statement waits for a lock another process holds (a backup tool, a second
    /// server on the same file) before it fails as `RepoError::Unavailable`.
    pub busy_timeout: Duration,
}

impl Default for SqliteSettings {
    fn default() -> Self {
        Self {
            busy_timeout: Duration::from_secs(10),
        }
    }
}

/// Read-only connections the repositories read through (writes share one connection).
pub const READER_CONNECTIONS: u32 = 8;
/// Read-only connections store searches read through (docs/store_search.md, "Operations").
pub const SEARCH_READER_CONNECTIONS: u32 = 3;
/// How much of the database file a search connection maps into memory instead of copying
/// pages through its own page cache. A search reads a few hundred scattered full-text and
/// app pages; with each connection's default 2 MB cache most of them were a `pread` and a
/// copy, and over 100,000 apps at 16 concurrent searches the mapping nearly doubled the
/// throughput. The mapped pages are the kernel's page cache, shared with every process
/// reading the file, not memory of the server's own.
pub const SEARCH_MMAP_BYTES: u64 = 1 << 30;

#[derive(Debug, Clone)]
pub struct SqliteDatabase {
    writer: SqlitePool,
    reader: SqlitePool,
    /// Store search's readers: few (searches are CPU-bound) and memory-mapped.
    search_reader: SqlitePool,
    /// Document counts of search words, for ranking (store_search.rs).
    term_documents: std::sync::Arc<store_search::TermDocuments>,
    /// Analytics batches waiting for their group commit on the writer.
    ingest: analytics_ingest::IngestQueue,
    /// Background WAL checkpoints, requested after each analytics group commit.
    checkpointer: checkpoint::Checkpointer,
    /// Held by a rollup pass: passes of one process take turns instead of reading the same
    /// new rows and all but one being refused when they write.
    rollup_turn: std::sync::Arc<tokio::sync::Mutex<()>>,
}

impl SqliteDatabase {
    /// Opens (creating if needed) the database at `url` (`sqlite://path` or a plain path),
    /// in WAL mode with foreign keys on, and applies pending migrations.
    pub async fn connect(url: &str) -> RepoResult<Self> {
        Self::connect_with(url, &SqliteSettings::default()).await
    }

    /// [`Self::connect`] with explicit settings.
    pub async fn connect_with(url: &str, settings: &SqliteSettings) -> RepoResult<Self> {
        let url = if url.starts_with("sqlite:") {
            url.to_owned()
        } else {
            format!("sqlite://{url}")
        };
        let options = SqliteConnectOptions::from_str(&url)
            .map_err(|e| RepoError::Internal(format!("invalid SQLite URL: {e}")))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(settings.busy_timeout);
        if let Some(dir) = Path::new(options.get_filename()).parent() {
            if !dir.as_os_str().is_empty() {
                std::fs::create_dir_all(dir).map_err(|e| {
                    RepoError::Internal(format!("cannot create {}: {e}", dir.display()))
                })?;
            }
        }
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .test_before_acquire(false)
            // A multi-row INSERT inside a transaction keeps a statement journal (to undo
            // just that statement if a row is refused); past 64 KiB SQLite spills it to a
            // temporary file, which a 100-row analytics batch touching 5 indexes always did:
            // a file write per page. In memory it is a copy per page.
            .connect_with(
                options
                    .clone()
                    .pragma("temp_store", "memory")
                    .pragma(
                        "wal_autocheckpoint",
                        checkpoint::WRITER_FALLBACK_PAGES.to_string(),
                    )
                    .pragma("journal_size_limit", checkpoint::WAL_KEEP_BYTES.to_string()),
            )
            .await
            .map_err(map_sqlx_error)?;
        MIGRATOR
            .run(&writer)
            .await
            .map_err(|e| RepoError::Internal(format!("migration failed: {e}")))?;
        let checkpointer = SqlitePoolOptions::new()
            .max_connections(1)
            .test_before_acquire(false)
            .connect_with(options.clone())
            .await
            .map_err(map_sqlx_error)?;
        let reader = SqlitePoolOptions::new()
            .max_connections(READER_CONNECTIONS)
            // A connection to a local file does not drop on its own; sqlx's ping on every
            // checkout is a round trip to the connection's worker thread per query.
            .test_before_acquire(false)
            .connect_with(options.clone().read_only(true))
            .await
            .map_err(map_sqlx_error)?;
        let search_reader = SqlitePoolOptions::new()
            .max_connections(SEARCH_READER_CONNECTIONS)
            .test_before_acquire(false)
            .connect_with(
                options
                    .read_only(true)
                    .pragma("mmap_size", SEARCH_MMAP_BYTES.to_string()),
            )
            .await
            .map_err(map_sqlx_error)?;
        Ok(Self {
            writer,
            reader,
            search_reader,
            term_documents: std::sync::Arc::default(),
            ingest: analytics_ingest::IngestQueue::default(),
            checkpointer: checkpoint::Checkpointer::new(checkpointer),
            rollup_turn: std::sync::Arc::default(),
        })
    }

    /// Writes a consistent copy of the database to `target` (`VACUUM INTO`), safe while the
    /// server is running.
    pub async fn backup_to(&self, target: &Path) -> RepoResult<()> {
        let target = target
            .to_str()
            .ok_or_else(|| RepoError::Internal("backup path is not UTF-8".into()))?;
        sqlx::query("VACUUM INTO ?")
            .bind(target)
            .execute(&self.writer)
            .await
            .map_err(map_sqlx_error)?;
        Ok(())
    }

    pub async fn close(&self) {
        self.search_reader.close().await;
        self.reader.close().await;
        self.writer.close().await;
        self.checkpointer.close().await;
    }
}
