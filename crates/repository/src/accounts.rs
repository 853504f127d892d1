use crate::{RepoResult, User};
use async_trait::async_trait;
use time::{Date, OffsetDateTime};
use tmcp_domain::user::UserStatus;
use tmcp_domain::UserId;

/// `user_profiles` row (defaults when the user has none yet).
#[derive(Debug, Clone, PartialEq)]
pub struct Profile {
    pub display_name: Option<String>,
    pub bio: Option<String>,
    pub location: Option<String>,
    pub website: Option<String>,
    pub birth_date: Option<Date>,
    pub language: String,
    pub timezone: String,
    pub public_profile: bool,
    pub metadata: serde_json::Value,
}

impl Default for Profile {
    fn default() -> Self {
        Self {
            display_name: None,
            bio: None,
            location: None,
            website: None,
            birth_date: None,
            language: "en".into(),
            timezone: "UTC".into(),
            public_profile: false,
            metadata: serde_json::json!({}),
        }
    }
}

/// A user with the account fields `User` leaves out and the profile.
#[derive(Debug, Clone, PartialEq)]
pub struct AccountDetails {
    pub user: User,
    pub avatar_url: Option<String>,
    pub phone_verified: bool,
    pub preferences: serde_json::Value,
    pub profile: Profile,
}

/// A partial update: `None` leaves a field alone; `Some(None)` clears a nullable field.
#[derive(Debug, Clone, Default)]
pub struct AccountUpdate {
    pub first_name: Option<Option<String>>,
    pub last_name: Option<Option<String>>,
    /// AEAD ciphertext of the new phone number (bound to `users.phone:<user id>`).
    pub phone_ciphertext: Option<Option<Vec<u8>>>,
    pub avatar_url: Option<Option<String>>,
    pub preferences: Option<serde_json::Value>,
    pub display_name: Option<Option<String>>,
    pub bio: Option<Option<String>>,
    pub location: Option<Option<String>>,
    pub website: Option<Option<String>>,
    pub birth_date: Option<Option<Date>>,
    pub language: Option<String>,
    pub timezone: Option<String>,
    pub public_profile: Option<bool>,
    pub metadata: Option<serde_json::Value>,
}

impl AccountUpdate {
    /// Applies the update to `details` (pure; the backends call it inside their transaction).
    pub fn apply(&self, details: &mut AccountDetails) {
        fn set<T: Clone>(target: &mut T, value: &Option<T>) {
            if let Some(v) = value {
                *target = v.clone();
            }
        }
        set(&mut details.user.first_name, &self.first_name);
        set(&mut details.user.last_name, &self.last_name);
        set(&mut details.user.phone_ciphertext, &self.phone_ciphertext);
        set(&mut details.avatar_url, &self.avatar_url);
        set(&mut details.preferences, &self.preferences);
        let profile = &mut details.profile;
        set(&mut profile.display_name, &self.display_name);
        set(&mut profile.bio, &self.bio);
        set(&mut profile.location, &self.location);
        set(&mut profile.website, &self.website);
        set(&mut profile.birth_date, &self.birth_date);
        set(&mut profile.language, &self.language);
        set(&mut profile.timezone, &self.timezone);
        set(&mut profile.public_profile, &self.public_profile);
        set(&mut profile.metadata, &self.metadata);
    }
}

/// What replaces the personal fields of a deleted account. The username and email must stay
/// unique and valid, so they become placeholders derived from the user id.
#[derive(Debug, Clone)]
pub struct AccountTombstone {
    pub username: String,
    pub email: String,
    /// A value no password verifies against.
    pub password_hash: String,
}

impl AccountTombstone {
    pub fn for_user(id: UserId) -> Self {
        let simple = id.0.simple();
        Self {
            username: format!("deleted_{simple}"),
            email: format!("deleted-{simple}@deleted.invalid"),
            password_hash: "!deleted".into(),
        }
    }
}

/// Account self-service: profile reads and updates, status changes and deletion.
#[async_trait]
pub trait AccountRepository: Send + Sync {
    async fn account_details(&self, user: UserId) -> RepoResult<Option<AccountDetails>>;
    /// Applies `update` (users row and profile row) and returns the result; `None` when the
    /// user does not exist.
    async fn update_account(
        &self,
        user: UserId,
        update: AccountUpdate,
        now: OffsetDateTime,
    ) -> RepoResult<Option<AccountDetails>>;
    /// `false` when the user does not exist.
    async fn set_user_status(
        &self,
        user: UserId,
        status: UserStatus,
        now: OffsetDateTime,
    ) -> RepoResult<bool>;
    /// Soft-deletes the account in one transaction: status `deleted`, personal fields erased
    /// (names, phone, avatar, preferences, profile; username/email/password replaced by the
    /// tombstone), MFA methods and devices removed, every session revoked, OAuth grants and
    /// tokens revoked. Payments and ledger rows are kept. `false` when the user does not exist.
    async fn delete_account(
        &self,
        user: UserId,
        tombstone: AccountTombstone,
        now: OffsetDateTime,
    ) -> RepoResult<bool>;
}
