//! Per-user key-value storage (the TMCP protocol §3). Every call is scoped to one (user, app); on
//! PostgreSQL the scope is also enforced by row-level security.
//!
//! Writes are units of work that begin by taking the (user, app)'s quota row (creating it
//! with the configured limits, or raising/lowering them to the configured ones when usage
//! allows). Holding that row serialises the writers of one (user, app), so version checks,
//! last-write-wins checks and the change-feed sequence are race-free, and the quota CHECK
//! refuses any statement that would exceed the limits. Each unit of work first purges the
//! (user, app)'s expired entries (leaving tombstones), so usage always counts live entries.

use crate::RepoResult;
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use tmcp_domain::storage::cursor::ChangeCursor;
use tmcp_domain::storage::sync::{SyncOpKind, SyncOpResult, SyncStrategy};
use tmcp_domain::storage::value::{checksum, ExpectedVersion, StoredValue, ValueEncoding};
use tmcp_domain::storage::{QuotaLimits, StorageKey};
use tmcp_domain::{AppId, UserId};
use uuid::Uuid;

/// The time and limits a unit of work runs with.
#[derive(Debug, Clone, Copy)]
pub struct WriteContext {
    pub now: OffsetDateTime,
    /// The configured limits of this (user, app); applied to its quota row.
    pub limits: QuotaLimits,
}

/// A value to store under a key.
#[derive(Debug, Clone)]
pub struct EntryWrite {
    pub key: StorageKey,
    pub value: Vec<u8>,
    pub encoding: ValueEncoding,
    pub content_type: String,
    pub ttl_seconds: Option<i64>,
    /// SHA-256 hex of `value`.
    pub checksum: String,
    pub metadata: serde_json::Value,
    /// The client's time of the change; `None` records the server's time.
    pub client_timestamp: Option<OffsetDateTime>,
    /// Refuse the write (`Stale`) when `client_timestamp` is older than the stored write.
    pub last_write_wins: bool,
    pub expected: Option<ExpectedVersion>,
}

