//! The OAuth 2.0 authorization server's state: consents, authorization codes, refresh
//! tokens (grouped in grants), device authorizations, and the webhook outbox rows that
//! grant withdrawals produce. Every transition is one atomic statement or transaction, so
//! two racing redemptions of one code or refresh token cannot both succeed.

use crate::withdrawal_tx::Withdrawn;
use crate::RepoResult;
use async_trait::async_trait;
use time::OffsetDateTime;
use tmcp_domain::oauth::DeviceStatus;
use tmcp_domain::UserId;
use uuid::Uuid;

/// What a user has approved for a client (`oauth_consents`).
#[derive(Debug, Clone, PartialEq)]
pub struct Consent {
    pub scopes: Vec<String>,
    /// Tokens issued at or before this instant are dead (the last withdrawal).
    pub revoked_at: Option<OffsetDateTime>,
    pub updated_at: OffsetDateTime,
}

/// An event for a mini-app backend, stored in `webhook_outbox` with the change it describes.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxEvent {
    pub id: Uuid,
    pub app_id: String,
    pub event: String,
    pub payload: serde_json::Value,
    pub created_at: OffsetDateTime,
}

/// A user withdraws (part of) a client's grant (see [`crate::withdrawal_tx`]).
#[derive(Debug, Clone)]
pub struct ConsentWithdrawal {
    pub user: UserId,
    pub client_id: String,
    /// `None` withdraws everything; otherwise only these scopes leave the consent. Either way
    /// every token issued so far for (user, client) dies, whatever its scopes: tokens carry
    /// their scopes, so the app obtains new ones for what remains.
    pub scopes: Option<Vec<String>>,
    pub at: OffsetDateTime,
    /// Id of the `scope.revoked` outbox row, if one is written.
    pub event_id: Uuid,
    /// Who receives the event: the client's mini-app (or the client id itself).
    pub app_id: String,
}

#[derive(Debug, Clone)]
pub struct NewAuthorizationCode {
    pub code_hash: String,
    pub grant_id: Uuid,
    pub client_id: String,
    pub user_id: UserId,
    pub redirect_uri: String,
    pub scopes: Vec<String>,
    /// S256 challenge; `None` only for confidential clients that sent none.
    pub code_challenge: Option<String>,
    pub expires_at: OffsetDateTime,
    pub created_at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AuthorizationCode {
    pub grant_id: Uuid,
    pub client_id: String,
    pub user_id: UserId,
    pub redirect_uri: String,
    pub scopes: Vec<String>,
    pub code_challenge: Option<String>,
    pub expires_at: OffsetDateTime,
    pub created_at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq)]
pub enum CodeRedemption {
    /// First use: the code is now spent. The caller still checks expiry, client, redirect
    /// URI and PKCE.
    Redeemed(AuthorizationCode),
    /// The code had been used before: the caller revokes its grant (RFC 6749 §4.1.2).
    AlreadyUsed(AuthorizationCode),
    Unknown,
}

/// A refresh token to store (`oauth_tokens`, token_type `refresh`).
#[derive(Debug, Clone)]
pub struct NewOAuthRefreshToken {
    pub id: Uuid,
    pub token_hash: String,
    pub grant_id: Uuid,
    pub client_id: String,
    pub user_id: UserId,
    pub scopes: Vec<String>,
    pub expires_at: OffsetDateTime,
    pub created_at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq)]
pub struct OAuthRefreshToken {
    pub grant_id: Uuid,
    pub client_id: String,
    pub user_id: UserId,
    pub scopes: Vec<String>,
    pub expires_at: OffsetDateTime,
    pub created_at: OffsetDateTime,
    pub rotated_at: Option<OffsetDateTime>,
    pub revoked_at: Option<OffsetDateTime>,
}

/// Rotation request: the presented token and its replacement's id/hash/expiry. The
/// replacement inherits grant, client, user and scopes.
#[derive(Debug, Clone)]
pub struct OAuthRefreshRotation {
    pub presented_hash: String,
    pub client_id: String,
    pub new_id: Uuid,
    pub new_hash: String,
    pub new_expires_at: OffsetDateTime,
    pub now: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq)]
pub enum OAuthRefreshRedemption {
    /// The presented token was current; it is now rotated and the replacement stored.
    Rotated(OAuthRefreshToken),
    /// The presented token had already been rotated: its whole grant is now revoked.
    Reused {
        grant_id: Uuid,
    },
    /// Revoked, expired, or issued to another client: refused, nothing changed.
    Dead,
    Unknown,
}

