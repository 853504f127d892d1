use crate::{map_sqlx_error, PgDatabase, PgTx};
use async_trait::async_trait;
use sqlx::PgConnection;
use time::OffsetDateTime;
use tmcp_domain::{SessionId, UserId};
use tmcp_repository::{
    NewSession, RefreshOutcome, RefreshRotation, RepoError, RepoResult, RevokeReason, Session,
    SessionRepository,
};
use uuid::Uuid;

const SESSION_COLUMNS: &str = "id, user_id, device_id, device_name, user_agent, \
    host(ip_address) AS ip_address, expires_at, refresh_expires_at, created_at, \
    last_accessed_at, revoked_at, revoke_reason";

#[derive(sqlx::FromRow)]
struct SessionRow {
    id: Uuid,
    user_id: Uuid,
    device_id: Option<String>,
    device_name: Option<String>,
    user_agent: Option<String>,
    ip_address: Option<String>,
    expires_at: OffsetDateTime,
    refresh_expires_at: Option<OffsetDateTime>,
    created_at: OffsetDateTime,
    last_accessed_at: OffsetDateTime,
    revoked_at: Option<OffsetDateTime>,
    revoke_reason: Option<String>,
}

impl TryFrom<SessionRow> for Session {
    type Error = RepoError;
    fn try_from(row: SessionRow) -> Result<Self, RepoError> {
        let revoke_reason =
            match row.revoke_reason {
                None => None,
                Some(reason) => Some(RevokeReason::from_db(&reason).ok_or_else(|| {
                    RepoError::Internal(format!("unknown revoke reason {reason}"))
                })?),
            };
        Ok(Session {
            id: SessionId(row.id),
            user_id: UserId(row.user_id),
            device_id: row.device_id,
            device_name: row.device_name,
            user_agent: row.user_agent,
            ip_address: row.ip_address,
            expires_at: row.expires_at,
            refresh_expires_at: row.refresh_expires_at,
            created_at: row.created_at,
            last_accessed_at: row.last_accessed_at,
            revoked_at: row.revoked_at,
            revoke_reason,
        })
    }
}

async fn commit(tx: PgTx) -> RepoResult<()> {
    tx.commit().await.map_err(map_sqlx_error)
}

/// Revokes every live session of `user` inside the caller's transaction.
pub(crate) async fn revoke_all_in(
    conn: &mut PgConnection,
    user: UserId,
    now: OffsetDateTime,
    reason: RevokeReason,
) -> RepoResult<u64> {
    let done = sqlx::query(
        "UPDATE user_sessions SET revoked_at = $2, revoke_reason = $3 \
         WHERE user_id = $1 AND revoked_at IS NULL",
    )
    .bind(user.0)
    .bind(now)
    .bind(reason.as_db())
    .execute(conn)
    .await
    .map_err(map_sqlx_error)?;
    Ok(done.rows_affected())
}

#[async_trait]
impl SessionRepository for PgDatabase {
    async fn create_session(&self, session: NewSession) -> RepoResult<Session> {
        let mut tx = self.scoped(session.user_id).await?;
        let sql = format!(
            "INSERT INTO user_sessions (id, user_id, session_token, refresh_token, device_id, \
               device_name, user_agent, ip_address, expires_at, refresh_expires_at, created_at, \
               last_accessed_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8::inet, $9, $10, $11, $11) \
             RETURNING {SESSION_COLUMNS}"
        );
        let row: SessionRow = sqlx::query_as(&sql)
            .bind(session.id.0)
            .bind(session.user_id.0)
            .bind(&session.session_token_hash)
            .bind(&session.refresh_token_hash)
            .bind(&session.device_id)
            .bind(&session.device_name)
            .bind(&session.user_agent)
            .bind(&session.ip_address)
            .bind(session.expires_at)
            .bind(session.refresh_expires_at)
            .bind(session.created_at)
            .fetch_one(&mut *tx)
            .await
            .map_err(map_sqlx_error)?;
        sqlx::query("UPDATE users SET last_login_at = $2 WHERE id = $1")
            .bind(session.user_id.0)
            .bind(session.created_at)
            .execute(&mut *tx)
            .await
            .map_err(map_sqlx_error)?;
        commit(tx).await?;
        row.try_into()
    }

    async fn find_live_session_by_token_hash(
        &self,
        token_hash: &str,
        now: OffsetDateTime,
    ) -> RepoResult<Option<Session>> {
        // No user is known yet, so the lookup runs as the system role (RLS would hide it).
        let sql = format!(
            "SELECT {SESSION_COLUMNS} FROM user_sessions \
             WHERE session_token = $1 AND revoked_at IS NULL AND expires_at > $2"
        );
        let row: Option<SessionRow> = sqlx::query_as(&sql)
            .bind(token_hash)
            .bind(now)
            .fetch_optional(self.system())
            .await
            .map_err(map_sqlx_error)?;
        row.map(Session::try_from).transpose()
    }

    async fn find_session(&self, id: SessionId) -> RepoResult<Option<Session>> {
        let sql = format!("SELECT {SESSION_COLUMNS} FROM user_sessions WHERE id = $1");
        let row: Option<SessionRow> = sqlx::query_as(&sql)
            .bind(id.0)
            .fetch_optional(self.system())
            .await
            .map_err(map_sqlx_error)?;
        row.map(Session::try_from).transpose()
    }

