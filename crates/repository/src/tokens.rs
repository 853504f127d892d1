use crate::RepoResult;
use async_trait::async_trait;
use time::OffsetDateTime;
use tmcp_domain::{SessionId, UserId};

/// A TEP signing key as stored: the private half is AEAD ciphertext made by the application.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredSigningKey {
    pub kid: String,
    pub algorithm: String,
    pub private_key_ciphertext: Vec<u8>,
    pub public_jwk: serde_json::Value,
    /// `active`, `retiring` (still verifies, no longer signs) or `retired`.
    pub status: String,
    pub created_at: OffsetDateTime,
    pub retire_after: Option<OffsetDateTime>,
}

#[async_trait]
pub trait SigningKeyRepository: Send + Sync {
    /// Every key that is not `retired`, oldest first.
    async fn list_signing_keys(&self) -> RepoResult<Vec<StoredSigningKey>>;
    /// Fails with `Conflict` if the kid exists.
    async fn insert_signing_key(&self, key: StoredSigningKey) -> RepoResult<()>;
    /// Stops signing with every active key: they turn `retiring` until `retire_after`.
    async fn retire_active_signing_keys(&self, retire_after: OffsetDateTime) -> RepoResult<u64>;
}

/// An OAuth client registration (the schema's `oauth_clients`).
#[derive(Debug, Clone, PartialEq)]
pub struct OAuthClient {
    pub client_id: String,
    pub client_secret_hash: Option<String>,
    pub app_id: Option<String>,
    pub name: String,
    pub redirect_uris: Vec<String>,
    pub grant_types: Vec<String>,
    pub scopes: Vec<String>,
    pub is_official: bool,
    pub is_active: bool,
    pub created_at: OffsetDateTime,
}

#[async_trait]
pub trait OAuthClientRepository: Send + Sync {
    /// Fails with `Conflict` (`oauth_clients_client_id_key`) if the client id is taken.
    async fn create_client(&self, client: OAuthClient) -> RepoResult<()>;
    async fn find_client(&self, client_id: &str) -> RepoResult<Option<OAuthClient>>;
}

/// An issued access token, recorded so it can be revoked, introspected and checked.
#[derive(Debug, Clone)]
pub struct IssuedToken {
    pub id: uuid::Uuid,
    pub client_id: String,
    pub user_id: Option<UserId>,
    /// SHA-256 hex of the token's `jti`.
    pub token_hash: String,
    pub scopes: Vec<String>,
    pub expires_at: OffsetDateTime,
    pub created_at: OffsetDateTime,
    /// The authorization (code or device grant) it came from, so a replayed code or refresh
    /// token can revoke everything that grant produced.
    pub grant_id: Option<uuid::Uuid>,
}

/// What must still hold for a signed TEP to be accepted.
#[derive(Debug, Clone)]
pub struct TokenLiveness {
    pub token_hash: String,
    pub client_id: String,
    pub user_id: Option<UserId>,
    pub session_id: Option<SessionId>,
}

#[async_trait]
pub trait IssuedTokenRepository: Send + Sync {
    async fn record_issued_token(&self, token: IssuedToken) -> RepoResult<()>;
    /// True when the token is recorded and not revoked, its client is active, its user (if
    /// any) is active, its session (if any) is not revoked, and the user has not withdrawn
    /// the client's grant since the token was issued.
    async fn token_is_live(&self, check: &TokenLiveness) -> RepoResult<bool>;
    /// Revokes one token by hash; returns whether a live token was revoked.
    async fn revoke_token(&self, token_hash: &str, at: OffsetDateTime) -> RepoResult<bool>;
    /// The user withdraws a client's grant: every token issued so far dies.
    async fn revoke_consent(
        &self,
        user: UserId,
        client_id: &str,
        at: OffsetDateTime,
    ) -> RepoResult<()>;
}
