//! The PostgreSQL unit of work of a grant withdrawal (the steps are decided by
//! `tmcp_repository::withdrawal_tx::withdraw`). It runs on the system pool like the rest of
//! the OAuth grant state; the consent row, inserted or locked `FOR UPDATE` first, is what
//! serialises it against consents and refresh rotations of the same (user, client).

use crate::map_sqlx_error;
use async_trait::async_trait;
use time::OffsetDateTime;
use tmcp_domain::ids::uuid_v7_at;
use tmcp_domain::UserId;
use tmcp_repository::withdrawal_tx::{LockedConsent, RevokedToken, TokenKind, WithdrawalTx};
use tmcp_repository::{OutboxEvent, RepoResult};

pub(crate) struct PgWithdrawal<'a> {
    pub tx: crate::PgTx,
    pub user: UserId,
    pub client_id: &'a str,
}

#[async_trait]
impl WithdrawalTx for PgWithdrawal<'_> {
    async fn lock_consent(&mut self, at: OffsetDateTime) -> RepoResult<Option<LockedConsent>> {
        // Inserting first means there is always a row to lock, even for a pair that only
        // ever had pre-approved scopes; a concurrent insert makes this one wait and do nothing.
        let created = sqlx::query(
            "INSERT INTO oauth_consents (id, user_id, client_id, scopes, created_at, updated_at) \
             VALUES ($1, $2, $3, ARRAY[]::TEXT[], $4, $4) \
             ON CONFLICT (user_id, client_id) DO NOTHING",
        )
        .bind(uuid_v7_at(at))
        .bind(self.user.0)
        .bind(self.client_id)
        .bind(at)
        .execute(&mut *self.tx)
        .await
        .map_err(map_sqlx_error)?;
        if created.rows_affected() == 1 {
            return Ok(None);
        }
        let (scopes, revoked_at): (Vec<String>, Option<OffsetDateTime>) = sqlx::query_as(
            "SELECT scopes, revoked_at FROM oauth_consents \
             WHERE user_id = $1 AND client_id = $2 FOR UPDATE",
        )
        .bind(self.user.0)
        .bind(self.client_id)
        .fetch_one(&mut *self.tx)
        .await
        .map_err(map_sqlx_error)?;
        Ok(Some(LockedConsent { scopes, revoked_at }))
    }

    async fn store_consent(&mut self, scopes: &[String], at: OffsetDateTime) -> RepoResult<()> {
        sqlx::query(
            "UPDATE oauth_consents SET scopes = $3, revoked_at = $4, updated_at = $4 \
             WHERE user_id = $1 AND client_id = $2",
        )
        .bind(self.user.0)
        .bind(self.client_id)
        .bind(scopes)
        .bind(at)
        .execute(&mut *self.tx)
        .await
        .map_err(map_sqlx_error)?;
        Ok(())
    }

    async fn revoke_tokens(&mut self, at: OffsetDateTime) -> RepoResult<Vec<RevokedToken>> {
        type Row = (String, Vec<String>, OffsetDateTime, OffsetDateTime, bool);
        let rows: Vec<Row> = sqlx::query_as(
            "UPDATE oauth_tokens SET revoked_at = $3 \
             WHERE user_id = $1 AND client_id = $2 AND revoked_at IS NULL \
             RETURNING token_type, scopes, created_at, expires_at, rotated_at IS NOT NULL",
        )
        .bind(self.user.0)
        .bind(self.client_id)
        .bind(at)
        .fetch_all(&mut *self.tx)
        .await
        .map_err(map_sqlx_error)?;
        rows.into_iter()
            .map(|(kind, scopes, created_at, expires_at, rotated)| {
                Ok(RevokedToken {
                    kind: TokenKind::from_db(&kind)?,
                    scopes,
                    created_at,
                    expires_at,
                    rotated,
                })
            })
            .collect()
    }

    async fn enqueue(&mut self, event: &OutboxEvent) -> RepoResult<()> {
        sqlx::query(
            "INSERT INTO webhook_outbox (id, app_id, event, payload, created_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(event.id)
        .bind(&event.app_id)
        .bind(&event.event)
        .bind(&event.payload)
        .bind(event.created_at)
        .execute(&mut *self.tx)
        .await
        .map_err(map_sqlx_error)?;
        Ok(())
    }
}
