//! Group commit of analytics ingestion on SQLite.
//!
//! SQLite has one writer, so concurrent ingest requests queue for it anyway; paying a
//! `BEGIN`, a `COMMIT` (a WAL append of every page the batch touched) and a dirty-mark
//! statement per request made the queue, not the inserts, the cost. Here every request builds
//! its batch's statement and bound values itself (so the writer never waits for that work),
//! puts it in a queue and waits for its answer; whichever request finds no writer task
//! running spawns one, and that task takes up to [`MAX_GROUP`] queued batches at a time into
//! one transaction:
//!
//! - each batch is one `INSERT` statement, and SQLite backs out a statement that breaks a
//!   constraint (a foreign key, a CHECK, a unique key) while the transaction stays open, so
//!   a refused batch leaves nothing and is answered with its own error while its neighbours
//!   are kept (no savepoint per batch: two round trips to the writer thread each); any
//!   other error fails the group;
//! - the dirty marks of the kept batches are one statement, one row per distinct bucket;
//! - after `COMMIT` a background WAL checkpoint is requested (`checkpoint.rs`) and every
//!   batch of the group is answered; if the transaction itself fails, every batch of the
//!   group is answered with that error and none of them is stored.
//!
//! A request is answered only once its rows are durable (as durable as any commit under
//! `synchronous=NORMAL`). A cancelled request cannot leave part of its batch behind: the
//! transaction runs in the spawned task, never inside a request's future, so dropping a
//! request either happens before its batch is taken (the task skips batches nobody waits
//! for any more: nothing is written) or after (the whole batch commits with its group).

use crate::analytics::{insert_marks, insert_prepared, prepare_insert, touched, PreparedInsert};
use crate::checkpoint::Checkpointer;
use crate::map_sqlx_error;
use sqlx::SqlitePool;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use time::OffsetDateTime;
use tmcp_repository::{IngestBatch, RepoError, RepoResult};
use tokio::sync::oneshot;

/// Batches (at most 100 rows each) per transaction: enough to share one commit among all
/// the requests a loaded server has waiting, few enough that other writers (the rollup,
/// every other table's writes) wait for the writer at most a few tens of milliseconds.
pub(crate) const MAX_GROUP: usize = 32;

struct Job {
    /// The batch's statement, built by the request's task rather than the writer's.
    insert: PreparedInsert,
    /// The (app, hour) buckets the batch touches; none for an empty batch.
    buckets: BTreeSet<(String, i64)>,
    marked_at: OffsetDateTime,
    done: oneshot::Sender<RepoResult<()>>,
}

#[derive(Default)]
struct Queue {
    pending: VecDeque<Job>,
    /// A writer task is running and will take what is pending.
    writing: bool,
}

/// The queue of one database's ingest batches (shared by clones of the database).
#[derive(Clone, Default)]
pub(crate) struct IngestQueue {
    queue: Arc<Mutex<Queue>>,
}

impl std::fmt::Debug for IngestQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IngestQueue").finish_non_exhaustive()
    }
}

fn lock(queue: &Mutex<Queue>) -> MutexGuard<'_, Queue> {
    // The critical sections only move jobs and flip a flag: a panic cannot leave the queue
    // half updated, so a poisoned lock is still sound to use.
    queue.lock().unwrap_or_else(PoisonError::into_inner)
}

impl IngestQueue {
    /// Stores `batch` and its dirty marks in a group transaction; returns once that
    /// transaction has committed (or with the error that refused this batch or the group).
    pub(crate) async fn ingest(
        &self,
        writer: &SqlitePool,
        checkpointer: &Checkpointer,
        batch: IngestBatch,
        marked_at: OffsetDateTime,
    ) -> RepoResult<()> {
        let buckets = touched(&batch);
        if buckets.is_empty() {
            return Ok(());
        }
        let insert = prepare_insert(&batch)?;
        let (done, answer) = oneshot::channel();
        let start = {
            let mut queue = lock(&self.queue);
            queue.pending.push_back(Job {
                insert,
                buckets,
                marked_at,
                done,
            });
            !std::mem::replace(&mut queue.writing, true)
        };
        if start {
            tokio::spawn(write_all(
                Arc::clone(&self.queue),
                writer.clone(),
                checkpointer.clone(),
            ));
        }
        answer.await.unwrap_or_else(|_| {
            Err(RepoError::Unavailable(
                "the analytics writer stopped before answering".into(),
            ))
        })
    }
}