    async fn touch_session(
        &self,
        user: UserId,
        id: SessionId,
        now: OffsetDateTime,
    ) -> RepoResult<()> {
        let mut tx = self.scoped(user).await?;
        sqlx::query(
            "UPDATE user_sessions SET last_accessed_at = $3 \
             WHERE id = $1 AND user_id = $2 AND last_accessed_at < $3",
        )
        .bind(id.0)
        .bind(user.0)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(map_sqlx_error)?;
        commit(tx).await
    }

    async fn rotate_refresh_token(&self, rotation: RefreshRotation) -> RepoResult<RefreshOutcome> {
        let mut tx = self.system_tx().await?;
        // The row lock taken by this UPDATE serialises concurrent presentations of one token:
        // the loser re-evaluates the WHERE clause against the rotated row and matches nothing.
        let sql = format!(
            "UPDATE user_sessions SET session_token = $2, refresh_token = $3, expires_at = $4, \
               refresh_expires_at = $5, last_accessed_at = $6 \
             WHERE refresh_token = $1 AND revoked_at IS NULL AND refresh_expires_at > $6 \
             RETURNING {SESSION_COLUMNS}"
        );
        let rotated: Option<SessionRow> = sqlx::query_as(&sql)
            .bind(&rotation.presented_hash)
            .bind(&rotation.new_session_token_hash)
            .bind(&rotation.new_refresh_token_hash)
            .bind(rotation.expires_at)
            .bind(rotation.refresh_expires_at)
            .bind(rotation.now)
            .fetch_optional(&mut *tx)
            .await
            .map_err(map_sqlx_error)?;
        if let Some(row) = rotated {
            sqlx::query(
                "INSERT INTO user_session_refresh_history (token_hash, session_id, user_id, \
                   rotated_at) VALUES ($1, $2, $3, $4)",
            )
            .bind(&rotation.presented_hash)
            .bind(row.id)
            .bind(row.user_id)
            .bind(rotation.now)
            .execute(&mut *tx)
            .await
            .map_err(map_sqlx_error)?;
            commit(tx).await?;
            return Ok(RefreshOutcome::Rotated(row.try_into()?));
        }
        let current: Option<(Uuid,)> =
            sqlx::query_as("SELECT id FROM user_sessions WHERE refresh_token = $1")
                .bind(&rotation.presented_hash)
                .fetch_optional(&mut *tx)
                .await
                .map_err(map_sqlx_error)?;
        if current.is_some() {
            return Ok(RefreshOutcome::Dead);
        }
        let rotated_before: Option<(Uuid, Uuid)> = sqlx::query_as(
            "SELECT session_id, user_id FROM user_session_refresh_history WHERE token_hash = $1",
        )
        .bind(&rotation.presented_hash)
        .fetch_optional(&mut *tx)
        .await
        .map_err(map_sqlx_error)?;
        let Some((session_id, user_id)) = rotated_before else {
            return Ok(RefreshOutcome::Unknown);
        };
        sqlx::query(
            "UPDATE user_sessions SET revoked_at = $2, revoke_reason = $3 \
             WHERE id = $1 AND revoked_at IS NULL",
        )
        .bind(session_id)
        .bind(rotation.now)
        .bind(RevokeReason::RefreshReuse.as_db())
        .execute(&mut *tx)
        .await
        .map_err(map_sqlx_error)?;
        commit(tx).await?;
        Ok(RefreshOutcome::Reused {
            session_id: SessionId(session_id),
            user_id: UserId(user_id),
        })
    }

    async fn list_live_sessions(
        &self,
        user: UserId,
        now: OffsetDateTime,
    ) -> RepoResult<Vec<Session>> {
        let mut tx = self.scoped(user).await?;
        let sql = format!(
            "SELECT {SESSION_COLUMNS} FROM user_sessions \
             WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > $2 \
             ORDER BY created_at DESC, id DESC"
        );
        let rows: Vec<SessionRow> = sqlx::query_as(&sql)
            .bind(user.0)
            .bind(now)
            .fetch_all(&mut *tx)
            .await
            .map_err(map_sqlx_error)?;
        commit(tx).await?;
        rows.into_iter().map(Session::try_from).collect()
    }

    async fn revoke_session(
        &self,
        user: UserId,
        id: SessionId,
        now: OffsetDateTime,
        reason: RevokeReason,
    ) -> RepoResult<bool> {
        let mut tx = self.scoped(user).await?;
        let done = sqlx::query(
            "UPDATE user_sessions SET revoked_at = $3, revoke_reason = $4 \
             WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL",
        )
        .bind(id.0)
        .bind(user.0)
        .bind(now)
        .bind(reason.as_db())
        .execute(&mut *tx)
        .await
        .map_err(map_sqlx_error)?;
        commit(tx).await?;
        Ok(done.rows_affected() == 1)
    }

    async fn revoke_all_sessions(
        &self,
        user: UserId,
        now: OffsetDateTime,
        reason: RevokeReason,
    ) -> RepoResult<u64> {
        let mut tx = self.scoped(user).await?;
        let count = revoke_all_in(&mut tx, user, now, reason).await?;
        commit(tx).await?;
        Ok(count)
    }
}
