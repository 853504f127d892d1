//! Minting the answer of a successful grant: a TEP, and for user grants that can be
//! refreshed a rotating refresh token in the same grant.

use super::error::OAuthError;
use crate::AppState;
use serde::Serialize;
use tmcp_domain::ids::uuid_v7_at;
use tmcp_domain::oauth::{new_secret, SecretKind, REFRESH_TOKEN_TTL};
use tmcp_domain::scope::ScopeSet;
use tmcp_domain::user::UserStatus;
use tmcp_domain::{SessionId, UserId};
use tmcp_repository::{NewOAuthRefreshToken, OAuthClient, User};
use utoipa::ToSchema;
use uuid::Uuid;

pub const ACCESS_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";

/// A successful token answer (RFC 6749 §5.1, RFC 8693 §2.2.1).
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenResponse {
    /// `tep.` + a signed JWT.
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    /// A rotating refresh token (authorization code, device and refresh grants).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    /// The granted scopes, space separated.
    pub scope: String,
    /// The user the token speaks for (absent for client credentials).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// The user's wallet (`tw_` + 32 hex; absent for client credentials).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wallet_id: Option<String>,
    /// Token exchange only: `urn:ietf:params:oauth:token-type:access_token`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issued_token_type: Option<String>,
}

/// What to issue.
pub struct Issue<'a> {
    pub client: &'a OAuthClient,
    pub user: Option<UserId>,
    pub scopes: ScopeSet,
    pub session_id: Option<SessionId>,
    pub grant_id: Option<Uuid>,
    pub refresh: Refresh,
    pub miniapp_context: Option<serde_json::Value>,
    pub issued_token_type: bool,
}

pub enum Refresh {
    None,
    /// Start the grant's refresh chain with these scopes.
    New(ScopeSet),
    /// The rotation already stored this token; hand it out.
    Rotated(String),
}

/// The user of a grant, if the account can still receive tokens.
pub async fn active_user(state: &AppState, user: UserId) -> Result<User, OAuthError> {
    let found = state.db.find_user(user).await?;
    found
        .filter(|u| u.status == UserStatus::Active)
        .ok_or_else(|| OAuthError::invalid_grant("the account cannot receive tokens"))
}

pub async fn issue(state: &AppState, request: Issue<'_>) -> Result<TokenResponse, OAuthError> {
    let now = state.clock.now();
    let minted = state
        .tep
        .mint_for_grant(
            state.db.as_ref(),
            now,
            crate::auth::TepMint {
                user_id: request.user,
                client_id: request.client.client_id.clone(),
                scopes: request.scopes.clone(),
                session_id: request.session_id,
                lifetime: None,
                user_context: None,
                miniapp_context: request.miniapp_context,
            },
            request.grant_id,
        )
        .await?;
    let refresh_token = match (request.refresh, request.user, request.grant_id) {
        (Refresh::None, _, _) => None,
        (Refresh::Rotated(token), _, _) => Some(token),
        (Refresh::New(scopes), Some(user), Some(grant_id)) => {
            let secret = new_secret(SecretKind::RefreshToken);
            state
                .db
                .store_oauth_refresh_token(NewOAuthRefreshToken {
                    id: uuid_v7_at(now),
                    token_hash: secret.hash,
                    grant_id,
                    client_id: request.client.client_id.clone(),
                    user_id: user,
                    scopes: scopes.to_vec(),
                    expires_at: now + REFRESH_TOKEN_TTL,
                    created_at: now,
                })
                .await?;
            Some(secret.value)
        }
        (Refresh::New(_), _, _) => {
            return Err(crate::ApiError::internal(
                "refresh token requested without user and grant",
            )
            .into());
        }
    };
    Ok(TokenResponse {
        access_token: minted.token,
        token_type: "Bearer".into(),
        expires_in: minted.expires_in,
        refresh_token,
        scope: minted.scope,
        user_id: request.user.map(|u| u.to_string()),
        wallet_id: minted.wallet_id,
        issued_token_type: request
            .issued_token_type
            .then(|| ACCESS_TOKEN_TYPE.to_owned()),
    })
}