/// Clears the `writing` flag if the writer task ends without doing so itself (a panic, or
/// its runtime shutting down), so that the next request starts a new one.
struct Writing {
    queue: Arc<Mutex<Queue>>,
    armed: bool,
}

impl Drop for Writing {
    fn drop(&mut self) {
        if self.armed {
            lock(&self.queue).writing = false;
        }
    }
}

/// The writer task: groups until the queue is empty.
async fn write_all(queue: Arc<Mutex<Queue>>, writer: SqlitePool, checkpointer: Checkpointer) {
    let mut writing = Writing {
        queue: Arc::clone(&queue),
        armed: true,
    };
    loop {
        let group: Vec<Job> = {
            let mut queue = lock(&queue);
            if queue.pending.is_empty() {
                // Under the lock: a request queued after this sees the flag down and starts
                // a new task.
                queue.writing = false;
                writing.armed = false;
                return;
            }
            let take = queue.pending.len().min(MAX_GROUP);
            queue.pending.drain(..take).collect()
        };
        // Requests dropped while queued: nobody waits for the answer, so nothing is written.
        let mut group: Vec<Job> = group.into_iter().filter(|j| !j.done.is_closed()).collect();
        if group.is_empty() {
            continue;
        }
        match write_group(&writer, &mut group).await {
            Ok(outcomes) => {
                checkpointer.request();
                for (job, outcome) in group.into_iter().zip(outcomes) {
                    // The requester may have gone meanwhile; its batch is stored all the same.
                    let _ = job.done.send(outcome);
                }
            }
            Err(error) => {
                for job in group {
                    let _ = job.done.send(Err(copy(&error)));
                }
            }
        }
    }
}

/// The same error for another member of a failed group.
fn copy(error: &RepoError) -> RepoError {
    match error {
        RepoError::Conflict { constraint } => RepoError::Conflict {
            constraint: constraint.clone(),
        },
        RepoError::Constraint { constraint } => RepoError::Constraint {
            constraint: constraint.clone(),
        },
        RepoError::QuotaExceeded(usage) => RepoError::QuotaExceeded(*usage),
        RepoError::Unavailable(message) => RepoError::Unavailable(message.clone()),
        RepoError::Internal(message) => RepoError::Internal(message.clone()),
    }
}

/// One transaction for the group: each batch's statement, then the marks of the kept ones,
/// then `COMMIT`. The outer error fails the whole group (nothing of it is stored);
/// the inner ones are per batch.
async fn write_group(writer: &SqlitePool, group: &mut [Job]) -> RepoResult<Vec<RepoResult<()>>> {
    let mut tx = writer.begin().await.map_err(map_sqlx_error)?;
    let mut outcomes = Vec::with_capacity(group.len());
    let mut marks: BTreeMap<(String, i64), OffsetDateTime> = BTreeMap::new();
    for job in group.iter_mut() {
        // A batch is one INSERT statement, and SQLite undoes a statement that breaks a
        // constraint (ABORT: the statement's changes are backed out, the transaction stays
        // open), so a refused batch leaves nothing without a savepoint of its own. Any other
        // error may have rolled the whole transaction back: it fails the group.
        match insert_prepared(&mut tx, &mut job.insert).await {
            Ok(()) => {
                for bucket in &job.buckets {
                    marks
                        .entry(bucket.clone())
                        .and_modify(|at| *at = (*at).min(job.marked_at))
                        .or_insert(job.marked_at);
                }
                outcomes.push(Ok(()));
            }
            Err(refused @ (RepoError::Constraint { .. } | RepoError::Conflict { .. })) => {
                outcomes.push(Err(refused));
            }
            Err(failed) => return Err(failed),
        }
    }
    insert_marks(&mut tx, &marks).await?;
    tx.commit().await.map_err(map_sqlx_error)?;
    Ok(outcomes)
}
