//! OAuth grants on PostgreSQL. The token endpoint has no user context yet, so everything
//! runs on the system pool; transitions lock their row (`FOR UPDATE`) so racing
//! redemptions of one code, refresh token or device code are serialised and only one wins.

use crate::withdrawal::PgWithdrawal;
use crate::{map_sqlx_error, PgDatabase, PgTx};
use async_trait::async_trait;
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

type CodeRow = (
    Uuid,
    String,
    Uuid,
    String,
    Vec<String>,
    Option<String>,
    OffsetDateTime,
    OffsetDateTime,
    Option<OffsetDateTime>,
);

fn code_from_row(row: CodeRow) -> (AuthorizationCode, Option<OffsetDateTime>) {
    let (grant_id, client_id, user, redirect_uri, scopes, challenge, expires_at, created_at, used) =
        row;
    (
        AuthorizationCode {
            grant_id,
            client_id,
            user_id: UserId(user),
            redirect_uri,
            scopes,
            code_challenge: challenge,
            expires_at,
            created_at,
        },
        used,
    )
}

type RefreshRow = (
    Uuid,
    String,
    Option<Uuid>,
    Vec<String>,
    OffsetDateTime,
    OffsetDateTime,
    Option<OffsetDateTime>,
    Option<OffsetDateTime>,
    Option<Uuid>,
);

const REFRESH_COLUMNS: &str = "id, client_id, user_id, scopes, expires_at, created_at, \
     rotated_at, revoked_at, grant_id";

fn refresh_from_row(row: RefreshRow) -> RepoResult<OAuthRefreshToken> {
    let (_, client_id, user, scopes, expires_at, created_at, rotated_at, revoked_at, grant) = row;
    let user = user.ok_or_else(|| RepoError::Internal("refresh token without user".into()))?;
    let grant_id =
        grant.ok_or_else(|| RepoError::Internal("refresh token without grant".into()))?;
    Ok(OAuthRefreshToken {
        grant_id,
        client_id,
        user_id: UserId(user),
        scopes,
        expires_at,
        created_at,
        rotated_at,
        revoked_at,
    })
}

type DeviceRow = (
    Uuid,
    String,
    String,
    Vec<String>,
    String,
    Option<Uuid>,
    i32,
    OffsetDateTime,
    Option<OffsetDateTime>,
);

const DEVICE_COLUMNS: &str = "id, user_code, client_id, scopes, status, user_id, interval_secs, \
     expires_at, last_polled_at";

fn device_from_row(row: DeviceRow) -> RepoResult<(DeviceAuthorization, Option<OffsetDateTime>)> {
    let (id, user_code, client_id, scopes, status, user, interval, expires_at, polled) = row;
    let status = DeviceStatus::from_db(&status)
        .ok_or_else(|| RepoError::Internal(format!("bad device status {status:?}")))?;
    Ok((
        DeviceAuthorization {
            id,
            user_code,
            client_id,
            scopes,
            status,
            user_id: user.map(UserId),
            interval_secs: i64::from(interval),
            expires_at,
        },
        polled,
    ))
}

