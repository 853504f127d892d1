use crate::{map_sqlx_error, PgDatabase};
use async_trait::async_trait;
use time::{Duration, OffsetDateTime};
use tmcp_domain::storage::StorageKey;
use tmcp_domain::{AppId, UserId};
use tmcp_repository::{
    PutEntry, QuotaUsage, RepoError, RepoResult, StorageRepository, StoredEntry,
};

type EntryRow = (
    String,
    Vec<u8>,
    String,
    i32,
    i32,
    String,
    serde_json::Value,
    OffsetDateTime,
    OffsetDateTime,
    Option<OffsetDateTime>,
);

fn entry_from_row(row: EntryRow) -> StoredEntry {
    let (key, value, content_type, version, size, checksum, metadata, created, updated, expires) =
        row;
    StoredEntry {
        key,
        value,
        content_type,
        version: i64::from(version),
        size: i64::from(size),
        checksum,
        metadata,
        created_at: created,
        updated_at: updated,
        expires_at: expires,
    }
}

const ENTRY_COLUMNS: &str = "key, value, content_type, version, size, checksum, metadata, \
    created_at, updated_at, expires_at";

#[async_trait]
impl StorageRepository for PgDatabase {
    async fn put_entry(
        &self,
        user: UserId,
        app: &AppId,
        entry: PutEntry,
    ) -> RepoResult<StoredEntry> {
        let mut tx = self.scoped(user).await?;
        sqlx::query(
            "INSERT INTO storage_quotas (user_id, app_id, total_bytes, total_keys, last_updated) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (user_id, app_id) DO NOTHING",
        )
        .bind(user.0)
        .bind(app.as_str())
        .bind(entry.limits.total_bytes)
        .bind(entry.limits.total_keys)
        .bind(entry.now)
        .execute(&mut *tx)
        .await
        .map_err(map_sqlx_error)?;

        let size = i32::try_from(entry.value.len()).map_err(|_| RepoError::Constraint {
            constraint: "chk_storage_size".into(),
        })?;
        let expires_at = entry
            .ttl_seconds
            .map(|ttl| entry.now + Duration::seconds(ttl));
        // An expired row that was not purged yet is replaced as if it were new.
        let sql = format!(
            "INSERT INTO storage_entries (user_id, app_id, key, value, content_type, version, \
               created_at, updated_at, ttl, expires_at, size, checksum, metadata) \
             VALUES ($1, $2, $3, $4, $5, 1, $6, $6, $7, $8, $9, $10, $11) \
             ON CONFLICT (user_id, app_id, key) DO UPDATE SET \
               value = EXCLUDED.value, content_type = EXCLUDED.content_type, \
               version = CASE WHEN storage_entries.expires_at <= EXCLUDED.updated_at THEN 1 \
                              ELSE storage_entries.version + 1 END, \
               created_at = CASE WHEN storage_entries.expires_at <= EXCLUDED.updated_at \
                                 THEN EXCLUDED.created_at ELSE storage_entries.created_at END, \
               updated_at = EXCLUDED.updated_at, ttl = EXCLUDED.ttl, \
               expires_at = EXCLUDED.expires_at, size = EXCLUDED.size, \
               checksum = EXCLUDED.checksum, metadata = EXCLUDED.metadata \
             RETURNING {ENTRY_COLUMNS}"
        );
        let result: Result<EntryRow, _> = sqlx::query_as(&sql)
            .bind(user.0)
            .bind(app.as_str())
            .bind(entry.key.as_str())
            .bind(&entry.value)
            .bind(&entry.content_type)
            .bind(entry.now)
            .bind(entry.ttl_seconds.map(|t| t as i32))
            .bind(expires_at)
            .bind(size)
            .bind(&entry.checksum)
            .bind(&entry.metadata)
            .fetch_one(&mut *tx)
            .await;
        match result.map_err(map_sqlx_error) {
            Ok(row) => {
                tx.commit().await.map_err(map_sqlx_error)?;
                Ok(entry_from_row(row))
            }
            Err(RepoError::QuotaExceeded(_)) => {
                drop(tx);
                let usage = self.quota_usage(user, app).await?.unwrap_or(QuotaUsage {
                    total_bytes: entry.limits.total_bytes,
                    used_bytes: 0,
                    total_keys: entry.limits.total_keys,
                    used_keys: 0,
                });
                Err(RepoError::QuotaExceeded(usage))
            }
            Err(other) => Err(other),
        }
    }

