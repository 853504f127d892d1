//! The unit of work of one (user, app) on PostgreSQL: a transaction that begins by taking
//! the quota row's lock (every writer of the (user, app) queues there, so checks and the
//! change sequence are race-free and locks are always taken quota row first) and purging
//! expired entries. Request work runs scoped as `tmcp_app`; system jobs on the system pool.

use super::rows::{self, EntryRow, ENTRY_COLUMNS};
use crate::{map_sqlx_error, PgDatabase, PgTx};
use async_trait::async_trait;
use time::{Duration, OffsetDateTime};
use tmcp_domain::storage::sync::SyncOpResult;
use tmcp_domain::storage::StorageKey;
use tmcp_domain::{AppId, UserId};
use tmcp_repository::storage_tx::{ConflictRow, NewConflict, StorageTx, SyncOpRecord, Tombstone};
use tmcp_repository::{ConflictData, EntryWrite, RepoError, RepoResult, StoredEntry, WriteContext};
use uuid::Uuid;

/// Creates the quota row with the configured limits, or moves its limits to the configured
/// ones when the usage fits them; either way the row is taken for the transaction.
const TAKE_QUOTA: &str =
    "INSERT INTO storage_quotas (user_id, app_id, total_bytes, total_keys, last_updated) \
     VALUES ($1, $2, $3, $4, $5) \
     ON CONFLICT (user_id, app_id) DO UPDATE SET \
       total_bytes = CASE WHEN storage_quotas.used_bytes <= EXCLUDED.total_bytes \
                           AND storage_quotas.used_keys <= EXCLUDED.total_keys \
                          THEN EXCLUDED.total_bytes ELSE storage_quotas.total_bytes END, \
       total_keys = CASE WHEN storage_quotas.used_bytes <= EXCLUDED.total_bytes \
                          AND storage_quotas.used_keys <= EXCLUDED.total_keys \
                         THEN EXCLUDED.total_keys ELSE storage_quotas.total_keys END \
     RETURNING change_seq";

pub(crate) struct PgUnit {
    tx: PgTx,
    user: UserId,
    app: String,
    now: OffsetDateTime,
    seq: i64,
    start_seq: i64,
}

impl PgUnit {
    /// Request path: takes (creating if needed) the quota row and purges expired entries.
    pub(crate) async fn begin(
        db: &PgDatabase,
        user: UserId,
        app: &AppId,
        ctx: &WriteContext,
    ) -> RepoResult<Self> {
        let mut tx = db.scoped(user).await?;
        let seq: i64 = sqlx::query_scalar(TAKE_QUOTA)
            .bind(user.0)
            .bind(app.as_str())
            .bind(ctx.limits.total_bytes)
            .bind(ctx.limits.total_keys)
            .bind(ctx.now)
            .fetch_one(&mut *tx)
            .await
            .map_err(map_sqlx_error)?;
        let mut unit = Self {
            tx,
            user,
            app: app.as_str().to_owned(),
            now: ctx.now,
            seq,
            start_seq: seq,
        };
        unit.purge_expired(i64::MAX).await?;
        Ok(unit)
    }

    /// System path: takes an existing quota row without touching its limits; `None` if the
    /// (user, app) has none.
    pub(crate) async fn begin_existing(
        db: &PgDatabase,
        user: UserId,
        app: String,
        now: OffsetDateTime,
    ) -> RepoResult<Option<Self>> {
        let mut tx = db.system_tx().await?;
        let seq: Option<i64> = sqlx::query_scalar(
            "UPDATE storage_quotas SET change_seq = change_seq \
             WHERE user_id = $1 AND app_id = $2 RETURNING change_seq",
        )
        .bind(user.0)
        .bind(&app)
        .fetch_optional(&mut *tx)
        .await
        .map_err(map_sqlx_error)?;
        Ok(seq.map(|seq| Self {
            tx,
            user,
            app,
            now,
            seq,
            start_seq: seq,
        }))
    }

    fn next_seq(&mut self) -> i64 {
        self.seq += 1;
        self.seq
    }

    pub(crate) fn tx(&mut self) -> &mut sqlx::PgConnection {
        &mut self.tx
    }

    pub(crate) fn user(&self) -> UserId {
        self.user
    }

    pub(crate) fn app(&self) -> &str {
        &self.app
    }

