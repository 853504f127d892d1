//! Wire shapes of accounts and sessions.

use crate::error::ApiError;
use crate::state::AppState;
use serde::Serialize;
use time::{Date, OffsetDateTime};
use tmcp_domain::crypto::FieldCipher;
use tmcp_repository::{AccountDetails, Session, User};
use utoipa::ToSchema;

/// An account as its owner sees it (never the password hash).
#[derive(Debug, Serialize, ToSchema)]
pub struct UserView {
    pub id: String,
    pub username: String,
    pub email: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    /// Decrypted phone number (stored encrypted).
    pub phone: Option<String>,
    /// `active`, `suspended` or `deleted`.
    pub status: String,
    /// `user`, `developer` or `admin`.
    pub role: String,
    pub email_verified: bool,
    pub mfa_enabled: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_login_at: Option<OffsetDateTime>,
}

/// The cipher context of a user's phone number (the accounts service seals it).
pub fn phone_context(user: &User) -> String {
    tmcp_usecases::accounts::registration::phone_context(user.id)
}

impl UserView {
    pub fn from_user(state: &AppState, user: &User) -> Result<Self, ApiError> {
        Self::build(&state.cipher, user)
    }

    pub fn build(cipher: &FieldCipher, user: &User) -> Result<Self, ApiError> {
        let phone = match &user.phone_ciphertext {
            None => None,
            Some(sealed) => Some(
                cipher
                    .decrypt(sealed, &phone_context(user))
                    .ok()
                    .and_then(|bytes| String::from_utf8(bytes).ok())
                    .ok_or_else(|| {
                        ApiError::internal(format!("undecryptable phone of {}", user.id))
                    })?,
            ),
        };
        Ok(Self {
            id: user.id.to_string(),
            username: user.username.clone(),
            email: user.email.clone(),
            first_name: user.first_name.clone(),
            last_name: user.last_name.clone(),
            phone,
            status: user.status.as_db().into(),
            role: user.role.as_db().into(),
            email_verified: user.email_verified,
            mfa_enabled: user.mfa_enabled,
            created_at: user.created_at,
            last_login_at: user.last_login_at,
        })
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProfileView {
    pub display_name: Option<String>,
    pub bio: Option<String>,
    pub location: Option<String>,
    pub website: Option<String>,
    /// `YYYY-MM-DD`.
    #[schema(value_type = Option<String>, format = Date)]
    pub birth_date: Option<String>,
    pub language: String,
    pub timezone: String,
    pub public_profile: bool,
    #[schema(value_type = Object)]
    pub metadata: serde_json::Value,
}

/// `GET /api/v1/users/me`: the account, its extra fields and the profile.
#[derive(Debug, Serialize, ToSchema)]
pub struct MeView {
    #[serde(flatten)]
    pub user: UserView,
    pub avatar_url: Option<String>,
    pub phone_verified: bool,
    #[schema(value_type = Object)]
    pub preferences: serde_json::Value,
    pub profile: ProfileView,
}

fn format_date(date: Date) -> String {
    format!(
        "{:04}-{:02}-{:02}",
        date.year(),
        u8::from(date.month()),
        date.day()
    )
}

impl MeView {
    pub fn build(cipher: &FieldCipher, details: &AccountDetails) -> Result<Self, ApiError> {
        let p = &details.profile;
        Ok(Self {
            user: UserView::build(cipher, &details.user)?,
            avatar_url: details.avatar_url.clone(),
            phone_verified: details.phone_verified,
            preferences: details.preferences.clone(),
            profile: ProfileView {
                display_name: p.display_name.clone(),
                bio: p.bio.clone(),
                location: p.location.clone(),
                website: p.website.clone(),
                birth_date: p.birth_date.map(format_date),
                language: p.language.clone(),
                timezone: p.timezone.clone(),
                public_profile: p.public_profile,
                metadata: p.metadata.clone(),
            },
        })
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SessionView {
    pub session_id: String,
    pub device_id: Option<String>,
    pub device_name: Option<String>,
    pub user_agent: Option<String>,
    pub ip_address: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub last_accessed_at: OffsetDateTime,
    /// When the current session token expires (refresh extends it).
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    /// Whether this is the session making the request.
    pub current: bool,
}

impl SessionView {
    pub fn build(session: &Session, current: bool) -> Self {
        Self {
            session_id: session.id.to_string(),
            device_id: session.device_id.clone(),
            device_name: session.device_name.clone(),
            user_agent: session.user_agent.clone(),
            ip_address: session.ip_address.clone(),
            created_at: session.created_at,
            last_accessed_at: session.last_accessed_at,
            expires_at: session.expires_at,
            current,
        }
    }
}

/// Tokens issued at login and refresh. Shown once; only their hashes are stored.
#[derive(Serialize, ToSchema)]
pub struct TokenPair {
    pub session_id: String,
    /// Bearer token for `/api/v1` calls made by the host app.
    pub session_token: String,
    /// Single-use: each refresh returns a new one.
    pub refresh_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds until `session_token` expires.
    pub expires_in: i64,
    /// Seconds until `refresh_token` expires.
    pub refresh_expires_in: i64,
}

crate::auth::redacted_debug!(TokenPair {
    session_id, token_type, expires_in, refresh_expires_in;
    session_token, refresh_token
});