async fn revoke_grant_in(tx: &mut PgTx, grant_id: Uuid, at: OffsetDateTime) -> RepoResult<u64> {
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
impl OAuthGrantRepository for PgDatabase {
    async fn find_consent(&self, user: UserId, client_id: &str) -> RepoResult<Option<Consent>> {
        let row: Option<(Vec<String>, Option<OffsetDateTime>, OffsetDateTime)> = sqlx::query_as(
            "SELECT scopes, revoked_at, updated_at FROM oauth_consents \
             WHERE user_id = $1 AND client_id = $2",
        )
        .bind(user.0)
        .bind(client_id)
        .fetch_optional(self.system())
        .await
        .map_err(map_sqlx_error)?;
        Ok(row.map(|(scopes, revoked_at, updated_at)| Consent {
            scopes,
            revoked_at,
            updated_at,
        }))
    }

    async fn grant_consent(
        &self,
        user: UserId,
        client_id: &str,
        scopes: &[String],
        at: OffsetDateTime,
    ) -> RepoResult<()> {
        // The union is computed in SQL so concurrent grants never lose a scope.
        sqlx::query(
            "INSERT INTO oauth_consents (id, user_id, client_id, scopes, created_at, updated_at) \
             VALUES ($1, $2, $3, ARRAY(SELECT DISTINCT unnest($4::TEXT[]) ORDER BY 1), $5, $5) \
             ON CONFLICT (user_id, client_id) DO UPDATE SET \
               scopes = ARRAY(SELECT DISTINCT s FROM unnest(oauth_consents.scopes || EXCLUDED.scopes) AS s ORDER BY 1), \
               updated_at = EXCLUDED.updated_at",
        )
        .bind(uuid_v7_at(at))
        .bind(user.0)
        .bind(client_id)
        .bind(scopes)
        .bind(at)
        .execute(self.system())
        .await
        .map_err(map_sqlx_error)?;
        Ok(())
    }

    async fn withdraw_consent(&self, withdrawal: ConsentWithdrawal) -> RepoResult<Withdrawn> {
        let tx = self.system_tx().await?;
        let mut unit = PgWithdrawal {
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
        .bind(&code.scopes)
        .bind(&code.code_challenge)
        .bind(code.code_challenge.as_ref().map(|_| "S256"))
        .bind(code.expires_at)
        .bind(code.created_at)
        .execute(self.system())
        .await
        .map_err(map_sqlx_error)?;
        Ok(())
    }

    async fn redeem_authorization_code(
        &self,
        code_hash: &str,
        now: OffsetDateTime,
    ) -> RepoResult<CodeRedemption> {
        let mut tx = self.system_tx().await?;
        let row: Option<CodeRow> = sqlx::query_as(
            "SELECT grant_id, client_id, user_id, redirect_uri, scopes, code_challenge, \
             expires_at, created_at, used_at FROM oauth_authorization_codes \
             WHERE code_hash = $1 FOR UPDATE",
        )
        .bind(code_hash)
        .fetch_optional(&mut *tx)
        .await
        .map_err(map_sqlx_error)?;
        let Some(row) = row else {
            return Ok(CodeRedemption::Unknown);
        };
        let (code, used) = code_from_row(row);
        if used.is_some() {
            return Ok(CodeRedemption::AlreadyUsed(code));
        }
        sqlx::query("UPDATE oauth_authorization_codes SET used_at = $2 WHERE code_hash = $1")
            .bind(code_hash)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(map_sqlx_error)?;
        tx.commit().await.map_err(map_sqlx_error)?;
        Ok(CodeRedemption::Redeemed(code))
    }

    async fn revoke_grant(&self, grant_id: Uuid, at: OffsetDateTime) -> RepoResult<u64> {
        let mut tx = self.system_tx().await?;
        let revoked = revoke_grant_in(&mut tx, grant_id, at).await?;
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
        .bind(&token.scopes)
        .bind(token.expires_at)
        .bind(token.created_at)
        .bind(token.grant_id)
        .execute(self.system())
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
            .fetch_optional(self.system())
            .await
            .map_err(map_sqlx_error)?;
        row.map(refresh_from_row).transpose()
    }

    async fn rotate_oauth_refresh_token(
        &self,
        rotation: OAuthRefreshRotation,
    ) -> RepoResult<OAuthRefreshRedemption> {
        let mut tx = self.system_tx().await?;
        // A withdrawal holds the pair's consent row while it revokes the pair's tokens. Taking
        // it (shared) before the token row means this rotation either commits before the
        // withdrawal reads the tokens, so the replacement is revoked with them, or starts
        // after it and finds the presented token revoked — never a surviving replacement.
        sqlx::query(
            "SELECT 1 FROM oauth_consents c JOIN oauth_tokens t \
               ON t.user_id = c.user_id AND t.client_id = c.client_id \
             WHERE t.token_hash = $1 AND t.token_type = 'refresh' FOR SHARE OF c",
        )
        .bind(&rotation.presented_hash)
        .fetch_optional(&mut *tx)
        .await
        .map_err(map_sqlx_error)?;
        let sql = format!(
            "SELECT {REFRESH_COLUMNS} FROM oauth_tokens \
             WHERE token_hash = $1 AND token_type = 'refresh' FOR UPDATE"
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
        if old.rotated_at.is_some() {
            revoke_grant_in(&mut tx, old.grant_id, rotation.now).await?;
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
            .bind(rotation.now)
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
        .bind(&old.scopes)
        .bind(rotation.new_expires_at)
        .bind(rotation.now)
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
        let mut tx = self.system_tx().await?;
        sqlx::query("DELETE FROM oauth_device_codes WHERE user_code = $1 AND expires_at <= $2")
            .bind(&authorization.user_code)
            .bind(authorization.created_at)
            .execute(&mut *tx)
            .await
            .map_err(map_sqlx_error)?;
        let interval = i32::try_from(authorization.interval_secs).unwrap_or(5);
        sqlx::query(
            "INSERT INTO oauth_device_codes (id, device_code_hash, user_code, client_id, scopes, \
             status, interval_secs, expires_at, created_at) \
             VALUES ($1, $2, $3, $4, $5, 'pending', $6, $7, $8)",
        )
        .bind(authorization.id)
        .bind(&authorization.device_code_hash)
        .bind(&authorization.user_code)
        .bind(&authorization.client_id)
        .bind(&authorization.scopes)
        .bind(interval)
        .bind(authorization.expires_at)
        .bind(authorization.created_at)
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
            .bind(now)
            .fetch_optional(self.system())
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
        let done = sqlx::query(
            "UPDATE oauth_device_codes SET status = $2, user_id = $3, decided_at = $4 \
             WHERE user_code = $1 AND status = 'pending' AND expires_at > $4",
        )
        .bind(user_code)
        .bind(status.as_db())
        .bind(user.0)
        .bind(now)
        .execute(self.system())
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
        let mut tx = self.system_tx().await?;
        let sql = format!(
            "SELECT {DEVICE_COLUMNS} FROM oauth_device_codes \
             WHERE device_code_hash = $1 FOR UPDATE"
        );
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
        let outcome = match decide_device_poll(&state, now) {
            DevicePollDecision::Pending => {
                sqlx::query("UPDATE oauth_device_codes SET last_polled_at = $2 WHERE id = $1")
                    .bind(device.id)
                    .bind(now)
                    .execute(&mut *tx)
                    .await
                    .map_err(map_sqlx_error)?;
                DevicePoll::Pending
            }
            DevicePollDecision::SlowDown { new_interval_secs } => {
                let stored = i32::try_from(new_interval_secs.min(3600)).unwrap_or(3600);
                sqlx::query(
                    "UPDATE oauth_device_codes SET last_polled_at = $2, interval_secs = $3 \
                     WHERE id = $1",
                )
                .bind(device.id)
                .bind(now)
                .bind(stored)
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
                .bind(now)
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
        let rows: Vec<(Uuid, String, String, serde_json::Value, OffsetDateTime)> = sqlx::query_as(
            "SELECT id, app_id, event, payload, created_at FROM webhook_outbox \
             WHERE delivered_at IS NULL ORDER BY created_at, id LIMIT $1",
        )
        .bind(limit)
        .fetch_all(self.system())
        .await
        .map_err(map_sqlx_error)?;
        Ok(rows
            .into_iter()
            .map(|(id, app_id, event, payload, created_at)| OutboxEvent {
                id,
                app_id,
                event,
                payload,
                created_at,
            })
            .collect())
    }
}
