//! Idempotency keys on PostgreSQL. The steps inside a money unit of work are implemented for
//! [`PgWalletTx`] (system pool); lookups and the purge run on the system pool too, since the
//! money work that writes the keys runs there.

use crate::stored::idempotency_record_from_row;
use crate::wallet_tx::PgWalletTx;
use crate::{map_sqlx_error, PgDatabase};
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
    E: sqlx::PgExecutor<'c>,
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
impl IdempotencyTx for PgWalletTx {
    async fn claim_idempotency_key(
        &mut self,
        record: &IdempotencyRecord,
    ) -> RepoResult<Option<IdempotencyRecord>> {
        // A purge can remove the winner's row between our insert and our read; the next
        // attempt then inserts. Three rounds are plenty: a purge only takes expired rows.
        for _ in 0..3 {
            let inserted = sqlx::query(
                "INSERT INTO idempotency_keys (scope, user_id, idem_key, operation, \
                 fingerprint, resource_id, reply_status, reply_body, created_at, expires_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
                 ON CONFLICT (scope, user_id, idem_key) DO NOTHING",
            )
            .bind(record.scope.scope_column())
            .bind(record.scope.user_id.0)
            .bind(&record.key)
            .bind(&record.operation)
            .bind(&record.fingerprint[..])
            .bind(&record.resource_id)
            .bind(record.reply.as_ref().map(|r| i32::from(r.status)))
            .bind(record.reply.as_ref().map(|r| r.body.as_str()))
            .bind(record.created_at)
            .bind(record.expires_at)
            .execute(&mut *self.tx)
            .await
            .map_err(map_sqlx_error)?
            .rows_affected();
            if inserted == 1 {
                return Ok(None);
            }
            // READ COMMITTED: this statement sees the row the conflicting insert committed.
            if let Some(existing) = select(&mut *self.tx, &record.scope, &record.key).await? {
                return Ok(Some(existing));
            }
        }
        Err(RepoError::Internal(
            "idempotency key neither inserted nor found".into(),
        ))
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
        .bind(i32::from(reply.status))
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
impl IdempotencyRepository for PgDatabase {
    async fn idempotency_record(
        &self,
        scope: &IdempotencyScope,
        key: &str,
    ) -> RepoResult<Option<IdempotencyRecord>> {
        select(self.system_pool(), scope, key).await
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
            "DELETE FROM idempotency_keys WHERE ctid IN (\
                 SELECT ctid FROM idempotency_keys \
                 WHERE expires_at <= $1 AND reply_status IS NOT NULL \
                 ORDER BY expires_at LIMIT $2 FOR UPDATE SKIP LOCKED)",
        )
        .bind(now)
        .bind(i64::from(limit))
        .execute(self.system_pool())
        .await
        .map_err(map_sqlx_error)?
        .rows_affected();
        Ok(purged)
    }
}