impl EntryWrite {
    /// A plain write of `value` with the encoding's default content type, no TTL, no
    /// metadata and no preconditions.
    pub fn new(key: StorageKey, value: Vec<u8>, encoding: ValueEncoding) -> Self {
        Self {
            key,
            checksum: checksum(&value),
            value,
            encoding,
            content_type: encoding.default_content_type().to_owned(),
            ttl_seconds: None,
            metadata: serde_json::json!({}),
            client_timestamp: None,
            last_write_wins: false,
            expected: None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct EntryDelete {
    pub key: StorageKey,
    pub expected: Option<ExpectedVersion>,
}

#[derive(Debug, Clone)]
pub enum WriteOp {
    Put(EntryWrite),
    Delete(EntryDelete),
}

impl WriteOp {
    pub fn key(&self) -> &StorageKey {
        match self {
            Self::Put(w) => &w.key,
            Self::Delete(d) => &d.key,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum WriteOutcome {
    Stored {
        entry: StoredEntry,
        created: bool,
    },
    Deleted {
        existed: bool,
    },
    /// `client_timestamp` was older than the stored write; nothing changed.
    Stale {
        current: StoredEntry,
    },
    /// The version precondition failed; nothing changed.
    VersionMismatch {
        current_version: Option<i64>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct StoredEntry {
    pub key: String,
    pub value: Vec<u8>,
    pub encoding: ValueEncoding,
    pub content_type: String,
    pub version: i64,
    pub size: i64,
    pub checksum: String,
    pub metadata: serde_json::Value,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    pub expires_at: Option<OffsetDateTime>,
    /// Time of the last write for last-write-wins (client's or server's).
    pub last_write_at: OffsetDateTime,
    /// Position of the last change in the (user, app) change feed.
    pub change_seq: i64,
}

impl StoredEntry {
    pub fn stored_value(&self) -> StoredValue {
        StoredValue {
            encoding: self.encoding,
            content_type: self.content_type.clone(),
            bytes: self.value.clone(),
        }
    }
}

/// One key of a listing (no value).
#[derive(Debug, Clone, PartialEq)]
pub struct EntrySummary {
    pub key: String,
    pub size: i64,
    pub version: i64,
    pub content_type: String,
    pub updated_at: OffsetDateTime,
    pub expires_at: Option<OffsetDateTime>,
}

#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    /// Only keys starting with these bytes.
    pub prefix: Option<String>,
    /// Only keys sorting after this one (byte order).
    pub after: Option<String>,
    pub limit: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuotaUsage {
    pub total_bytes: i64,
    pub used_bytes: i64,
    pub total_keys: i64,
    pub used_keys: i64,
}

/// Usage of live entries and when it last changed (`None`: nothing stored yet).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuotaSnapshot {
    pub usage: QuotaUsage,
    pub last_updated: Option<OffsetDateTime>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ChangeKind {
    Set(StoredEntry),
    Deleted {
        key: String,
        /// The version the key had when it was deleted or expired.
        version: i64,
        deleted_at: OffsetDateTime,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub seq: i64,
    pub kind: ChangeKind,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ChangePage {
    /// In feed order; at most one per key (its latest state).
    pub changes: Vec<Change>,
    pub next: ChangeCursor,
    pub has_more: bool,
    /// The cursor was too old (or absent): the client must replace its copy with this feed.
    pub full_resync: bool,
}

/// A pushed offline operation, already validated.
#[derive(Debug, Clone)]
pub struct SyncOp {
    pub op_id: String,
    pub key: StorageKey,
    /// The value for `set` (its `client_timestamp` is the op's); `None` for `delete`.
    pub write: Option<EntryWrite>,
    pub client_timestamp: OffsetDateTime,
    pub base_version: Option<i64>,
    pub strategy: SyncStrategy,
}

impl SyncOp {
    pub fn kind(&self) -> SyncOpKind {
        if self.write.is_some() {
            SyncOpKind::Set
        } else {
            SyncOpKind::Delete
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncApplied {
    pub result: SyncOpResult,
    /// The op id had been pushed before; `result` is the first result.
    pub replayed: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyncStatus {
    /// Operations waiting for a manual conflict resolution.
    pub pending_ops: i64,
    /// Operations refused (e.g. over quota).
    pub failed_ops: i64,
    pub completed_ops: i64,
    pub open_conflicts: i64,
    /// When the last operation was pushed.
    pub last_push_at: Option<OffsetDateTime>,
    /// The newest position of the change feed.
    pub change_seq: i64,
}

/// How the stored bytes of a conflict are to be read, kept in `storage_conflicts.conflict_data`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConflictData {
    pub op_id: Option<String>,
    pub operation: SyncOpKind,
    /// The client's side (for `set`).
    pub local: Option<ValueInfo>,
    /// The server's side when the conflict was opened (`None`: the key did not exist).
    pub remote: Option<ValueInfo>,
    pub base_version: Option<i64>,
    /// Unix seconds with fraction.
    pub client_timestamp: f64,
    #[serde(default)]
    pub resolution: Option<String>,
    #[serde(default)]
    pub resolved: Option<ValueInfo>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ValueInfo {
    pub encoding: ValueEncoding,
    pub content_type: String,
    #[serde(default)]
    pub version: Option<i64>,
    #[serde(default)]
    pub ttl: Option<i64>,
    #[serde(default)]
    pub metadata: Option<serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ConflictRecord {
    pub id: Uuid,
    pub key: String,
    /// `pending`, `resolved` or `ignored`.
    pub status: String,
    pub strategy: Option<String>,
    pub operation: SyncOpKind,
    pub op_id: Option<String>,
    pub local: Option<StoredValue>,
    pub remote: Option<StoredValue>,
    pub remote_version: Option<i64>,
    pub resolution: Option<String>,
    pub resolved: Option<StoredValue>,
    pub created_at: OffsetDateTime,
    pub resolved_at: Option<OffsetDateTime>,
}

#[derive(Debug, Clone)]
pub enum ConflictResolution {
    /// Apply the client's operation as pushed.
    Local,
    /// Keep the server's current state.
    Remote,
    /// Store this value instead.
    Value {
        value: Vec<u8>,
        encoding: ValueEncoding,
        content_type: String,
        ttl_seconds: Option<i64>,
        metadata: serde_json::Value,
    },
}

impl ConflictResolution {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Local => "local",
            Self::Remote => "remote",
            Self::Value { .. } => "value",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum ResolveOutcome {
    NotFound,
    /// Only pending conflicts can be resolved.
    NotPending {
        status: String,
    },
    Resolved {
        conflict: Box<ConflictRecord>,
        /// The key's entry afterwards (`None`: it does not exist).
        entry: Option<Box<StoredEntry>>,
    },
}

/// A fresh time-ordered id for rows the storage service creates.
pub fn new_row_id(at: OffsetDateTime) -> Uuid {
    tmcp_domain::UserId::new_v7(at).0
}

#[async_trait]
pub trait StorageRepository: Send + Sync {
    /// Applies `ops` in one transaction: all of them or none. Keys must be distinct. Ops
    /// that free space run before ops that take it, so the quota is checked for the batch
    /// as a whole; a batch that would end over quota fails with `QuotaExceeded` (carrying
    /// the live usage) and changes nothing. Precondition and last-write-wins refusals are
    /// outcomes, not errors, and leave the other ops applied.
    async fn write_entries(
        &self,
        user: UserId,
        app: &AppId,
        ops: Vec<WriteOp>,
        ctx: &WriteContext,
    ) -> RepoResult<Vec<WriteOutcome>>;

    /// One write (see [`write_entries`](Self::write_entries)).
    async fn put_entry(
        &self,
        user: UserId,
        app: &AppId,
        entry: EntryWrite,
        ctx: &WriteContext,
    ) -> RepoResult<WriteOutcome> {
        let mut outcomes = self
            .write_entries(user, app, vec![WriteOp::Put(entry)], ctx)
            .await?;
        outcomes
            .pop()
            .ok_or_else(|| crate::RepoError::Internal("write produced no outcome".into()))
    }

    /// Deletes a key; `true` if a live entry was removed.
    async fn delete_entry(
        &self,
        user: UserId,
        app: &AppId,
        key: &StorageKey,
        ctx: &WriteContext,
    ) -> RepoResult<bool> {
        let op = WriteOp::Delete(EntryDelete {
            key: key.clone(),
            expected: None,
        });
        let outcomes = self.write_entries(user, app, vec![op], ctx).await?;
        Ok(matches!(
            outcomes.first(),
            Some(WriteOutcome::Deleted { existed: true })
        ))
    }

    /// Returns the live entry; expired entries are invisible even before they are purged.
    async fn get_entry(
        &self,
        user: UserId,
        app: &AppId,
        key: &StorageKey,
        now: OffsetDateTime,
    ) -> RepoResult<Option<StoredEntry>>;

    /// The live entries among `keys` (in no particular order).
    async fn get_entries(
        &self,
        user: UserId,
        app: &AppId,
        keys: &[StorageKey],
        now: OffsetDateTime,
    ) -> RepoResult<Vec<StoredEntry>>;

    /// Live keys in byte order.
    async fn list_entries(
        &self,
        user: UserId,
        app: &AppId,
        query: &ListQuery,
        now: OffsetDateTime,
    ) -> RepoResult<Vec<EntrySummary>>;

    /// Exact usage of live entries: expired entries not purged yet are purged first, and
    /// the configured limits are applied to the quota row when usage allows.
    async fn quota(
        &self,
        user: UserId,
        app: &AppId,
        ctx: &WriteContext,
    ) -> RepoResult<QuotaSnapshot>;

    /// The quota row as stored (no purge); `None` if this (user, app) never stored anything.
    async fn quota_usage(&self, user: UserId, app: &AppId) -> RepoResult<Option<QuotaUsage>>;

    /// Sum of sizes and count of the stored rows (expired or not), from the entries themselves.
    async fn recount_usage(&self, user: UserId, app: &AppId) -> RepoResult<(i64, i64)>;

    /// Removes at most about `limit` expired entries of all users (system job), each
    /// (user, app) in its own short transaction that leaves tombstones; returns how many went.
    async fn purge_expired(&self, now: OffsetDateTime, limit: i64) -> RepoResult<u64>;

    /// Drops tombstones and finished sync operations recorded before `before` (at most
    /// `limit` of each), raising the resync floor of the affected (user, app)s.
    async fn purge_sync_history(&self, before: OffsetDateTime, limit: i64) -> RepoResult<u64>;

    /// Deletes every entry, tombstone, sync operation and conflict of this (user, app) and
    /// resets its quota usage to zero with the configured limits (app uninstall, account
    /// deletion). Sync cursors issued before must resync. Returns the entries deleted.
    async fn delete_all_for_app(
        &self,
        user: UserId,
        app: &AppId,
        ctx: &WriteContext,
    ) -> RepoResult<u64>;

    /// Changes after `cursor` in feed order (purging expired entries first, so expiries
    /// show as deletions).
    async fn pull_changes(
        &self,
        user: UserId,
        app: &AppId,
        cursor: Option<ChangeCursor>,
        limit: i64,
        ctx: &WriteContext,
    ) -> RepoResult<ChangePage>;

    /// Applies one pushed operation (idempotent per `op_id`).
    async fn sync_apply(
        &self,
        user: UserId,
        app: &AppId,
        op: SyncOp,
        ctx: &WriteContext,
    ) -> RepoResult<SyncApplied>;

    async fn sync_status(&self, user: UserId, app: &AppId) -> RepoResult<SyncStatus>;

    /// Conflicts in creation order, optionally only those with `status`.
    async fn list_conflicts(
        &self,
        user: UserId,
        app: &AppId,
        status: Option<&str>,
        after: Option<Uuid>,
        limit: i64,
    ) -> RepoResult<Vec<ConflictRecord>>;

    async fn resolve_conflict(
        &self,
        user: UserId,
        app: &AppId,
        id: Uuid,
        resolution: ConflictResolution,
        ctx: &WriteContext,
    ) -> RepoResult<ResolveOutcome>;
}