    /// Deletes up to `limit` expired entries of this (user, app), leaving tombstones dated
    /// at their expiry.
    pub(crate) async fn purge_expired(&mut self, limit: i64) -> RepoResult<u64> {
        let gone: Vec<(String, i32, OffsetDateTime)> = sqlx::query_as(
            "DELETE FROM storage_entries WHERE user_id = $1 AND app_id = $2 AND key IN ( \
               SELECT key FROM storage_entries WHERE user_id = $1 AND app_id = $2 \
               AND expires_at IS NOT NULL AND expires_at <= $3 ORDER BY expires_at LIMIT $4) \
             RETURNING key, version, expires_at",
        )
        .bind(self.user.0)
        .bind(&self.app)
        .bind(self.now)
        .bind(limit)
        .fetch_all(&mut *self.tx)
        .await
        .map_err(map_sqlx_error)?;
        let count = gone.len() as u64;
        for (key, version, expired_at) in gone {
            self.put_tombstone(&key, i64::from(version), None, expired_at)
                .await?;
        }
        Ok(count)
    }

    async fn put_tombstone(
        &mut self,
        key: &str,
        version: i64,
        client_timestamp: Option<OffsetDateTime>,
        deleted_at: OffsetDateTime,
    ) -> RepoResult<()> {
        let seq = self.next_seq();
        sqlx::query(
            "INSERT INTO storage_tombstones \
               (user_id, app_id, key, version, change_seq, client_timestamp, deleted_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (user_id, app_id, key) DO UPDATE SET version = EXCLUDED.version, \
               change_seq = EXCLUDED.change_seq, client_timestamp = EXCLUDED.client_timestamp, \
               deleted_at = EXCLUDED.deleted_at",
        )
        .bind(self.user.0)
        .bind(&self.app)
        .bind(key)
        .bind(version)
        .bind(seq)
        .bind(client_timestamp)
        .bind(deleted_at)
        .execute(&mut *self.tx)
        .await
        .map_err(map_sqlx_error)?;
        Ok(())
    }

    /// Takes a change sequence number for a change made outside the helpers (e.g. delete all).
    pub(crate) fn take_seq(&mut self) -> i64 {
        self.next_seq()
    }

    /// Records the last sequence number handed out and commits.
    pub(crate) async fn commit(mut self) -> RepoResult<()> {
        if self.seq != self.start_seq {
            sqlx::query(
                "UPDATE storage_quotas SET change_seq = $3 WHERE user_id = $1 AND app_id = $2",
            )
            .bind(self.user.0)
            .bind(&self.app)
            .bind(self.seq)
            .execute(&mut *self.tx)
            .await
            .map_err(map_sqlx_error)?;
        }
        self.tx.commit().await.map_err(map_sqlx_error)
    }

    pub(crate) async fn rollback(self) -> RepoResult<()> {
        self.tx.rollback().await.map_err(map_sqlx_error)
    }
}

#[async_trait]
impl StorageTx for PgUnit {
    fn now(&self) -> OffsetDateTime {
        self.now
    }

    async fn current(&mut self, key: &StorageKey) -> RepoResult<Option<StoredEntry>> {
        let sql = format!(
            "SELECT {ENTRY_COLUMNS} FROM storage_entries WHERE user_id = $1 AND app_id = $2 \
             AND key = $3 AND (expires_at IS NULL OR expires_at > $4)"
        );
        let row: Option<EntryRow> = sqlx::query_as(&sql)
            .bind(self.user.0)
            .bind(&self.app)
            .bind(key.as_str())
            .bind(self.now)
            .fetch_optional(&mut *self.tx)
            .await
            .map_err(map_sqlx_error)?;
        row.map(rows::entry).transpose()
    }

    async fn tombstone(&mut self, key: &StorageKey) -> RepoResult<Option<Tombstone>> {
        let row: Option<rows::TombstoneRow> = sqlx::query_as(
            "SELECT version, client_timestamp, deleted_at FROM storage_tombstones \
             WHERE user_id = $1 AND app_id = $2 AND key = $3",
        )
        .bind(self.user.0)
        .bind(&self.app)
        .bind(key.as_str())
        .fetch_optional(&mut *self.tx)
        .await
        .map_err(map_sqlx_error)?;
        Ok(row.map(rows::tombstone))
    }