#[derive(Debug, Clone)]
pub struct NewDeviceAuthorization {
    pub id: Uuid,
    pub device_code_hash: String,
    pub user_code: String,
    pub client_id: String,
    pub scopes: Vec<String>,
    pub interval_secs: i64,
    pub expires_at: OffsetDateTime,
    pub created_at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DeviceAuthorization {
    pub id: Uuid,
    pub user_code: String,
    pub client_id: String,
    pub scopes: Vec<String>,
    pub status: DeviceStatus,
    pub user_id: Option<UserId>,
    pub interval_secs: i64,
    pub expires_at: OffsetDateTime,
}

/// The token endpoint's answer to one device-code poll (RFC 8628 §3.5).
#[derive(Debug, Clone, PartialEq)]
pub enum DevicePoll {
    Pending,
    SlowDown {
        interval_secs: i64,
    },
    /// Approved: the device code is now consumed; issue tokens for this user.
    Approved(DeviceAuthorization),
    Denied,
    Expired,
    /// Unknown, issued to another client, or already consumed.
    Invalid,
}

#[async_trait]
pub trait OAuthGrantRepository: Send + Sync {
    async fn find_consent(&self, user: UserId, client_id: &str) -> RepoResult<Option<Consent>>;

    /// Adds `scopes` to the user's consent for the client (creating it). A past withdrawal's
    /// `revoked_at` stays: it only kills tokens issued before it.
    async fn grant_consent(
        &self,
        user: UserId,
        client_id: &str,
        scopes: &[String],
        at: OffsetDateTime,
    ) -> RepoResult<()>;

    /// Withdraws a grant (all of it or some scopes): records the withdrawal instant on the
    /// (user, client) consent row (creating it if the user never consented: pre-approved
    /// scopes have no row), revokes every access and refresh token of the pair, and queues a
    /// `scope.revoked` outbox row if anything was revoked — one transaction, run by
    /// [`crate::withdrawal_tx::withdraw`].
    async fn withdraw_consent(&self, withdrawal: ConsentWithdrawal) -> RepoResult<Withdrawn>;

    async fn create_authorization_code(&self, code: NewAuthorizationCode) -> RepoResult<()>;

    /// Marks the code used (atomically: one caller wins) and returns it.
    async fn redeem_authorization_code(
        &self,
        code_hash: &str,
        now: OffsetDateTime,
    ) -> RepoResult<CodeRedemption>;

    /// Revokes every access and refresh token of a grant; returns how many were revoked.
    async fn revoke_grant(&self, grant_id: Uuid, at: OffsetDateTime) -> RepoResult<u64>;

    async fn store_oauth_refresh_token(&self, token: NewOAuthRefreshToken) -> RepoResult<()>;

    async fn find_oauth_refresh_token(
        &self,
        token_hash: &str,
    ) -> RepoResult<Option<OAuthRefreshToken>>;

    /// Rotates a refresh token atomically; a rotated token presented again revokes its grant.
    async fn rotate_oauth_refresh_token(
        &self,
        rotation: OAuthRefreshRotation,
    ) -> RepoResult<OAuthRefreshRedemption>;

    /// Fails with `Conflict` when the user code or device code hash is taken by a live row
    /// (expired rows with the same user code are removed first).
    async fn create_device_authorization(
        &self,
        authorization: NewDeviceAuthorization,
    ) -> RepoResult<()>;

    /// The pending, unexpired authorization with this user code.
    async fn find_pending_device_authorization(
        &self,
        user_code: &str,
        now: OffsetDateTime,
    ) -> RepoResult<Option<DeviceAuthorization>>;

    /// The user approves or denies a pending authorization; false if it is not pending or
    /// has expired.
    async fn decide_device_authorization(
        &self,
        user_code: &str,
        user: UserId,
        approve: bool,
        now: OffsetDateTime,
    ) -> RepoResult<bool>;

    /// One poll by the device (applies `tmcp_domain::oauth::decide_device_poll`).
    async fn poll_device_authorization(
        &self,
        device_code_hash: &str,
        client_id: &str,
        now: OffsetDateTime,
    ) -> RepoResult<DevicePoll>;

    /// Outbox rows not delivered yet, oldest first (for the delivery worker and tests).
    async fn pending_outbox_events(&self, limit: i64) -> RepoResult<Vec<OutboxEvent>>;
}
