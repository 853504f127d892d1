//! OAuth grants on SQLite: consents, authorization codes, refresh tokens, device codes and
//! the webhook outbox. Every transition runs on the single writer connection inside one
//! transaction, so racing redemptions are serialised and only one wins.

use crate::time_text::{from_opt_text, from_text, to_text};
use crate::withdrawal::SqliteWithdrawal;
use crate::{map_sqlx_error, SqliteDatabase};
use async_trait::async_trait;
use sqlx::{Sqlite, Transaction};
use std::collections::BTreeSet;
use time::OffsetDateTime;
use tmcp_domain::ids::uuid_v7_at;
use tmcp_domain::oauth::{decide_device_poll, DevicePollDecision, DevicePollState, DeviceStatus};
use tmcp_domain::UserId;
use tmcp_repository::withdrawal_tx;
use tmcp_repository::{
    AuthorizationCode, CodeRedemption, Consent, ConsentWithdrawal, DeviceAuthorization, DevicePoll,
    NewAuthorizationCode, NewDeviceAuthorization, NewOAuthRefreshToken, OAuthGrantRepository,
    OAuthRefreshRedemption, OAuthRefreshRotation, OAuthRefreshToken, OutboxEvent, RepoError,
    RepoResult, Withdrawn,
};
use uuid::Uuid;

pub(crate) fn json_list(items: &[String]) -> String {
    serde_json::Value::from(items.to_vec()).to_string()
}

pub(crate) fn parse_list(text: &str) -> RepoResult<Vec<String>> {
    serde_json::from_str(text).map_err(|e| RepoError::Internal(format!("bad stored list: {e}")))
}

type CodeRow = (
    Uuid,
    String,
    Uuid,
    String,
    String,
    Option<String>,
    String,
    String,
    Option<String>,
);

fn code_from_row(row: CodeRow) -> RepoResult<(AuthorizationCode, Option<String>)> {
    let (grant_id, client_id, user, redirect_uri, scopes, challenge, expires, created, used) = row;
    Ok((
        AuthorizationCode {
            grant_id,
            client_id,
            user_id: UserId(user),
            redirect_uri,
            scopes: parse_list(&scopes)?,
            code_challenge: challenge,
            expires_at: from_text(&expires)?,
            created_at: from_text(&created)?,
        },
        used,
    ))
}

type RefreshRow = (
    Uuid,
    String,
    Option<Uuid>,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<Uuid>,
);

fn refresh_from_row(row: RefreshRow) -> RepoResult<OAuthRefreshToken> {
    let (_, client_id, user, scopes, expires, created, rotated, revoked, grant) = row;
    let user = user.ok_or_else(|| RepoError::Internal("refresh token without user".into()))?;
    let grant_id =
        grant.ok_or_else(|| RepoError::Internal("refresh token without grant".into()))?;
    Ok(OAuthRefreshToken {
        grant_id,
        client_id,
        user_id: UserId(user),
        scopes: parse_list(&scopes)?,
        expires_at: from_text(&expires)?,
        created_at: from_text(&created)?,
        rotated_at: from_opt_text(rotated)?,
        revoked_at: from_opt_text(revoked)?,
    })
}

const REFRESH_COLUMNS: &str = "id, client_id, user_id, scopes, expires_at, created_at, \
     rotated_at, revoked_at, grant_id";

type DeviceRow = (
    Uuid,
    String,
    String,
    String,
    String,
    Option<Uuid>,
    i64,
    String,
    Option<String>,
);

const DEVICE_COLUMNS: &str = "id, user_code, client_id, scopes, status, user_id, interval_secs, \
     expires_at, last_polled_at";

fn device_from_row(row: DeviceRow) -> RepoResult<(DeviceAuthorization, Option<OffsetDateTime>)> {
    let (id, user_code, client_id, scopes, status, user, interval, expires, polled) = row;
    let status = DeviceStatus::from_db(&status)
        .ok_or_else(|| RepoError::Internal(format!("bad device status {status:?}")))?;
    Ok((
        DeviceAuthorization {
            id,
            user_code,
            client_id,
            scopes: parse_list(&scopes)?,
            status,
            user_id: user.map(UserId),
            interval_secs: interval,
            expires_at: from_text(&expires)?,
        },
        from_opt_text(polled)?,
    ))
}

