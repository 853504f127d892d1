use crate::RepoResult;
use async_trait::async_trait;
use time::OffsetDateTime;
use tmcp_domain::{SessionId, UserId};

/// Why a session ended (`user_sessions.revoke_reason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RevokeReason {
    /// The session's own holder logged out.
    Logout,
    /// The user ended it from another session.
    User,
    /// A rotated refresh token was presented again (theft detection).
    RefreshReuse,
    AccountDeleted,
    Admin,
}

impl RevokeReason {
    pub fn as_db(self) -> &'static str {
        match self {
            Self::Logout => "logout",
            Self::User => "user",
            Self::RefreshReuse => "refresh_reuse",
            Self::AccountDeleted => "account_deleted",
            Self::Admin => "admin",
        }
    }

    pub fn from_db(value: &str) -> Option<Self> {
        match value {
            "logout" => Some(Self::Logout),
            "user" => Some(Self::User),
            "refresh_reuse" => Some(Self::RefreshReuse),
            "account_deleted" => Some(Self::AccountDeleted),
            "admin" => Some(Self::Admin),
            _ => None,
        }
    }
}

/// A session to create at login. Tokens arrive already hashed (SHA-256 hex).
#[derive(Debug, Clone)]
pub struct NewSession {
    pub id: SessionId,
    pub user_id: UserId,
    pub session_token_hash: String,
    pub refresh_token_hash: String,
    pub device_id: Option<String>,
    pub device_name: Option<String>,
    pub user_agent: Option<String>,
    /// Textual IP address (v4 or v6).
    pub ip_address: Option<String>,
    /// When the session token stops working.
    pub expires_at: OffsetDateTime,
    /// When the refresh token stops working.
    pub refresh_expires_at: OffsetDateTime,
    pub created_at: OffsetDateTime,
}

/// A row of `user_sessions`, without its token hashes.
#[derive(Debug, Clone, PartialEq)]
pub struct Session {
    pub id: SessionId,
    pub user_id: UserId,
    pub device_id: Option<String>,
    pub device_name: Option<String>,
    pub user_agent: Option<String>,
    pub ip_address: Option<String>,
    pub expires_at: OffsetDateTime,
    pub refresh_expires_at: Option<OffsetDateTime>,
    pub created_at: OffsetDateTime,
    pub last_accessed_at: OffsetDateTime,
    pub revoked_at: Option<OffsetDateTime>,
    pub revoke_reason: Option<RevokeReason>,
}

impl Session {
    /// Usable at `now`: not revoked and its session token not expired.
    pub fn is_live(&self, now: OffsetDateTime) -> bool {
        self.revoked_at.is_none() && self.expires_at > now
    }
}

/// A refresh-token rotation: the presented token's hash and the replacement pair.
#[derive(Debug, Clone)]
pub struct RefreshRotation {
    pub presented_hash: String,
    pub new_session_token_hash: String,
    pub new_refresh_token_hash: String,
    pub expires_at: OffsetDateTime,
    pub refresh_expires_at: OffsetDateTime,
    pub now: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq)]
pub enum RefreshOutcome {
    /// The token was current: the session now carries the new pair.
    Rotated(Session),
    /// The token had already been rotated away: the session has been revoked.
    Reused {
        session_id: SessionId,
        user_id: UserId,
    },
    /// The token is current but its session is revoked or the refresh token expired.
    Dead,
    /// No session ever had this token.
    Unknown,
}

/// Host-app sessions. Tokens are looked up by hash only.
#[async_trait]
pub trait SessionRepository: Send + Sync {
    /// Creates the session and stamps `users.last_login_at` with `created_at`, atomically.
    async fn create_session(&self, session: NewSession) -> RepoResult<Session>;

    /// The session whose current session token hashes to `token_hash`, if it is live at `now`
    /// (not revoked, not expired). Needs no user scope: this is how a bearer becomes a user
    /// (the session extractor, and OAuth token exchange).
    async fn find_live_session_by_token_hash(
        &self,
        token_hash: &str,
        now: OffsetDateTime,
    ) -> RepoResult<Option<Session>>;

    /// Any session by id, live or not (e.g. to check whether a TEP's session was revoked).
    async fn find_session(&self, id: SessionId) -> RepoResult<Option<Session>>;

    /// Records activity on a session (`last_accessed_at`).
    async fn touch_session(
        &self,
        user: UserId,
        id: SessionId,
        now: OffsetDateTime,
    ) -> RepoResult<()>;

    /// Rotates a refresh token atomically. A token that was rotated before revokes its
    /// session (theft detection); concurrent presentations of one token rotate at most once.
    async fn rotate_refresh_token(&self, rotation: RefreshRotation) -> RepoResult<RefreshOutcome>;

    /// The user's live sessions, newest first.
    async fn list_live_sessions(
        &self,
        user: UserId,
        now: OffsetDateTime,
    ) -> RepoResult<Vec<Session>>;

    /// Ends one of the user's sessions; `false` when the user has no such live session.
    async fn revoke_session(
        &self,
        user: UserId,
        id: SessionId,
        now: OffsetDateTime,
        reason: RevokeReason,
    ) -> RepoResult<bool>;

    /// Ends every live session of the user; returns how many were ended.
    async fn revoke_all_sessions(
        &self,
        user: UserId,
        now: OffsetDateTime,
        reason: RevokeReason,
    ) -> RepoResult<u64>;
}
