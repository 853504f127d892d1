use crate::time_text::{from_text, to_text};
use crate::{map_sqlx_error, SqliteDatabase};
use async_trait::async_trait;
use sqlx::SqliteConnection;
use time::OffsetDateTime;
use tmcp_domain::UserId;
use tmcp_repository::{
    MfaMethod, MfaMethodType, MfaRepository, NewMfaMethod, RepoError, RepoResult,
};
use uuid::Uuid;

const MFA_COLUMNS: &str = "id, user_id, method_type, method_data, device_id, is_primary, \
    is_active, last_used_step, created_at, updated_at";

#[derive(sqlx::FromRow)]
struct MfaRow {
    id: Uuid,
    user_id: Uuid,
    method_type: String,
    method_data: String,
    device_id: Option<String>,
    is_primary: bool,
    is_active: bool,
    last_used_step: Option<i64>,
    created_at: String,
    updated_at: String,
}

impl TryFrom<MfaRow> for MfaMethod {
    type Error = RepoError;
    fn try_from(row: MfaRow) -> Result<Self, RepoError> {
        Ok(MfaMethod {
            id: row.id,
            user_id: UserId(row.user_id),
            method_type: MfaMethodType::from_db(&row.method_type).ok_or_else(|| {
                RepoError::Internal(format!("unknown MFA method type {}", row.method_type))
            })?,
            method_data: serde_json::from_str(&row.method_data)
                .map_err(|e| RepoError::Internal(format!("bad stored method_data: {e}")))?,
            device_id: row.device_id,
            is_primary: row.is_primary,
            is_active: row.is_active,
            last_used_step: row.last_used_step,
            created_at: from_text(&row.created_at)?,
            updated_at: from_text(&row.updated_at)?,
        })
    }
}

/// `users.mfa_enabled` follows whether the user has an active method.
pub(crate) async fn recompute_mfa_enabled(
    conn: &mut SqliteConnection,
    user: UserId,
) -> RepoResult<()> {
    sqlx::query(
        "UPDATE users SET mfa_enabled = EXISTS \
           (SELECT 1 FROM mfa_methods WHERE user_id = $1 AND is_active = 1) \
         WHERE id = $1",
    )
    .bind(user.0)
    .execute(conn)
    .await
    .map_err(map_sqlx_error)?;
    Ok(())
}

#[async_trait]
impl MfaRepository for SqliteDatabase {
    async fn create_mfa_method(&self, method: NewMfaMethod) -> RepoResult<MfaMethod> {
        let mut tx = self.writer.begin().await.map_err(map_sqlx_error)?;
        let sql = format!(
            "INSERT INTO mfa_methods (id, user_id, method_type, method_data, device_id, \
               is_active, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7) \
             RETURNING {MFA_COLUMNS}"
        );
        let row: MfaRow = sqlx::query_as(&sql)
            .bind(method.id)
            .bind(method.user_id.0)
            .bind(method.method_type.as_db())
            .bind(method.method_data.to_string())
            .bind(&method.device_id)
            .bind(method.is_active)
            .bind(to_text(method.created_at))
            .fetch_one(&mut *tx)
            .await
            .map_err(map_sqlx_error)?;
        if method.is_active {
            recompute_mfa_enabled(&mut tx, method.user_id).await?;
        }
        tx.commit().await.map_err(map_sqlx_error)?;
        row.try_into()
    }

    async fn list_mfa_methods(&self, user: UserId) -> RepoResult<Vec<MfaMethod>> {
        let sql = format!(
            "SELECT {MFA_COLUMNS} FROM mfa_methods WHERE user_id = $1 ORDER BY created_at, id"
        );
        let rows: Vec<MfaRow> = sqlx::query_as(&sql)
            .bind(user.0)
            .fetch_all(&self.reader)
            .await
            .map_err(map_sqlx_error)?;
        rows.into_iter().map(MfaMethod::try_from).collect()
    }

    async fn find_mfa_method(&self, user: UserId, id: Uuid) -> RepoResult<Option<MfaMethod>> {
        let sql = format!("SELECT {MFA_COLUMNS} FROM mfa_methods WHERE user_id = $1 AND id = $2");
        let row: Option<MfaRow> = sqlx::query_as(&sql)
            .bind(user.0)
            .bind(id)
            .fetch_optional(&self.reader)
            .await
            .map_err(map_sqlx_error)?;
        row.map(MfaMethod::try_from).transpose()
    }

    async fn activate_mfa_method(
        &self,
        user: UserId,
        id: Uuid,
        now: OffsetDateTime,
    ) -> RepoResult<bool> {
        let mut tx = self.writer.begin().await.map_err(map_sqlx_error)?;
        let done = sqlx::query(
            "UPDATE mfa_methods SET is_active = 1, updated_at = $3 \
             WHERE user_id = $1 AND id = $2 AND is_active = 0",
        )
        .bind(user.0)
        .bind(id)
        .bind(to_text(now))
        .execute(&mut *tx)
        .await
        .map_err(map_sqlx_error)?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        recompute_mfa_enabled(&mut tx, user).await?;
        tx.commit().await.map_err(map_sqlx_error)?;
        Ok(true)
    }

    async fn delete_mfa_method(&self, user: UserId, id: Uuid) -> RepoResult<bool> {
        let mut tx = self.writer.begin().await.map_err(map_sqlx_error)?;
        let done = sqlx::query("DELETE FROM mfa_methods WHERE user_id = $1 AND id = $2")
            .bind(user.0)
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(map_sqlx_error)?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        recompute_mfa_enabled(&mut tx, user).await?;
        tx.commit().await.map_err(map_sqlx_error)?;
        Ok(true)
    }

    async fn delete_inactive_mfa_methods(
        &self,
        user: UserId,
        method_type: MfaMethodType,
    ) -> RepoResult<u64> {
        let done = sqlx::query(
            "DELETE FROM mfa_methods WHERE user_id = $1 AND method_type = $2 AND is_active = 0",
        )
        .bind(user.0)
        .bind(method_type.as_db())
        .execute(&self.writer)
        .await
        .map_err(map_sqlx_error)?;
        Ok(done.rows_affected())
    }

    async fn record_mfa_use(
        &self,
        user: UserId,
        id: Uuid,
        step: i64,
        now: OffsetDateTime,
    ) -> RepoResult<bool> {
        let done = sqlx::query(
            "UPDATE mfa_methods SET last_used_step = $3, updated_at = $4 \
             WHERE user_id = $1 AND id = $2 AND (last_used_step IS NULL OR last_used_step < $3)",
        )
        .bind(user.0)
        .bind(id)
        .bind(step)
        .bind(to_text(now))
        .execute(&self.writer)
        .await
        .map_err(map_sqlx_error)?;
        Ok(done.rows_affected() == 1)
    }
}
