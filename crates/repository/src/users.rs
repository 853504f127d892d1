use crate::RepoResult;
use async_trait::async_trait;
use time::OffsetDateTime;
use tmcp_domain::user::{Role, UserStatus};
use tmcp_domain::UserId;

#[derive(Clone)]
pub struct NewUser {
    pub id: UserId,
    pub username: String,
    pub email: String,
    pub password_hash: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    /// AEAD ciphertext of the phone number (see `tmcp_domain::crypto`); never plaintext.
    pub phone_ciphertext: Option<Vec<u8>>,
    pub role: Role,
    pub created_at: OffsetDateTime,
}

#[derive(Clone, PartialEq)]
pub struct User {
    pub id: UserId,
    pub username: String,
    pub email: String,
    pub password_hash: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub phone_ciphertext: Option<Vec<u8>>,
    pub status: UserStatus,
    pub role: Role,
    pub email_verified: bool,
    pub mfa_enabled: bool,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    pub last_login_at: Option<OffsetDateTime>,
}

// The password hash stays out of `{:?}` (an Argon2 hash can be attacked offline).
impl std::fmt::Debug for NewUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewUser")
            .field("id", &self.id)
            .field("username", &self.username)
            .field("email", &self.email)
            .field("password_hash", &"<redacted>")
            .field("role", &self.role)
            .field("created_at", &self.created_at)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User")
            .field("id", &self.id)
            .field("username", &self.username)
            .field("email", &self.email)
            .field("password_hash", &"<redacted>")
            .field("status", &self.status)
            .field("role", &self.role)
            .field("mfa_enabled", &self.mfa_enabled)
            .field("created_at", &self.created_at)
            .finish_non_exhaustive()
    }
}

/// A row of the `user_summary` view.
#[derive(Debug, Clone, PartialEq)]
pub struct UserSummary {
    pub id: UserId,
    pub username: String,
    pub status: UserStatus,
    pub installed_apps_count: i64,
    pub payment_count: i64,
    pub total_spent: i64,
}

#[async_trait]
pub trait UserRepository: Send + Sync {
    /// Fails with `Conflict` naming `users_username_key` / `users_email_key` on duplicates.
    async fn create_user(&self, user: NewUser) -> RepoResult<User>;
    async fn find_user(&self, id: UserId) -> RepoResult<Option<User>>;
    /// Looks a user up by username or email (exact match).
    async fn find_user_by_login(&self, login: &str) -> RepoResult<Option<User>>;
    async fn user_summary(&self, id: UserId) -> RepoResult<Option<UserSummary>>;
}
