use crate::RepoResult;
use async_trait::async_trait;
use time::OffsetDateTime;
use tmcp_domain::storage::{QuotaLimits, StorageKey};
use tmcp_domain::{AppId, UserId};

/// A value to store under a key; size and checksum are derived by the caller from `value`.
#[derive(Debug, Clone)]
pub struct PutEntry {
    pub key: StorageKey,
    pub value: Vec<u8>,
    pub content_type: String,
    pub ttl_seconds: Option<i64>,
    pub checksum: String,
    pub metadata: serde_json::Value,
    pub now: OffsetDateTime,
    /// Limits to create the quota row with if this (user, app) has none yet.
    pub limits: QuotaLimits,
}

#[derive(Debug, Clone, PartialEq)]
pub struct StoredEntry {
    pub key: String,
    pub value: Vec<u8>,
    pub content_type: String,
    pub version: i64,
    pub size: i64,
    pub checksum: String,
    pub metadata: serde_json::Value,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    pub expires_at: Option<OffsetDateTime>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuotaUsage {
    pub total_bytes: i64,
    pub used_bytes: i64,
    pub total_keys: i64,
    pub used_keys: i64,
}

/// Per-user key-value storage. Every call is scoped to one (user, app); on PostgreSQL the
/// scope is also enforced by row-level security.
#[async_trait]
pub trait StorageRepository: Send + Sync {
    /// Inserts or replaces a value, bumping its version. The database refuses the write
    /// atomically (`QuotaExceeded`) if it would take the (user, app) past its quota.
    async fn put_entry(
        &self,
        user: UserId,
        app: &AppId,
        entry: PutEntry,
    ) -> RepoResult<StoredEntry>;
    /// Returns the live entry; expired entries are invisible even before they are purged.
    async fn get_entry(
        &self,
        user: UserId,
        app: &AppId,
        key: &StorageKey,
        now: OffsetDateTime,
    ) -> RepoResult<Option<StoredEntry>>;
    async fn delete_entry(&self, user: UserId, app: &AppId, key: &StorageKey) -> RepoResult<bool>;
    async fn quota_usage(&self, user: UserId, app: &AppId) -> RepoResult<Option<QuotaUsage>>;
    /// Sum of sizes and count of the stored rows, computed from the entries themselves.
    async fn recount_usage(&self, user: UserId, app: &AppId) -> RepoResult<(i64, i64)>;
    /// Removes at most `limit` expired entries (system job); returns how many went.
    async fn purge_expired(&self, now: OffsetDateTime, limit: i64) -> RepoResult<u64>;
}