    async fn store(
        &mut self,
        write: &EntryWrite,
        version: i64,
        replaces_tombstone: bool,
    ) -> RepoResult<StoredEntry> {
        let size = i64::try_from(write.value.len()).map_err(|_| RepoError::Constraint {
            constraint: "chk_storage_size".into(),
        })?;
        let expires_at = write
            .ttl_seconds
            .map(|ttl| self.now + Duration::seconds(ttl));
        let last_write = write.client_timestamp.unwrap_or(self.now);
        let seq = self.next_seq();
        let sql = format!(
            "INSERT INTO storage_entries (user_id, app_id, key, value, value_encoding, \
               content_type, version, created_at, updated_at, ttl, expires_at, size, checksum, \
               metadata, client_timestamp, change_seq) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $9, $10, $11, $12, $13, $14, $15) \
             ON CONFLICT (user_id, app_id, key) DO UPDATE SET \
               value = EXCLUDED.value, value_encoding = EXCLUDED.value_encoding, \
               content_type = EXCLUDED.content_type, version = EXCLUDED.version, \
               updated_at = EXCLUDED.updated_at, ttl = EXCLUDED.ttl, \
               expires_at = EXCLUDED.expires_at, size = EXCLUDED.size, \
               checksum = EXCLUDED.checksum, metadata = EXCLUDED.metadata, \
               client_timestamp = EXCLUDED.client_timestamp, change_seq = EXCLUDED.change_seq \
             RETURNING {ENTRY_COLUMNS}"
        );
        let row: EntryRow = sqlx::query_as(&sql)
            .bind(self.user.0)
            .bind(&self.app)
            .bind(write.key.as_str())
            .bind(&write.value)
            .bind(write.encoding.as_str())
            .bind(&write.content_type)
            .bind(version)
            .bind(self.now)
            .bind(write.ttl_seconds)
            .bind(expires_at)
            .bind(size)
            .bind(&write.checksum)
            .bind(&write.metadata)
            .bind(last_write)
            .bind(seq)
            .fetch_one(&mut *self.tx)
            .await
            .map_err(map_sqlx_error)?;
        if replaces_tombstone {
            sqlx::query(
                "DELETE FROM storage_tombstones WHERE user_id = $1 AND app_id = $2 AND key = $3",
            )
            .bind(self.user.0)
            .bind(&self.app)
            .bind(write.key.as_str())
            .execute(&mut *self.tx)
            .await
            .map_err(map_sqlx_error)?;
        }
        rows::entry(row)
    }

    async fn remove(
        &mut self,
        key: &StorageKey,
        version: i64,
        client_timestamp: Option<OffsetDateTime>,
    ) -> RepoResult<()> {
        sqlx::query("DELETE FROM storage_entries WHERE user_id = $1 AND app_id = $2 AND key = $3")
            .bind(self.user.0)
            .bind(&self.app)
            .bind(key.as_str())
            .execute(&mut *self.tx)
            .await
            .map_err(map_sqlx_error)?;
        let now = self.now;
        self.put_tombstone(key.as_str(), version, client_timestamp, now)
            .await
    }

    async fn find_sync_op(&mut self, op_id: &str) -> RepoResult<Option<SyncOpResult>> {
        let row: Option<Option<serde_json::Value>> = sqlx::query_scalar(
            "SELECT result FROM storage_sync_operations \
             WHERE user_id = $1 AND app_id = $2 AND op_id = $3",
        )
        .bind(self.user.0)
        .bind(&self.app)
        .bind(op_id)
        .fetch_optional(&mut *self.tx)
        .await
        .map_err(map_sqlx_error)?;
        match row {
            Some(Some(value)) => serde_json::from_value(value)
                .map(Some)
                .map_err(|e| RepoError::Internal(format!("bad stored sync result: {e}"))),
            Some(None) => Err(RepoError::Internal("sync operation without result".into())),
            None => Ok(None),
        }
    }

