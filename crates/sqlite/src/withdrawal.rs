//! The SQLite unit of work of a grant withdrawal (the steps are decided by
//! `tmcp_repository::withdrawal_tx::withdraw`). It runs on the single writer connection, so
//! nothing else touches the (user, client) until it commits.

use crate::map_sqlx_error;
use crate::oauth::{json_list, parse_list};
use crate::time_text::{from_opt_text, from_text, to_text};
use async_trait::async_trait;
use sqlx::{Sqlite, Transaction};
use time::OffsetDateTime;
use tmcp_domain::ids::uuid_v7_at;
use tmcp_domain::UserId;
use tmcp_repository::withdrawal_tx::{LockedConsent, RevokedToken, TokenKind, WithdrawalTx};
use tmcp_repository::{OutboxEvent, RepoResult};

pub(crate) struct SqliteWithdrawal<'a> {
    pub tx: Transaction<'static, Sqlite>,
    pub user: UserId,
    pub client_id: &'a str,
}

#[async_trait]
impl WithdrawalTx for SqliteWithdrawal<'_> {
    async fn lock_consent(&mut self, at: OffsetDateTime) -> RepoResult<Option<LockedConsent>> {
        let stored: Option<(String, Option<String>)> = sqlx::query_as(
            "SELECT scopes, revoked_at FROM oauth_consents WHERE user_id = $1 AND client_id = $2",
        )
        .bind(self.user.0)
        .bind(self.client_id)
        .fetch_optional(&mut *self.tx)
        .await
        .map_err(map_sqlx_error)?;
        if let Some((scopes, revoked_at)) = stored {
            return Ok(Some(LockedConsent {
                scopes: parse_list(&scopes)?,
                revoked_at: from_opt_text(revoked_at)?,
            }));
        }
        // Pre-approved scopes leave no consent row; the withdrawal needs one for its mark.
        let id = uuid_v7_at(at);
        let at = to_text(at);
        sqlx::query(
            "INSERT INTO oauth_consents (id, user_id, client_id, scopes, created_at, updated_at) \
             VALUES ($1, $2, $3, '[]', $4, $4)",
        )
        .bind(id)
        .bind(self.user.0)
        .bind(self.client_id)
        .bind(&at)
        .execute(&mut *self.tx)
        .await
        .map_err(map_sqlx_error)?;
        Ok(None)
    }

    async fn store_consent(&mut self, scopes: &[String], at: OffsetDateTime) -> RepoResult<()> {
        sqlx::query(
            "UPDATE oauth_consents SET scopes = $3, revoked_at = $4, updated_at = $4 \
             WHERE user_id = $1 AND client_id = $2",
        )
        .bind(self.user.0)
        .bind(self.client_id)
        .bind(json_list(scopes))
        .bind(to_text(at))
        .execute(&mut *self.tx)
        .await
        .map_err(map_sqlx_error)?;
        Ok(())
    }

    async fn revoke_tokens(&mut self, at: OffsetDateTime) -> RepoResult<Vec<RevokedToken>> {
        let rows: Vec<(String, String, String, String, bool)> = sqlx::query_as(
            "UPDATE oauth_tokens SET revoked_at = $3 \
             WHERE user_id = $1 AND client_id = $2 AND revoked_at IS NULL \
             RETURNING token_type, scopes, created_at, expires_at, rotated_at IS NOT NULL",
        )
        .bind(self.user.0)
        .bind(self.client_id)
        .bind(to_text(at))
        .fetch_all(&mut *self.tx)
        .await
        .map_err(map_sqlx_error)?;
        rows.into_iter()
            .map(|(kind, scopes, created_at, expires_at, rotated)| {
                Ok(RevokedToken {
                    kind: TokenKind::from_db(&kind)?,
                    scopes: parse_list(&scopes)?,
                    created_at: from_text(&created_at)?,
                    expires_at: from_text(&expires_at)?,
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
        .bind(event.payload.to_string())
        .bind(to_text(event.created_at))
        .execute(&mut *self.tx)
        .await
        .map_err(map_sqlx_error)?;
        Ok(())
    }
}
