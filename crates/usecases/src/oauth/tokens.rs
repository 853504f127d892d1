//! The ports through which the OAuth use cases mint and read TEPs. The signing keys live
//! with the HTTP layer (`tmcp_http::auth::TepService` implements both traits), so the grant
//! rules here never see a key.

use super::token_error::TokenError;
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use tmcp_domain::scope::ScopeSet;
use tmcp_domain::{SessionId, UserId};
use tmcp_repository::Database;
use uuid::Uuid;

/// Every TEP starts with this; anything else is not one.
pub const TEP_PREFIX: &str = "tep.";

/// The claims of a TEP.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TepClaims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub client_id: String,
    pub azp: String,
    pub exp: i64,
    pub iat: i64,
    pub nbf: i64,
    pub jti: String,
    pub token_type: String,
    pub scope: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wallet_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_context: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub miniapp_context: Option<serde_json::Value>,
}

/// A TEP a grant asks for.
#[derive(Debug, Clone)]
pub struct GrantTep {
    /// `None` for client-credentials tokens (the subject is then the client).
    pub user_id: Option<UserId>,
    pub client_id: String,
    pub scopes: ScopeSet,
    pub session_id: Option<SessionId>,
    pub miniapp_context: Option<serde_json::Value>,
    /// The OAuth grant the token belongs to, so a replayed code or refresh token revokes it
    /// with the rest of its grant.
    pub grant_id: Option<Uuid>,
}

/// A signed and recorded TEP.
#[derive(Clone)]
pub struct SignedTep {
    pub token: String,
    pub expires_in: i64,
    pub scope: String,
    pub wallet_id: Option<String>,
}

impl std::fmt::Debug for SignedTep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignedTep")
            .field("expires_in", &self.expires_in)
            .field("scope", &self.scope)
            .field("wallet_id", &self.wallet_id)
            .field("token", &"<redacted>")
            .finish()
    }
}

/// Signs TEPs and records them so they can be revoked and introspected.
#[async_trait]
pub trait TokenMinter: Send + Sync {
    /// `iss` of every token; also the OAuth issuer.
    fn issuer(&self) -> &str;

    async fn mint(
        &self,
        db: &dyn Database,
        now: OffsetDateTime,
        request: GrantTep,
    ) -> Result<SignedTep, TokenError>;
}

/// Reads TEPs and keeps the in-process liveness cache honest after a revocation.
pub trait TokenVerifier: Send + Sync {
    /// The claims of a token whose signature and time claims hold (no database); `None`
    /// for anything else.
    fn verify(&self, token: &str, now: OffsetDateTime) -> Option<TepClaims>;

    /// Forgets the cached liveness of one token, so its revocation applies at once here.
    fn forget(&self, token_id: &str);

    /// Forgets every cached liveness answer (a whole grant was revoked).
    fn forget_all(&self);
}
