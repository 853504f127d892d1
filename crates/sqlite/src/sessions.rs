use crate::time_text::{from_opt_text, from_text, to_text};
use crate::{map_sqlx_error, SqliteDatabase};
use async_trait::async_trait;
use sqlx::SqliteConnection;
use time::OffsetDateTime;
use tmcp_domain::{SessionId, UserId};
use tmcp_repository::{
    NewSession, RefreshOutcome, RefreshRotation, RepoError, RepoResult, RevokeReason, Session,
    SessionRepository,
};
use uuid::Uuid;

const SESSION_COLUMNS: &str = "id, user_id, device_id, device_name, user_agent, ip_address, \
    expires_at, refresh_expires_at, created_at, last_accessed_at, revoked_at, revoke_reason";

#[derive(sqlx::FromRow)]
struct SessionRow {
    id: Uuid,
    user_id: Uuid,
    device_id: Option<String>,
    device_name: Option<String>,
    user_agent: Option<String>,
    ip_address: Option<String>,
    expires_at: String,
    refresh_expires_at: Option<String>,
    created_at: String,
    last_accessed_at: String,
    revoked_at: Option<String>,
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
            expires_at: from_text(&row.expires_at)?,
            refresh_expires_at: from_opt_text(row.refresh_expires_at)?,
            created_at: from_text(&row.created_at)?,
            last_accessed_at: from_text(&row.last_accessed_at)?,
            revoked_at: from_opt_text(row.revoked_at)?,
            revoke_reason,
        })
    }
}

/// Revokes every live session of `user` inside the caller's transaction.
pub(crate) async fn revoke_all_in(
    conn: &mut SqliteConnection,
    user: UserId,
    now: OffsetDateTime,
    reason: RevokeReason,
) -> RepoResult<u64> {
    let done = sqlx::query(
        "UPDATE user_sessions SET revoked_at = $2, revoke_reason = $3 \
         WHERE user_id = $1 AND revoked_at IS NULL",
    )
    .bind(user.0)
    .bind(to_text(now))
    .bind(reason.as_db())
    .execute(conn)
    .await
    .map_err(map_sqlx_error)?;
    Ok(done.rows_affected())
}

#[async_trait]
impl SessionRepository for SqliteDatabase {
    async fn create_session(&self, session: NewSession) -> RepoResult<Session> {
        let mut tx = self.writer.begin().await.map_err(map_sqlx_error)?;
        let sql = format!(
            "INSERT INTO user_sessions (id, user_id, session_token, refresh_token, device_id, \
               device_name, user_agent, ip_address, expires_at, refresh_expires_at, created_at, \
               last_accessed_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11) \
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
            .bind(to_text(session.expires_at))
            .bind(to_text(session.refresh_expires_at))
            .bind(to_text(session.created_at))
            .fetch_one(&mut *tx)
            .await
            .map_err(map_sqlx_error)?;
        sqlx::query("UPDATE users SET last_login_at = $2 WHERE id = $1")
            .bind(session.user_id.0)
            .bind(to_text(session.created_at))
            .execute(&mut *tx)
            .await
            .map_err(map_sqlx_error)?;
        tx.commit().await.map_err(map_sqlx_error)?;
        row.try_into()
    }

    async fn find_live_session_by_token_hash(
        &self,
        token_hash: &str,
        now: OffsetDateTime,
    ) -> RepoResult<Option<Session>> {
        let sql = format!(
            "SELECT {SESSION_COLUMNS} FROM user_sessions \
             WHERE session_token = $1 AND revoked_at IS NULL AND expires_at > $2"
        );
        let row: Option<SessionRow> = sqlx::query_as(&sql)
            .bind(token_hash)
            .bind(to_text(now))
            .fetch_optional(&self.reader)
            .await
            .map_err(map_sqlx_error)?;
        row.map(Session::try_from).transpose()
    }

    async fn find_session(&self, id: SessionId) -> RepoResult<Option<Session>> {
        let sql = format!("SELECT {SESSION_COLUMNS} FROM user_sessions WHERE id = $1");
        let row: Option<SessionRow> = sqlx::query_as(&sql)
            .bind(id.0)
            .fetch_optional(&self.reader)
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
        sqlx::query(
            "UPDATE user_sessions SET last_accessed_at = $3 \
             WHERE id = $1 AND user_id = $2 AND last_accessed_at < $3",
        )
        .bind(id.0)
        .bind(user.0)
        .bind(to_text(now))
        .execute(&self.writer)
        .await
        .map_err(map_sqlx_error)?;
        Ok(())
    }

    async fn rotate_refresh_token(&self, rotation: RefreshRotation) -> RepoResult<RefreshOutcome> {
        // One writer connection: the whole rotation is serialised with every other write.
        let mut tx = self.writer.begin().await.map_err(map_sqlx_error)?;
        let now = to_text(rotation.now);
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
            .bind(to_text(rotation.expires_at))
            .bind(to_text(rotation.refresh_expires_at))
            .bind(&now)
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
            .bind(&now)
            .execute(&mut *tx)
            .await
            .map_err(map_sqlx_error)?;
            tx.commit().await.map_err(map_sqlx_error)?;
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
        .bind(&now)
        .bind(RevokeReason::RefreshReuse.as_db())
        .execute(&mut *tx)
        .await
        .map_err(map_sqlx_error)?;
        tx.commit().await.map_err(map_sqlx_error)?;
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
        let sql = format!(
            "SELECT {SESSION_COLUMNS} FROM user_sessions \
             WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > $2 \
             ORDER BY created_at DESC, id DESC"
        );
        let rows: Vec<SessionRow> = sqlx::query_as(&sql)
            .bind(user.0)
            .bind(to_text(now))
            .fetch_all(&self.reader)
            .await
            .map_err(map_sqlx_error)?;
        rows.into_iter().map(Session::try_from).collect()
    }

    async fn revoke_session(
        &self,
        user: UserId,
        id: SessionId,
        now: OffsetDateTime,
        reason: RevokeReason,
    ) -> RepoResult<bool> {
        let done = sqlx::query(
            "UPDATE user_sessions SET revoked_at = $3, revoke_reason = $4 \
             WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL",
        )
        .bind(id.0)
        .bind(user.0)
        .bind(to_text(now))
        .bind(reason.as_db())
        .execute(&self.writer)
        .await
        .map_err(map_sqlx_error)?;
        Ok(done.rows_affected() == 1)
    }

    async fn revoke_all_sessions(
        &self,
        user: UserId,
        now: OffsetDateTime,
        reason: RevokeReason,
    ) -> RepoResult<u64> {
        let mut conn = self.writer.acquire().await.map_err(map_sqlx_error)?;
        revoke_all_in(&mut conn, user, now, reason).await
    }
}
