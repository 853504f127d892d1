use crate::time_text::{from_opt_text, from_text, to_text};
use crate::{map_sqlx_error, SqliteDatabase};
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
    i64,
    i64,
    String,
    String,
    String,
    String,
    Option<String>,
);

fn entry_from_row(row: EntryRow) -> RepoResult<StoredEntry> {
    let (key, value, content_type, version, size, checksum, metadata, created, updated, expires) =
        row;
    Ok(StoredEntry {
        key,
        value,
        content_type,
        version,
        size,
        checksum,
        metadata: serde_json::from_str(&metadata)
            .map_err(|e| RepoError::Internal(format!("bad stored metadata: {e}")))?,
        created_at: from_text(&created)?,
        updated_at: from_text(&updated)?,
        expires_at: from_opt_text(expires)?,
    })
}

const ENTRY_COLUMNS: &str = "key, value, content_type, version, size, checksum, metadata, \
    created_at, updated_at, expires_at";

#[async_trait]
impl StorageRepository for SqliteDatabase {
    async fn put_entry(
        &self,
        user: UserId,
        app: &AppId,
        entry: PutEntry,
    ) -> RepoResult<StoredEntry> {
        let now = to_text(entry.now);
        let mut tx = self.writer.begin().await.map_err(map_sqlx_error)?;
        sqlx::query(
            "INSERT INTO storage_quotas (user_id, app_id, total_bytes, total_keys, last_updated) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (user_id, app_id) DO NOTHING",
        )
        .bind(user.0)
        .bind(app.as_str())
        .bind(entry.limits.total_bytes)
        .bind(entry.limits.total_keys)
        .bind(&now)
        .execute(&mut *tx)
        .await
        .map_err(map_sqlx_error)?;

        let size = i64::try_from(entry.value.len()).map_err(|_| RepoError::Constraint {
            constraint: "chk_storage_size".into(),
        })?;
        let expires_at = entry
            .ttl_seconds
            .map(|ttl| to_text(entry.now + Duration::seconds(ttl)));
        // An expired row that was not purged yet is replaced as if it were new.
        let sql = format!(
            "INSERT INTO storage_entries (user_id, app_id, key, value, content_type, version, \
               created_at, updated_at, ttl, expires_at, size, checksum, metadata) \
             VALUES ($1, $2, $3, $4, $5, 1, $6, $6, $7, $8, $9, $10, $11) \
             ON CONFLICT (user_id, app_id, key) DO UPDATE SET \
               value = excluded.value, content_type = excluded.content_type, \
               version = CASE WHEN storage_entries.expires_at <= excluded.updated_at THEN 1 \
                              ELSE storage_entries.version + 1 END, \
               created_at = CASE WHEN storage_entries.expires_at <= excluded.updated_at \
                                 THEN excluded.created_at ELSE storage_entries.created_at END, \
               updated_at = excluded.updated_at, ttl = excluded.ttl, \
               expires_at = excluded.expires_at, size = excluded.size, \
               checksum = excluded.checksum, metadata = excluded.metadata \
             RETURNING {ENTRY_COLUMNS}"
        );
        let result: Result<EntryRow, _> = sqlx::query_as(&sql)
            .bind(user.0)
            .bind(app.as_str())
            .bind(entry.key.as_str())
            .bind(&entry.value)
            .bind(&entry.content_type)
            .bind(&now)
            .bind(entry.ttl_seconds)
            .bind(expires_at)
            .bind(size)
            .bind(&entry.checksum)
            .bind(entry.metadata.to_string())
            .fetch_one(&mut *tx)
            .await;
        match result.map_err(map_sqlx_error) {
            Ok(row) => {
                tx.commit().await.map_err(map_sqlx_error)?;
                entry_from_row(row)
            }
            Err(RepoError::QuotaExceeded(_)) => {
                tx.rollback().await.map_err(map_sqlx_error)?;
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
        let sql = format!(
            "SELECT {ENTRY_COLUMNS} FROM storage_entries WHERE user_id = $1 AND app_id = $2 \
             AND key = $3 AND (expires_at IS NULL OR expires_at > $4)"
        );
        let row: Option<EntryRow> = sqlx::query_as(&sql)
            .bind(user.0)
            .bind(app.as_str())
            .bind(key.as_str())
            .bind(to_text(now))
            .fetch_optional(&self.reader)
            .await
            .map_err(map_sqlx_error)?;
        row.map(entry_from_row).transpose()
    }

    async fn delete_entry(&self, user: UserId, app: &AppId, key: &StorageKey) -> RepoResult<bool> {
        let deleted = sqlx::query(
            "DELETE FROM storage_entries WHERE user_id = $1 AND app_id = $2 AND key = $3",
        )
        .bind(user.0)
        .bind(app.as_str())
        .bind(key.as_str())
        .execute(&self.writer)
        .await
        .map_err(map_sqlx_error)?
        .rows_affected();
        Ok(deleted > 0)
    }

    async fn quota_usage(&self, user: UserId, app: &AppId) -> RepoResult<Option<QuotaUsage>> {
        let row: Option<(i64, i64, i64, i64)> = sqlx::query_as(
            "SELECT total_bytes, used_bytes, total_keys, used_keys FROM storage_quotas \
             WHERE user_id = $1 AND app_id = $2",
        )
        .bind(user.0)
        .bind(app.as_str())
        .fetch_optional(&self.reader)
        .await
        .map_err(map_sqlx_error)?;
        Ok(row.map(
            |(total_bytes, used_bytes, total_keys, used_keys)| QuotaUsage {
                total_bytes,
                used_bytes,
                total_keys,
                used_keys,
            },
        ))
    }

    async fn recount_usage(&self, user: UserId, app: &AppId) -> RepoResult<(i64, i64)> {
        sqlx::query_as(
            "SELECT COALESCE(SUM(size), 0), COUNT(*) FROM storage_entries \
             WHERE user_id = $1 AND app_id = $2",
        )
        .bind(user.0)
        .bind(app.as_str())
        .fetch_one(&self.reader)
        .await
        .map_err(map_sqlx_error)
    }

    async fn purge_expired(&self, now: OffsetDateTime, limit: i64) -> RepoResult<u64> {
        let deleted = sqlx::query(
            "DELETE FROM storage_entries WHERE rowid IN ( \
               SELECT rowid FROM storage_entries \
               WHERE expires_at IS NOT NULL AND expires_at <= $1 ORDER BY expires_at LIMIT $2)",
        )
        .bind(to_text(now))
        .bind(limit)
        .execute(&self.writer)
        .await
        .map_err(map_sqlx_error)?
        .rows_affected();
        Ok(deleted)
    }
}
