//! Idempotency keys on SQLite. The steps inside a money unit of work are implemented for
//! [`SqliteWalletTx`] (`BEGIN IMMEDIATE` on the single writer: a second claimer of a key
//! waits for the write lock, then finds the first one's committed row). Lookups use the
//! reader pool; the purge runs on the writer.

use crate::stored::idempotency_record_from_row;
use crate::time_text::to_text;
use crate::wallet_tx::SqliteWalletTx;
use crate::{map_sqlx_error, SqliteDatabase};
use async_trait::async_trait;
use time::OffsetDateTime;
use tmcp_repository::idempotency::REPLY_STORED;
use tmcp_repository::stored::IDEMPOTENCY_COLUMNS;
use tmcp_repository::{
    IdempotencyRecord, IdempotencyRepository, IdempotencyScope, IdempotencyTx, RepoError,
    RepoResult, StoredReply,
};

async fn select<'c, E>(
    executor: E,
    scope: &IdempotencyScope,
    key: &str,
) -> RepoResult<Option<IdempotencyRecord>>
where
    E: sqlx::SqliteExecutor<'c>,
{
    let row = sqlx::query(&format!(
        "SELECT {IDEMPOTENCY_COLUMNS} FROM idempotency_keys \
         WHERE scope = $1 AND user_id = $2 AND idem_key = $3"
    ))
    .bind(scope.scope_column())
    .bind(scope.user_id.0)
    .bind(key)
    .fetch_optional(executor)
    .await
    .map_err(map_sqlx_error)?;
    row.as_ref().map(idempotency_record_from_row).transpose()
}

#[async_trait]
impl IdempotencyTx for SqliteWalletTx {
    async fn claim_idempotency_key(
        &mut self,
        record: &IdempotencyRecord,
    ) -> RepoResult<Option<IdempotencyRecord>> {
        // The unit of work holds the write lock: the row cannot appear or vanish between
        // these two statements.
        if let Some(existing) = select(&mut *self.tx, &record.scope, &record.key).await? {
            return Ok(Some(existing));
        }
        sqlx::query(
            "INSERT INTO idempotency_keys (scope, user_id, idem_key, operation, fingerprint, \
             resource_id, reply_status, reply_body, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(record.scope.scope_column())
        .bind(record.scope.user_id.0)
        .bind(&record.key)
        .bind(&record.operation)
        .bind(&record.fingerprint[..])
        .bind(&record.resource_id)
        .bind(record.reply.as_ref().map(|r| i64::from(r.status)))
        .bind(record.reply.as_ref().map(|r| r.body.as_str()))
        .bind(to_text(record.created_at))
        .bind(to_text(record.expires_at))
        .execute(&mut *self.tx)
        .await
        .map_err(map_sqlx_error)?;
        Ok(None)
    }

    async fn store_idempotent_reply(
        &mut self,
        scope: &IdempotencyScope,
        key: &str,
        reply: &StoredReply,
    ) -> RepoResult<()> {
        let stored = sqlx::query(
            "UPDATE idempotency_keys SET reply_status = $4, reply_body = $5 \
             WHERE scope = $1 AND user_id = $2 AND idem_key = $3 AND reply_status IS NULL",
        )
        .bind(scope.scope_column())
        .bind(scope.user_id.0)
        .bind(key)
        .bind(i64::from(reply.status))
        .bind(&reply.body)
        .execute(&mut *self.tx)
        .await
        .map_err(map_sqlx_error)?
        .rows_affected();
        if stored == 1 {
            Ok(())
        } else {
            Err(RepoError::Conflict {
                constraint: REPLY_STORED.into(),
            })
        }
    }
}

#[async_trait]
impl IdempotencyRepository for SqliteDatabase {
    async fn idempotency_record(
        &self,
        scope: &IdempotencyScope,
        key: &str,
    ) -> RepoResult<Option<IdempotencyRecord>> {
        select(&self.reader, scope, key).await
    }

    async fn claim_idempotency_key(
        &self,
        record: &IdempotencyRecord,
    ) -> RepoResult<Option<IdempotencyRecord>> {
        let mut unit = self.begin_wallet().await?;
        let existing = IdempotencyTx::claim_idempotency_key(&mut unit, record).await?;
        unit.tx.commit().await.map_err(map_sqlx_error)?;
        Ok(existing)
    }

    async fn store_idempotent_reply(
        &self,
        scope: &IdempotencyScope,
        key: &str,
        reply: &StoredReply,
    ) -> RepoResult<()> {
        let mut unit = self.begin_wallet().await?;
        IdempotencyTx::store_idempotent_reply(&mut unit, scope, key, reply).await?;
        unit.tx.commit().await.map_err(map_sqlx_error)
    }

    async fn purge_idempotency_keys(&self, now: OffsetDateTime, limit: u32) -> RepoResult<u64> {
        let purged = sqlx::query(
            "DELETE FROM idempotency_keys WHERE rowid IN (\
                 SELECT rowid FROM idempotency_keys \
                 WHERE expires_at <= $1 AND reply_status IS NOT NULL \
                 ORDER BY expires_at LIMIT $2)",
        )
        .bind(to_text(now))
        .bind(i64::from(limit))
        .execute(&self.writer)
        .await
        .map_err(map_sqlx_error)?;
        Ok(purged.rows_affected())
    }
}
