use crate::{map_sqlx_error, PgDatabase};
use async_trait::async_trait;
use time::OffsetDateTime;
use tmcp_domain::user::{Role, UserStatus};
use tmcp_domain::UserId;
use tmcp_repository::{NewUser, RepoError, RepoResult, User, UserRepository, UserSummary};
use uuid::Uuid;

pub(crate) const USER_COLUMNS: &str =
    "id, username, email, password_hash, first_name, last_name, phone, \
    status, role, email_verified, mfa_enabled, created_at, updated_at, last_login_at";

#[derive(sqlx::FromRow)]
pub(crate) struct UserRow {
    id: Uuid,
    username: String,
    email: String,
    password_hash: String,
    first_name: Option<String>,
    last_name: Option<String>,
    phone: Option<Vec<u8>>,
    status: String,
    role: String,
    email_verified: bool,
    mfa_enabled: bool,
    created_at: OffsetDateTime,
    updated_at: OffsetDateTime,
    last_login_at: Option<OffsetDateTime>,
}

impl TryFrom<UserRow> for User {
    type Error = RepoError;
    fn try_from(row: UserRow) -> Result<Self, RepoError> {
        Ok(User {
            id: UserId(row.id),
            username: row.username,
            email: row.email,
            password_hash: row.password_hash,
            first_name: row.first_name,
            last_name: row.last_name,
            phone_ciphertext: row.phone,
            status: UserStatus::from_db(&row.status).ok_or_else(|| {
                RepoError::Internal(format!("unknown user status {}", row.status))
            })?,
            role: Role::from_db(&row.role)
                .ok_or_else(|| RepoError::Internal(format!("unknown role {}", row.role)))?,
            email_verified: row.email_verified,
            mfa_enabled: row.mfa_enabled,
            created_at: row.created_at,
            updated_at: row.updated_at,
            last_login_at: row.last_login_at,
        })
    }
}

#[async_trait]
impl UserRepository for PgDatabase {
    async fn create_user(&self, user: NewUser) -> RepoResult<User> {
        let sql = format!(
            "INSERT INTO users (id, username, email, password_hash, first_name, last_name, phone, \
             role, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9) \
             RETURNING {USER_COLUMNS}"
        );
        let row: UserRow = sqlx::query_as(&sql)
            .bind(user.id.0)
            .bind(&user.username)
            .bind(&user.email)
            .bind(&user.password_hash)
            .bind(&user.first_name)
            .bind(&user.last_name)
            .bind(&user.phone_ciphertext)
            .bind(user.role.as_db())
            .bind(user.created_at)
            .fetch_one(self.app())
            .await
            .map_err(map_sqlx_error)?;
        row.try_into()
    }

    async fn find_user(&self, id: UserId) -> RepoResult<Option<User>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1");
        let row: Option<UserRow> = sqlx::query_as(&sql)
            .bind(id.0)
            .fetch_optional(self.app())
            .await
            .map_err(map_sqlx_error)?;
        row.map(User::try_from).transpose()
    }

    async fn find_user_by_login(&self, login: &str) -> RepoResult<Option<User>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE username = $1 OR email = $1");
        let row: Option<UserRow> = sqlx::query_as(&sql)
            .bind(login)
            .fetch_optional(self.app())
            .await
            .map_err(map_sqlx_error)?;
        row.map(User::try_from).transpose()
    }

    async fn user_summary(&self, id: UserId) -> RepoResult<Option<UserSummary>> {
        // The view aggregates payments of one user; it is an admin report, so it is read on
        // the system pool rather than through a user's RLS scope.
        let row: Option<(Uuid, String, String, i64, i64, i64)> = sqlx::query_as(
            "SELECT id, username, status, installed_apps_count, payment_count, total_spent \
             FROM user_summary WHERE id = $1",
        )
        .bind(id.0)
        .fetch_optional(self.system())
        .await
        .map_err(map_sqlx_error)?;
        row.map(|(id, username, status, installed, payments, spent)| {
            Ok(UserSummary {
                id: UserId(id),
                username,
                status: UserStatus::from_db(&status)
                    .ok_or_else(|| RepoError::Internal(format!("unknown user status {status}")))?,
                installed_apps_count: installed,
                payment_count: payments,
                total_spent: spent,
            })
        })
        .transpose()
    }
}
