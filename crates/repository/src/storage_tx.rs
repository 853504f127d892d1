//! The storage algorithms shared by every engine. An engine opens a unit of work that holds
//! the (user, app)'s quota row (see [`crate::storage`]) and exposes it as a [`StorageTx`];
//! the functions here decide what to write, so version checks, last-write-wins, batch
//! ordering, sync strategies and conflict resolution behave identically on every engine.

use crate::storage::{
    Change, ChangePage, ConflictData, ConflictRecord, ConflictResolution, EntryWrite,
    ResolveOutcome, StoredEntry, SyncApplied, SyncOp, ValueInfo, WriteOp, WriteOutcome,
};
use crate::{new_row_id, RepoError, RepoResult};
use async_trait::async_trait;
use time::OffsetDateTime;
use tmcp_domain::storage::cursor::ChangeCursor;
use tmcp_domain::storage::sync::{
    decide, is_stale, ServerState, SyncDecision, SyncOpError, SyncOpKind, SyncOpResult,
    SyncOpStatus,
};
use tmcp_domain::storage::value::{checksum, StoredValue};
use tmcp_domain::storage::StorageKey;
use uuid::Uuid;

/// The last deletion of a key, kept for the tombstone retention period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tombstone {
    pub version: i64,
    pub client_timestamp: Option<OffsetDateTime>,
    pub deleted_at: OffsetDateTime,
}

impl Tombstone {
    /// When the deletion happened, for last-write-wins.
    pub fn last_write(&self) -> OffsetDateTime {
        self.client_timestamp.unwrap_or(self.deleted_at)
    }
}

/// A sync operation row to record with its result.
#[derive(Debug)]
pub struct SyncOpRecord<'a> {
    pub id: Uuid,
    pub op: &'a SyncOp,
    /// `completed`, `pending` (waiting for a manual resolution) or `failed`.
    pub status: &'static str,
    pub result: &'a SyncOpResult,
    pub conflict_id: Option<Uuid>,
}

/// A conflict row to open.
#[derive(Debug)]
pub struct NewConflict<'a> {
    pub id: Uuid,
    pub key: &'a StorageKey,
    pub local_value: Option<&'a [u8]>,
    pub remote_value: Option<&'a [u8]>,
    pub strategy: &'static str,
    pub data: ConflictData,
}

/// A conflict row as stored.
#[derive(Debug, Clone)]
pub struct ConflictRow {
    pub id: Uuid,
    pub key: String,
    pub status: String,
    pub strategy: Option<String>,
    pub local_value: Option<Vec<u8>>,
    pub remote_value: Option<Vec<u8>>,
    pub resolved_value: Option<Vec<u8>>,
    pub data: ConflictData,
    pub created_at: OffsetDateTime,
    pub resolved_at: Option<OffsetDateTime>,
}

impl ConflictRow {
    pub fn into_record(self) -> ConflictRecord {
        let value = |bytes: Option<Vec<u8>>, info: Option<&ValueInfo>| match (bytes, info) {
            (Some(bytes), Some(info)) => Some(StoredValue {
                encoding: info.encoding,
                content_type: info.content_type.clone(),
                bytes,
            }),
            _ => None,
        };
        ConflictRecord {
            id: self.id,
            key: self.key,
            status: self.status,
            strategy: self.strategy,
            operation: self.data.operation,
            op_id: self.data.op_id.clone(),
            local: value(self.local_value, self.data.local.as_ref()),
            remote: value(self.remote_value, self.data.remote.as_ref()),
            remote_version: self.data.remote.as_ref().and_then(|r| r.version),
            resolution: self.data.resolution.clone(),
            resolved: value(self.resolved_value, self.data.resolved.as_ref()),
            created_at: self.created_at,
            resolved_at: self.resolved_at,
        }
    }
}