    async fn get_entry(
        &self,
        user: UserId,
        app: &AppId,
        key: &StorageKey,
        now: OffsetDateTime,
    ) -> RepoResult<Option<StoredEntry>> {
        let mut tx = self.scoped(user).await?;
        let sql = format!(
            "SELECT {ENTRY_COLUMNS} FROM storage_entries WHERE user_id = $1 AND app_id = $2 \
             AND key = $3 AND (expires_at IS NULL OR expires_at > $4)"
        );
        let row: Option<EntryRow> = sqlx::query_as(&sql)
            .bind(user.0)
            .bind(app.as_str())
            .bind(key.as_str())
            .bind(now)
            .fetch_optional(&mut *tx)
            .await
            .map_err(map_sqlx_error)?;
        tx.commit().await.map_err(map_sqlx_error)?;
        Ok(row.map(entry_from_row))
    }

    async fn delete_entry(&self, user: UserId, app: &AppId, key: &StorageKey) -> RepoResult<bool> {
        let mut tx = self.scoped(user).await?;
        let deleted = sqlx::query(
            "DELETE FROM storage_entries WHERE user_id = $1 AND app_id = $2 AND key = $3",
        )
        .bind(user.0)
        .bind(app.as_str())
        .bind(key.as_str())
        .execute(&mut *tx)
        .await
        .map_err(map_sqlx_error)?
        .rows_affected();
        tx.commit().await.map_err(map_sqlx_error)?;
        Ok(deleted > 0)
    }

    async fn quota_usage(&self, user: UserId, app: &AppId) -> RepoResult<Option<QuotaUsage>> {
        let mut tx = self.scoped(user).await?;
        let row: Option<(i64, i64, i32, i32)> = sqlx::query_as(
            "SELECT total_bytes, used_bytes, total_keys, used_keys FROM storage_quotas \
             WHERE user_id = $1 AND app_id = $2",
        )
        .bind(user.0)
        .bind(app.as_str())
        .fetch_optional(&mut *tx)
        .await
        .map_err(map_sqlx_error)?;
        tx.commit().await.map_err(map_sqlx_error)?;
        Ok(row.map(
            |(total_bytes, used_bytes, total_keys, used_keys)| QuotaUsage {
                total_bytes,
                used_bytes,
                total_keys: i64::from(total_keys),
                used_keys: i64::from(used_keys),
            },
        ))
    }

    async fn recount_usage(&self, user: UserId, app: &AppId) -> RepoResult<(i64, i64)> {
        let mut tx = self.scoped(user).await?;
        let row: (i64, i64) = sqlx::query_as(
            "SELECT COALESCE(SUM(size), 0)::bigint, COUNT(*) FROM storage_entries \
             WHERE user_id = $1 AND app_id = $2",
        )
        .bind(user.0)
        .bind(app.as_str())
        .fetch_one(&mut *tx)
        .await
        .map_err(map_sqlx_error)?;
        tx.commit().await.map_err(map_sqlx_error)?;
        Ok(row)
    }

    async fn purge_expired(&self, now: OffsetDateTime, limit: i64) -> RepoResult<u64> {
        // Bounded batches keep locks short; the quota trigger keeps usage exact.
        let deleted = sqlx::query(
            "DELETE FROM storage_entries WHERE (user_id, app_id, key) IN ( \
               SELECT user_id, app_id, key FROM storage_entries \
               WHERE expires_at IS NOT NULL AND expires_at <= $1 \
               ORDER BY expires_at LIMIT $2 FOR UPDATE SKIP LOCKED)",
        )
        .bind(now)
        .bind(limit)
        .execute(&self.system)
        .await
        .map_err(map_sqlx_error)?
        .rows_affected();
        Ok(deleted)
    }
}
