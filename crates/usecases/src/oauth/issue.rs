//! Minting the answer of a successful grant: a TEP, and for user grants that can be
//! refreshed a rotating refresh token in the same grant.

use super::token_error::TokenError;
use super::tokens::{GrantTep, TokenMinter, TokenVerifier};
use tmcp_domain::ids::uuid_v7_at;
use tmcp_domain::oauth::{new_secret, SecretKind, REFRESH_TOKEN_TTL};
use tmcp_domain::scope::ScopeSet;
use tmcp_domain::user::UserStatus;
use tmcp_domain::{Clock, SessionId, UserId};
use tmcp_repository::{Database, NewOAuthRefreshToken, OAuthClient, User};
use uuid::Uuid;

/// The token type RFC 8693 names for a TEP.
pub const ACCESS_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";

/// What the token use cases work with: the repositories, the clock, and the TEP ports.
#[derive(Clone, Copy)]
pub struct TokenPorts<'a> {
    pub db: &'a dyn Database,
    pub clock: &'a dyn Clock,
    pub minter: &'a dyn TokenMinter,
    pub verifier: &'a dyn TokenVerifier,
}

/// An authenticated (confidential) or identified (public) client.
#[derive(Debug, Clone)]
pub struct CallingClient {
    pub client: OAuthClient,
    pub confidential: bool,
}

impl CallingClient {
    pub fn id(&self) -> &str {
        &self.client.client_id
    }
}

/// A successful grant (RFC 6749 §5.1, RFC 8693 §2.2.1).
#[derive(Clone)]
pub struct IssuedTokens {
    pub access_token: String,
    pub expires_in: i64,
    pub refresh_token: Option<String>,
    pub scope: String,
    pub user_id: Option<UserId>,
    pub wallet_id: Option<String>,
    /// Token exchange answers name the issued token type.
    pub issued_token_type: Option<&'static str>,
}

impl std::fmt::Debug for IssuedTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedTokens")
            .field("expires_in", &self.expires_in)
            .field("scope", &self.scope)
            .field("user_id", &self.user_id)
            .finish_non_exhaustive()
    }
}

/// What to issue.
pub(crate) struct Issue<'a> {
    pub client: &'a OAuthClient,
    pub user: Option<UserId>,
    pub scopes: ScopeSet,
    pub session_id: Option<SessionId>,
    pub grant_id: Option<Uuid>,
    pub refresh: Refresh,
    pub miniapp_context: Option<serde_json::Value>,
    pub issued_token_type: bool,
}

pub(crate) enum Refresh {
    None,
    /// Start the grant's refresh chain with these scopes.
    New(ScopeSet),
    /// The rotation already stored this token; hand it out.
    Rotated(String),
}

/// The user of a grant, if the account can still receive tokens.
pub(crate) async fn active_user(db: &dyn Database, user: UserId) -> Result<User, TokenError> {
    let found = db.find_user(user).await?;
    found
        .filter(|u| u.status == UserStatus::Active)
        .ok_or_else(|| TokenError::invalid_grant("the account cannot receive tokens"))
}

pub(crate) async fn issue(
    ports: TokenPorts<'_>,
    request: Issue<'_>,
) -> Result<IssuedTokens, TokenError> {
    let now = ports.clock.now();
    let minted = ports
        .minter
        .mint(
            ports.db,
            now,
            GrantTep {
                user_id: request.user,
                client_id: request.client.client_id.clone(),
                scopes: request.scopes.clone(),
                session_id: request.session_id,
                miniapp_context: request.miniapp_context,
                grant_id: request.grant_id,
            },
        )
        .await?;
    let refresh_token = match (request.refresh, request.user, request.grant_id) {
        (Refresh::None, _, _) => None,
        (Refresh::Rotated(token), _, _) => Some(token),
        (Refresh::New(scopes), Some(user), Some(grant_id)) => {
            let secret = new_secret(SecretKind::RefreshToken);
            ports
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
            return Err(TokenError::Internal(
                "refresh token requested without user and grant".into(),
            ));
        }
    };
    Ok(IssuedTokens {
        access_token: minted.token,
        expires_in: minted.expires_in,
        refresh_token,
        scope: minted.scope,
        user_id: request.user,
        wallet_id: minted.wallet_id,
        issued_token_type: request.issued_token_type.then_some(ACCESS_TOKEN_TYPE),
    })
}