/// One engine's open unit of work on one (user, app), holding its quota row.
#[async_trait]
pub trait StorageTx: Send {
    fn now(&self) -> OffsetDateTime;
    /// The live entry (expired ones were purged when the unit of work began).
    async fn current(&mut self, key: &StorageKey) -> RepoResult<Option<StoredEntry>>;
    async fn tombstone(&mut self, key: &StorageKey) -> RepoResult<Option<Tombstone>>;
    /// Inserts or replaces the entry with `version`, the next change sequence number and
    /// `client_timestamp` (or now) as its last write; removes the key's tombstone if
    /// `replaces_tombstone`. Fails with `QuotaExceeded` if the quota CHECK refuses it.
    async fn store(
        &mut self,
        write: &EntryWrite,
        version: i64,
        replaces_tombstone: bool,
    ) -> RepoResult<StoredEntry>;
    /// Deletes the entry and records its tombstone with the next sequence number.
    async fn remove(
        &mut self,
        key: &StorageKey,
        version: i64,
        client_timestamp: Option<OffsetDateTime>,
    ) -> RepoResult<()>;
    async fn find_sync_op(&mut self, op_id: &str) -> RepoResult<Option<SyncOpResult>>;
    async fn record_sync_op(&mut self, record: SyncOpRecord<'_>) -> RepoResult<()>;
    async fn insert_conflict(&mut self, conflict: NewConflict<'_>) -> RepoResult<()>;
    async fn load_conflict(&mut self, id: Uuid) -> RepoResult<Option<ConflictRow>>;
    /// Marks a pending conflict resolved (storing the value kept and the updated data) and
    /// completes the operations waiting on it.
    async fn close_conflict(
        &mut self,
        id: Uuid,
        resolved_value: Option<&[u8]>,
        data: &ConflictData,
    ) -> RepoResult<ConflictRow>;
}

/// Stores `write` as the next version of its key.
async fn store_next<T: StorageTx + ?Sized>(
    tx: &mut T,
    write: &EntryWrite,
    current: Option<&StoredEntry>,
) -> RepoResult<StoredEntry> {
    let (version, replaces_tombstone) = match current {
        Some(entry) => (entry.version + 1, false),
        // Versions continue across deletions while the tombstone is kept, so a stale
        // `If-Match` or base version from an earlier life of the key never matches.
        None => match tx.tombstone(&write.key).await? {
            Some(tombstone) => (tombstone.version + 1, true),
            None => (1, false),
        },
    };
    tx.store(write, version, replaces_tombstone).await
}

/// Applies a batch of writes (see `StorageRepository::write_entries`).
pub async fn apply_write_ops<T: StorageTx + ?Sized>(
    tx: &mut T,
    ops: Vec<WriteOp>,
) -> RepoResult<Vec<WriteOutcome>> {
    struct Planned {
        index: usize,
        op: WriteOp,
        current: Option<StoredEntry>,
        delta: i64,
    }
    let mut outcomes: Vec<Option<WriteOutcome>> = vec![None; ops.len()];
    let mut planned = Vec::with_capacity(ops.len());
    for (index, op) in ops.into_iter().enumerate() {
        let current = tx.current(op.key()).await?;
        let current_version = current.as_ref().map(|e| e.version);
        let current_size = current.as_ref().map_or(0, |e| e.size);
        let (expected, delta) = match &op {
            WriteOp::Put(write) => {
                if write.last_write_wins {
                    if let (Some(at), Some(entry)) = (write.client_timestamp, current.as_ref()) {
                        if is_stale(at, entry.last_write_at) {
                            outcomes[index] = Some(WriteOutcome::Stale {
                                current: entry.clone(),
                            });
                            continue;
                        }
                    }
                }
                let size = i64::try_from(write.value.len()).unwrap_or(i64::MAX);
                (write.expected, size - current_size)
            }
            WriteOp::Delete(delete) => (delete.expected, -current_size),
        };
        if let Some(expected) = expected {
            if !expected.matches(current_version) {
                outcomes[index] = Some(WriteOutcome::VersionMismatch { current_version });
                continue;
            }
        }
        planned.push(Planned {
            index,
            op,
            current,
            delta,
        });
    }
    // Freeing writes first: every intermediate state then stays within max(start, end),
    // so the per-statement quota CHECK accepts exactly the batches whose end state fits.
    planned.sort_by_key(|p| p.delta);
    for p in planned {
        let outcome = match &p.op {
            WriteOp::Put(write) => {
                let entry = store_next(tx, write, p.current.as_ref()).await?;
                WriteOutcome::Stored {
                    entry,
                    created: p.current.is_none(),
                }
            }
            WriteOp::Delete(delete) => match &p.current {
                Some(entry) => {
                    tx.remove(&delete.key, entry.version, None).await?;
                    WriteOutcome::Deleted { existed: true }
                }
                None => WriteOutcome::Deleted { existed: false },
            },
        };
        outcomes[p.index] = Some(outcome);
    }
    outcomes
        .into_iter()
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| RepoError::Internal("a write produced no outcome".into()))
}

/// Applies one pushed sync operation: the first result of a known `op_id` is returned as
/// is; otherwise the strategy decides, and the op is recorded with its result.
pub async fn apply_sync_op<T: StorageTx + ?Sized>(
    tx: &mut T,
    op: &SyncOp,
) -> RepoResult<SyncApplied> {
    if let Some(result) = tx.find_sync_op(&op.op_id).await? {
        return Ok(SyncApplied {
            result,
            replayed: true,
        });
    }
    let current = tx.current(&op.key).await?;
    let tombstone = match current {
        Some(_) => None,
        None => tx.tombstone(&op.key).await?,
    };
    let server = ServerState {
        version: current.as_ref().map(|e| e.version),
        last_write: current
            .as_ref()
            .map(|e| e.last_write_at)
            .or(tombstone.map(|t| t.last_write())),
    };
    let decision = decide(op.strategy, op.base_version, op.client_timestamp, server);
    let mut result = SyncOpResult {
        op_id: op.op_id.clone(),
        key: op.key.as_str().to_owned(),
        status: SyncOpStatus::Applied,
        version: None,
        resolution: None,
        server_value: None,
        conflict_id: None,
        error: None,
    };
    let mut status = "completed";
    match decision {
        SyncDecision::Apply => match &op.write {
            Some(write) => {
                let mut write = write.clone();
                write.client_timestamp = Some(op.client_timestamp);
                write.last_write_wins = false;
                write.expected = None;
                let entry = store_next(tx, &write, current.as_ref()).await?;
                result.version = Some(entry.version);
            }
            None => {
                if let Some(entry) = &current {
                    tx.remove(&op.key, entry.version, Some(op.client_timestamp))
                        .await?;
                }
            }
        },
        SyncDecision::ServerWins => {
            result.status = SyncOpStatus::Conflict;
            result.resolution = Some("server_wins".into());
            result.version = server.version;
            result.server_value = current.as_ref().map(StoredEntry::stored_value);
        }
        SyncDecision::Manual => {
            let id = new_row_id(tx.now());
            let data = ConflictData {
                op_id: Some(op.op_id.clone()),
                operation: op.kind(),
                local: op.write.as_ref().map(|w| ValueInfo {
                    encoding: w.encoding,
                    content_type: w.content_type.clone(),
                    version: None,
                    ttl: w.ttl_seconds,
                    metadata: Some(w.metadata.clone()),
                }),
                remote: current.as_ref().map(|e| ValueInfo {
                    encoding: e.encoding,
                    content_type: e.content_type.clone(),
                    version: Some(e.version),
                    ttl: None,
                    metadata: Some(e.metadata.clone()),
                }),
                base_version: op.base_version,
                client_timestamp: unix_seconds(op.client_timestamp),
                resolution: None,
                resolved: None,
            };
            tx.insert_conflict(NewConflict {
                id,
                key: &op.key,
                local_value: op.write.as_ref().map(|w| w.value.as_slice()),
                remote_value: current.as_ref().map(|e| e.value.as_slice()),
                strategy: op.strategy.as_str(),
                data,
            })
            .await?;
            status = "pending";
            result.status = SyncOpStatus::Conflict;
            result.resolution = Some("manual".into());
            result.version = server.version;
            result.server_value = current.as_ref().map(StoredEntry::stored_value);
            result.conflict_id = Some(id);
        }
    }
    tx.record_sync_op(SyncOpRecord {
        id: new_row_id(tx.now()),
        op,
        status,
        conflict_id: result.conflict_id,
        result: &result,
    })
    .await?;
    Ok(SyncApplied {
        result,
        replayed: false,
    })
}

/// Records an operation the database refused (e.g. over quota) so a replay returns the
/// same answer. Call in a fresh unit of work after the failed one rolled back.
pub async fn record_rejected_sync_op<T: StorageTx + ?Sized>(
    tx: &mut T,
    op: &SyncOp,
    error: SyncOpError,
) -> RepoResult<SyncApplied> {
    if let Some(result) = tx.find_sync_op(&op.op_id).await? {
        return Ok(SyncApplied {
            result,
            replayed: true,
        });
    }
    let current = tx.current(&op.key).await?;
    let result = SyncOpResult {
        op_id: op.op_id.clone(),
        key: op.key.as_str().to_owned(),
        status: SyncOpStatus::Rejected,
        version: current.as_ref().map(|e| e.version),
        resolution: None,
        server_value: None,
        conflict_id: None,
        error: Some(error),
    };
    tx.record_sync_op(SyncOpRecord {
        id: new_row_id(tx.now()),
        op,
        status: "failed",
        conflict_id: None,
        result: &result,
    })
    .await?;
    Ok(SyncApplied {
        result,
        replayed: false,
    })
}

/// Resolves a pending conflict by applying the chosen side.
pub async fn resolve_conflict<T: StorageTx + ?Sized>(
    tx: &mut T,
    id: Uuid,
    resolution: ConflictResolution,
) -> RepoResult<ResolveOutcome> {
    let Some(row) = tx.load_conflict(id).await? else {
        return Ok(ResolveOutcome::NotFound);
    };
    if row.status != "pending" {
        return Ok(ResolveOutcome::NotPending { status: row.status });
    }
    let key = StorageKey::parse(&row.key)
        .map_err(|e| RepoError::Internal(format!("stored conflict key is invalid: {e}")))?;
    let current = tx.current(&key).await?;
    let mut data = row.data.clone();
    let (entry, resolved_info) = match &resolution {
        ConflictResolution::Local => {
            match (row.data.operation, &row.local_value, &row.data.local) {
                (SyncOpKind::Set, Some(bytes), Some(info)) => {
                    let write = EntryWrite {
                        key: key.clone(),
                        checksum: checksum(bytes),
                        value: bytes.clone(),
                        encoding: info.encoding,
                        content_type: info.content_type.clone(),
                        ttl_seconds: info.ttl,
                        metadata: info
                            .metadata
                            .clone()
                            .unwrap_or_else(|| serde_json::json!({})),
                        client_timestamp: None,
                        last_write_wins: false,
                        expected: None,
                    };
                    let entry = store_next(tx, &write, current.as_ref()).await?;
                    (Some(entry), info.clone())
                }
                (SyncOpKind::Set, _, _) => {
                    return Err(RepoError::Internal(
                        "conflict has no local value to apply".into(),
                    ))
                }
                (SyncOpKind::Delete, _, _) => {
                    if let Some(entry) = &current {
                        tx.remove(&key, entry.version, None).await?;
                    }
                    (None, info_of(None))
                }
            }
        }
        ConflictResolution::Remote => {
            let info = info_of(current.as_ref());
            (current.clone(), info)
        }
        ConflictResolution::Value {
            value,
            encoding,
            content_type,
            ttl_seconds,
            metadata,
        } => {
            let write = EntryWrite {
                key: key.clone(),
                checksum: checksum(value),
                value: value.clone(),
                encoding: *encoding,
                content_type: content_type.clone(),
                ttl_seconds: *ttl_seconds,
                metadata: metadata.clone(),
                client_timestamp: None,
                last_write_wins: false,
                expected: None,
            };
            let entry = store_next(tx, &write, current.as_ref()).await?;
            let info = info_of(Some(&entry));
            (Some(entry), info)
        }
    };
    data.resolution = Some(resolution.as_str().to_owned());
    let resolved_bytes = entry.as_ref().map(|e| e.value.clone());
    data.resolved = entry.as_ref().map(|_| resolved_info);
    let closed = tx
        .close_conflict(id, resolved_bytes.as_deref(), &data)
        .await?;
    Ok(ResolveOutcome::Resolved {
        conflict: Box::new(closed.into_record()),
        entry: entry.map(Box::new),
    })
}

fn info_of(entry: Option<&StoredEntry>) -> ValueInfo {
    match entry {
        Some(e) => ValueInfo {
            encoding: e.encoding,
            content_type: e.content_type.clone(),
            version: Some(e.version),
            ttl: None,
            metadata: Some(e.metadata.clone()),
        },
        None => ValueInfo {
            encoding: tmcp_domain::storage::value::ValueEncoding::Binary,
            content_type: String::new(),
            version: None,
            ttl: None,
            metadata: None,
        },
    }
}

/// Unix seconds with microsecond fraction, the wire form of `client_timestamp`.
pub fn unix_seconds(at: OffsetDateTime) -> f64 {
    // i128 nanoseconds → f64 seconds; microsecond precision survives for any real date.
    let micros = at.unix_timestamp_nanos() / 1000;
    #[allow(clippy::cast_precision_loss)]
    let seconds = micros as f64 / 1_000_000.0;
    seconds
}

/// Assembles a pull page from the candidate sets and deletions (each fetched in feed order,
/// at most `limit + 1` of each). `head` is the feed position read before the candidates.
pub fn page_of_changes(
    mut changes: Vec<Change>,
    cursor: Option<ChangeCursor>,
    from: i64,
    head: i64,
    floor: i64,
    resync: bool,
    limit: i64,
) -> ChangePage {
    changes.sort_by_key(|c| c.seq);
    let limit = usize::try_from(limit).unwrap_or(0);
    let has_more = changes.len() > limit;
    changes.truncate(limit);
    let last = changes.last().map_or(from, |c| c.seq);
    // On the last page the cursor moves to the head read first, so changes that were
    // skipped because they are no longer visible (an expiry racing the read) are not lost:
    // their tombstones get newer sequence numbers.
    let seq = if has_more { last } else { last.max(head) };
    ChangePage {
        changes,
        next: ChangeCursor { seq, floor },
        has_more,
        full_resync: cursor.is_none() || resync,
    }
}
