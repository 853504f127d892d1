//! WAL checkpoints on a connection of their own, off the one writer.
//!
//! By default SQLite checkpoints from the connection that commits the write crossing
//! `wal_autocheckpoint` pages: the writer copies the WAL into the database file and fsyncs
//! it while every other write waits behind it. Under a stream of analytics batches that was
//! a tenth of the writer's CPU plus its fsync waits (measured, docs/analytics.md). A
//! `PASSIVE` checkpoint needs neither the write lock nor the readers' consent, so it runs
//! here, on a separate connection and thread, concurrently with the next group commit.
//!
//! The writer keeps its own automatic checkpoint with a larger threshold
//! ([`WRITER_FALLBACK_PAGES`]): writes that do not ask for a background checkpoint, or a
//! checkpoint that cannot keep up, still bound the WAL.

use sqlx::SqlitePool;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// WAL pages after which the writer checkpoints by itself (16 MiB at 4 KiB pages; SQLite's
/// default is 1,000).
pub(crate) const WRITER_FALLBACK_PAGES: u32 = 4000;

/// The size the WAL file is cut back to when SQLite starts the log over (the writer's
/// `journal_size_limit`). Under a sustained stream the background checkpoint is always a
/// commit behind, so the log is never started over and the file grows (1 GB in 30 s of
/// benchmark ingestion); without a limit it would keep that size for good.
pub(crate) const WAL_KEEP_BYTES: u64 = 64 * 1024 * 1024;

/// Starts at most one background checkpoint at a time.
#[derive(Debug, Clone)]
pub(crate) struct Checkpointer {
    pool: SqlitePool,
    running: Arc<AtomicBool>,
}

/// Lowers the flag however the checkpoint task ends (done, failed, panicked, cancelled by a
/// runtime shutting down), so that a later request starts a new one.
struct Running(Arc<AtomicBool>);

impl Drop for Running {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

impl Checkpointer {
    /// `pool`: one read-write connection used for nothing else.
    pub(crate) fn new(pool: SqlitePool) -> Self {
        Self {
            pool,
            running: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Copies committed WAL frames into the database file in the background, unless a
    /// checkpoint is already running (it will be followed by the next request).
    pub(crate) fn request(&self) {
        if self.running.swap(true, Ordering::AcqRel) {
            return;
        }
        let running = Running(Arc::clone(&self.running));
        let pool = self.pool.clone();
        tokio::spawn(async move {
            let _running = running;
            // A failed checkpoint loses nothing (the frames stay in the WAL) and the writer's
            // own automatic checkpoint still bounds the WAL, so it is only reported.
            if let Err(error) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
                .execute(&pool)
                .await
            {
                tracing::warn!(%error, "background WAL checkpoint failed");
            }
        });
    }

    pub(crate) async fn close(&self) {
        self.pool.close().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SqliteDatabase;

    /// The limit is a property of the writer's connection: it is the connection whose next
    /// commit after the log starts over cuts the file back.
    #[tokio::test]
    async fn the_writer_connection_carries_the_wal_size_limit() {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}", dir.path().join("tmcp.db").display());
        let db = SqliteDatabase::connect(&url).await.expect("open");
        let (limit,): (i64,) = sqlx::query_as("PRAGMA journal_size_limit")
            .fetch_one(&db.writer)
            .await
            .expect("pragma");
        assert_eq!(u64::try_from(limit).ok(), Some(WAL_KEEP_BYTES));
        db.close().await;
    }
}