async fn revoke_grant_in(
    tx: &mut Transaction<'static, Sqlite>,
    grant_id: Uuid,
    at: &str,
) -> RepoResult<u64> {
    let done = sqlx::query(
        "UPDATE oauth_tokens SET revoked_at = $2 WHERE grant_id = $1 AND revoked_at IS NULL",
    )
    .bind(grant_id)
    .bind(at)
    .execute(&mut **tx)
    .await
    .map_err(map_sqlx_error)?;
    Ok(done.rows_affected())
}

#[async_trait]
impl OAuthGrantRepository for SqliteDatabase {
    async fn find_consent(&self, user: UserId, client_id: &str) -> RepoResult<Option<Consent>> {
        let row: Option<(String, Option<String>, String)> = sqlx::query_as(
            "SELECT scopes, revoked_at, updated_at FROM oauth_consents \
             WHERE user_id = $1 AND client_id = $2",
        )
        .bind(user.0)
        .bind(client_id)
        .fetch_optional(&self.reader)
        .await
        .map_err(map_sqlx_error)?;
        row.map(|(scopes, revoked, updated)| {
            Ok(Consent {
                scopes: parse_list(&scopes)?,
                revoked_at: from_opt_text(revoked)?,
                updated_at: from_text(&updated)?,
            })
        })
        .transpose()
    }