    async fn record_sync_op(&mut self, record: SyncOpRecord<'_>) -> RepoResult<()> {
        let result = serde_json::to_value(record.result)
            .map_err(|e| RepoError::Internal(format!("cannot encode sync result: {e}")))?;
        let processed_at = (record.status != "pending").then_some(self.now);
        let kind = match record.op.kind() {
            tmcp_domain::storage::sync::SyncOpKind::Set => "set",
            tmcp_domain::storage::sync::SyncOpKind::Delete => "delete",
        };
        let details = serde_json::json!({
            "strategy": record.op.strategy.as_str(),
            "resolution": record.result.resolution,
        });
        sqlx::query(
            "INSERT INTO storage_sync_operations (id, user_id, app_id, operation_type, key, value, \
               version, status, conflict_data, created_at, processed_at, error_message, op_id, \
               client_timestamp, base_version, result, conflict_id) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)",
        )
        .bind(record.id)
        .bind(self.user.0)
        .bind(&self.app)
        .bind(kind)
        .bind(record.op.key.as_str())
        .bind(record.op.write.as_ref().map(|w| w.value.as_slice()))
        .bind(record.result.version)
        .bind(record.status)
        .bind(details)
        .bind(self.now)
        .bind(processed_at)
        .bind(record.result.error.as_ref().map(|e| e.message.clone()))
        .bind(&record.op.op_id)
        .bind(record.op.client_timestamp)
        .bind(record.op.base_version)
        .bind(result)
        .bind(record.conflict_id)
        .execute(&mut *self.tx)
        .await
        .map_err(map_sqlx_error)?;
        Ok(())
    }

    async fn insert_conflict(&mut self, conflict: NewConflict<'_>) -> RepoResult<()> {
        let data = serde_json::to_value(&conflict.data)
            .map_err(|e| RepoError::Internal(format!("cannot encode conflict data: {e}")))?;
        sqlx::query(
            "INSERT INTO storage_conflicts (id, user_id, app_id, key, local_value, remote_value, \
               resolution_strategy, status, created_at, conflict_data) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', $8, $9)",
        )
        .bind(conflict.id)
        .bind(self.user.0)
        .bind(&self.app)
        .bind(conflict.key.as_str())
        .bind(conflict.local_value)
        .bind(conflict.remote_value)
        .bind(conflict.strategy)
        .bind(self.now)
        .bind(data)
        .execute(&mut *self.tx)
        .await
        .map_err(map_sqlx_error)?;
        Ok(())
    }

    async fn load_conflict(&mut self, id: Uuid) -> RepoResult<Option<ConflictRow>> {
        let sql = format!(
            "SELECT {} FROM storage_conflicts WHERE id = $1 AND user_id = $2 AND app_id = $3",
            rows::CONFLICT_COLUMNS
        );
        let row: Option<rows::ConflictRowTuple> = sqlx::query_as(&sql)
            .bind(id)
            .bind(self.user.0)
            .bind(&self.app)
            .fetch_optional(&mut *self.tx)
            .await
            .map_err(map_sqlx_error)?;
        row.map(rows::conflict).transpose()
    }

    async fn close_conflict(
        &mut self,
        id: Uuid,
        resolved_value: Option<&[u8]>,
        data: &ConflictData,
    ) -> RepoResult<ConflictRow> {
        let data = serde_json::to_value(data)
            .map_err(|e| RepoError::Internal(format!("cannot encode conflict data: {e}")))?;
        let sql = format!(
            "UPDATE storage_conflicts SET status = 'resolved', resolved_value = $4, \
               resolved_at = $5, conflict_data = $6 \
             WHERE id = $1 AND user_id = $2 AND app_id = $3 AND status = 'pending' \
             RETURNING {}",
            rows::CONFLICT_COLUMNS
        );
        let row: Option<rows::ConflictRowTuple> = sqlx::query_as(&sql)
            .bind(id)
            .bind(self.user.0)
            .bind(&self.app)
            .bind(resolved_value)
            .bind(self.now)
            .bind(data)
            .fetch_optional(&mut *self.tx)
            .await
            .map_err(map_sqlx_error)?;
        let row = row.ok_or_else(|| RepoError::Internal("conflict was not pending".into()))?;
        sqlx::query(
            "UPDATE storage_sync_operations SET status = 'completed', processed_at = $4 \
             WHERE user_id = $1 AND app_id = $2 AND conflict_id = $3 AND status = 'pending'",
        )
        .bind(self.user.0)
        .bind(&self.app)
        .bind(id)
        .bind(self.now)
        .execute(&mut *self.tx)
        .await
        .map_err(map_sqlx_error)?;
        rows::conflict(row)
    }
}