    async fn grant_consent(
        &self,
        user: UserId,
        client_id: &str,
        scopes: &[String],
        at: OffsetDateTime,
    ) -> RepoResult<()> {
        let mut tx = self.writer.begin().await.map_err(map_sqlx_error)?;
        let existing: Option<String> = sqlx::query_scalar(
            "SELECT scopes FROM oauth_consents WHERE user_id = $1 AND client_id = $2",
        )
        .bind(user.0)
        .bind(client_id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(map_sqlx_error)?;
        let id = uuid_v7_at(at);
        let at = to_text(at);
        match existing {
            Some(stored) => {
                let mut union: BTreeSet<String> = parse_list(&stored)?.into_iter().collect();
                union.extend(scopes.iter().cloned());
                let union: Vec<String> = union.into_iter().collect();
                sqlx::query(
                    "UPDATE oauth_consents SET scopes = $3, updated_at = $4 \
                     WHERE user_id = $1 AND client_id = $2",
                )
                .bind(user.0)
                .bind(client_id)
                .bind(json_list(&union))
                .bind(&at)
                .execute(&mut *tx)
                .await
                .map_err(map_sqlx_error)?;
            }
            None => {
                let unique: BTreeSet<String> = scopes.iter().cloned().collect();
                let unique: Vec<String> = unique.into_iter().collect();
                sqlx::query(
                    "INSERT INTO oauth_consents (id, user_id, client_id, scopes, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $5)",
                )
                .bind(id)
                .bind(user.0)
                .bind(client_id)
                .bind(json_list(&unique))
                .bind(&at)
                .execute(&mut *tx)
                .await
                .map_err(map_sqlx_error)?;
            }
        }
        tx.commit().await.map_err(map_sqlx_error)
    }

    async fn withdraw_consent(&self, withdrawal: ConsentWithdrawal) -> RepoResult<Withdrawn> {
        let tx = self.writer.begin().await.map_err(map_sqlx_error)?;
        let mut unit = SqliteWithdrawal {
            tx,
            user: withdrawal.user,
            client_id: &withdrawal.client_id,
        };
        let withdrawn = withdrawal_tx::withdraw(&mut unit, &withdrawal).await?;
        unit.tx.commit().await.map_err(map_sqlx_error)?;
        Ok(withdrawn)
    }

    async fn create_authorization_code(&self, code: NewAuthorizationCode) -> RepoResult<()> {
        sqlx::query(
            "INSERT INTO oauth_authorization_codes (code_hash, grant_id, client_id, user_id, \
             redirect_uri, scopes, code_challenge, code_challenge_method, expires_at, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(&code.code_hash)
        .bind(code.grant_id)
        .bind(&code.client_id)
        .bind(code.user_id.0)
        .bind(&code.redirect_uri)
        .bind(json_list(&code.scopes))
        .bind(&code.code_challenge)
        .bind(code.code_challenge.as_ref().map(|_| "S256"))
        .bind(to_text(code.expires_at))
        .bind(to_text(code.created_at))
        .execute(&self.writer)
        .await
        .map_err(map_sqlx_error)?;
        Ok(())
    }

    async fn redeem_authorization_code(
        &self,
        code_hash: &str,
        now: OffsetDateTime,
    ) -> RepoResult<CodeRedemption> {
        let mut tx = self.writer.begin().await.map_err(map_sqlx_error)?;
        let row: Option<CodeRow> = sqlx::query_as(
            "SELECT grant_id, client_id, user_id, redirect_uri, scopes, code_challenge, \
             expires_at, created_at, used_at FROM oauth_authorization_codes WHERE code_hash = $1",
        )
        .bind(code_hash)
        .fetch_optional(&mut *tx)
        .await
        .map_err(map_sqlx_error)?;
        let Some(row) = row else {
            return Ok(CodeRedemption::Unknown);
        };
        let (code, used) = code_from_row(row)?;
        if used.is_some() {
            return Ok(CodeRedemption::AlreadyUsed(code));
        }
        sqlx::query("UPDATE oauth_authorization_codes SET used_at = $2 WHERE code_hash = $1")
            .bind(code_hash)
            .bind(to_text(now))
            .execute(&mut *tx)
            .await
            .map_err(map_sqlx_error)?;
        tx.commit().await.map_err(map_sqlx_error)?;
        Ok(CodeRedemption::Redeemed(code))
    }

    async fn revoke_grant(&self, grant_id: Uuid, at: OffsetDateTime) -> RepoResult<u64> {
        let mut tx = self.writer.begin().await.map_err(map_sqlx_error)?;
        let revoked = revoke_grant_in(&mut tx, grant_id, &to_text(at)).await?;
        tx.commit().await.map_err(map_sqlx_error)?;
        Ok(revoked)
    }

    async fn store_oauth_refresh_token(&self, token: NewOAuthRefreshToken) -> RepoResult<()> {
        sqlx::query(
            "INSERT INTO oauth_tokens (id, client_id, user_id, token_type, token_hash, scopes, \
             expires_at, created_at, grant_id) VALUES ($1, $2, $3, 'refresh', $4, $5, $6, $7, $8)",
        )
        .bind(token.id)
        .bind(&token.client_id)
        .bind(token.user_id.0)
        .bind(&token.token_hash)
        .bind(json_list(&token.scopes))
        .bind(to_text(token.expires_at))
        .bind(to_text(token.created_at))
        .bind(token.grant_id)
        .execute(&self.writer)
        .await
        .map_err(map_sqlx_error)?;
        Ok(())
    }

    async fn find_oauth_refresh_token(
        &self,
        token_hash: &str,
    ) -> RepoResult<Option<OAuthRefreshToken>> {
        let sql = format!(
            "SELECT {REFRESH_COLUMNS} FROM oauth_tokens \
             WHERE token_hash = $1 AND token_type = 'refresh'"
        );
        let row: Option<RefreshRow> = sqlx::query_as(&sql)
            .bind(token_hash)
            .fetch_optional(&self.reader)
            .await
            .map_err(map_sqlx_error)?;
        row.map(refresh_from_row).transpose()
    }

    async fn rotate_oauth_refresh_token(
        &self,
        rotation: OAuthRefreshRotation,
    ) -> RepoResult<OAuthRefreshRedemption> {
        let mut tx = self.writer.begin().await.map_err(map_sqlx_error)?;
        let sql = format!(
            "SELECT {REFRESH_COLUMNS} FROM oauth_tokens \
             WHERE token_hash = $1 AND token_type = 'refresh'"
        );
        let row: Option<RefreshRow> = sqlx::query_as(&sql)
            .bind(&rotation.presented_hash)
            .fetch_optional(&mut *tx)
            .await
            .map_err(map_sqlx_error)?;
        let Some(row) = row else {
            return Ok(OAuthRefreshRedemption::Unknown);
        };
        let old_id = row.0;
        let old = refresh_from_row(row)?;
        if old.client_id != rotation.client_id {
            return Ok(OAuthRefreshRedemption::Dead);
        }
        let now = to_text(rotation.now);
        if old.rotated_at.is_some() {
            revoke_grant_in(&mut tx, old.grant_id, &now).await?;
            tx.commit().await.map_err(map_sqlx_error)?;
            return Ok(OAuthRefreshRedemption::Reused {
                grant_id: old.grant_id,
            });
        }
        if old.revoked_at.is_some() || old.expires_at <= rotation.now {
            return Ok(OAuthRefreshRedemption::Dead);
        }
        sqlx::query("UPDATE oauth_tokens SET rotated_at = $2 WHERE id = $1")
            .bind(old_id)
            .bind(&now)
            .execute(&mut *tx)
            .await
            .map_err(map_sqlx_error)?;
        sqlx::query(
            "INSERT INTO oauth_tokens (id, client_id, user_id, token_type, token_hash, scopes, \
             expires_at, created_at, grant_id) VALUES ($1, $2, $3, 'refresh', $4, $5, $6, $7, $8)",
        )
        .bind(rotation.new_id)
        .bind(&old.client_id)
        .bind(old.user_id.0)
        .bind(&rotation.new_hash)
        .bind(json_list(&old.scopes))
        .bind(to_text(rotation.new_expires_at))
        .bind(&now)
        .bind(old.grant_id)
        .execute(&mut *tx)
        .await
        .map_err(map_sqlx_error)?;
        tx.commit().await.map_err(map_sqlx_error)?;
        Ok(OAuthRefreshRedemption::Rotated(old))
    }

    async fn create_device_authorization(
        &self,
        authorization: NewDeviceAuthorization,
    ) -> RepoResult<()> {
        let mut tx = self.writer.begin().await.map_err(map_sqlx_error)?;
        sqlx::query("DELETE FROM oauth_device_codes WHERE user_code = $1 AND expires_at <= $2")
            .bind(&authorization.user_code)
            .bind(to_text(authorization.created_at))
            .execute(&mut *tx)
            .await
            .map_err(map_sqlx_error)?;
        sqlx::query(
            "INSERT INTO oauth_device_codes (id, device_code_hash, user_code, client_id, scopes, \
             status, interval_secs, expires_at, created_at) \
             VALUES ($1, $2, $3, $4, $5, 'pending', $6, $7, $8)",
        )
        .bind(authorization.id)
        .bind(&authorization.device_code_hash)
        .bind(&authorization.user_code)
        .bind(&authorization.client_id)
        .bind(json_list(&authorization.scopes))
        .bind(authorization.interval_secs)
        .bind(to_text(authorization.expires_at))
        .bind(to_text(authorization.created_at))
        .execute(&mut *tx)
        .await
        .map_err(map_sqlx_error)?;
        tx.commit().await.map_err(map_sqlx_error)
    }

    async fn find_pending_device_authorization(
        &self,
        user_code: &str,
        now: OffsetDateTime,
    ) -> RepoResult<Option<DeviceAuthorization>> {
        let sql = format!(
            "SELECT {DEVICE_COLUMNS} FROM oauth_device_codes \
             WHERE user_code = $1 AND status = 'pending' AND expires_at > $2"
        );
        let row: Option<DeviceRow> = sqlx::query_as(&sql)
            .bind(user_code)
            .bind(to_text(now))
            .fetch_optional(&self.reader)
            .await
            .map_err(map_sqlx_error)?;
        row.map(|r| device_from_row(r).map(|(d, _)| d)).transpose()
    }

    async fn decide_device_authorization(
        &self,
        user_code: &str,
        user: UserId,
        approve: bool,
        now: OffsetDateTime,
    ) -> RepoResult<bool> {
        let status = if approve {
            DeviceStatus::Approved
        } else {
            DeviceStatus::Denied
        };
        let now = to_text(now);
        let done = sqlx::query(
            "UPDATE oauth_device_codes SET status = $2, user_id = $3, decided_at = $4 \
             WHERE user_code = $1 AND status = 'pending' AND expires_at > $4",
        )
        .bind(user_code)
        .bind(status.as_db())
        .bind(user.0)
        .bind(&now)
        .execute(&self.writer)
        .await
        .map_err(map_sqlx_error)?;
        Ok(done.rows_affected() == 1)
    }

    async fn poll_device_authorization(
        &self,
        device_code_hash: &str,
        client_id: &str,
        now: OffsetDateTime,
    ) -> RepoResult<DevicePoll> {
        let mut tx = self.writer.begin().await.map_err(map_sqlx_error)?;
        let sql =
            format!("SELECT {DEVICE_COLUMNS} FROM oauth_device_codes WHERE device_code_hash = $1");
        let row: Option<DeviceRow> = sqlx::query_as(&sql)
            .bind(device_code_hash)
            .fetch_optional(&mut *tx)
            .await
            .map_err(map_sqlx_error)?;
        let Some(row) = row else {
            return Ok(DevicePoll::Invalid);
        };
        let (device, last_polled_at) = device_from_row(row)?;
        if device.client_id != client_id {
            return Ok(DevicePoll::Invalid);
        }
        let state = DevicePollState {
            status: device.status,
            expires_at: device.expires_at,
            interval_secs: device.interval_secs,
            last_polled_at,
        };
        let now_text = to_text(now);
        let outcome = match decide_device_poll(&state, now) {
            DevicePollDecision::Pending => {
                sqlx::query("UPDATE oauth_device_codes SET last_polled_at = $2 WHERE id = $1")
                    .bind(device.id)
                    .bind(&now_text)
                    .execute(&mut *tx)
                    .await
                    .map_err(map_sqlx_error)?;
                DevicePoll::Pending
            }
            DevicePollDecision::SlowDown { new_interval_secs } => {
                sqlx::query(
                    "UPDATE oauth_device_codes SET last_polled_at = $2, interval_secs = $3 \
                     WHERE id = $1",
                )
                .bind(device.id)
                .bind(&now_text)
                .bind(new_interval_secs.min(3600))
                .execute(&mut *tx)
                .await
                .map_err(map_sqlx_error)?;
                DevicePoll::SlowDown {
                    interval_secs: new_interval_secs,
                }
            }
            DevicePollDecision::Issue => {
                sqlx::query(
                    "UPDATE oauth_device_codes SET status = 'consumed', last_polled_at = $2 \
                     WHERE id = $1 AND status = 'approved'",
                )
                .bind(device.id)
                .bind(&now_text)
                .execute(&mut *tx)
                .await
                .map_err(map_sqlx_error)?;
                DevicePoll::Approved(device)
            }
            DevicePollDecision::Denied => DevicePoll::Denied,
            DevicePollDecision::Expired => DevicePoll::Expired,
            DevicePollDecision::Spent => DevicePoll::Invalid,
        };
        tx.commit().await.map_err(map_sqlx_error)?;
        Ok(outcome)
    }

    async fn pending_outbox_events(&self, limit: i64) -> RepoResult<Vec<OutboxEvent>> {
        let rows: Vec<(Uuid, String, String, String, String)> = sqlx::query_as(
            "SELECT id, app_id, event, payload, created_at FROM webhook_outbox \
             WHERE delivered_at IS NULL ORDER BY created_at, id LIMIT $1",
        )
        .bind(limit)
        .fetch_all(&self.reader)
        .await
        .map_err(map_sqlx_error)?;
        rows.into_iter()
            .map(|(id, app_id, event, payload, created)| {
                Ok(OutboxEvent {
                    id,
                    app_id,
                    event,
                    payload: serde_json::from_str(&payload)
                        .map_err(|e| RepoError::Internal(format!("bad outbox payload: {e}")))?,
                    created_at: from_text(&created)?,
                })
            })
            .collect()
    }
}
