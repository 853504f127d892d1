//! What can go wrong at the token, revocation and introspection endpoints, in the OAuth
//! vocabulary (RFC 6749 §5.2, RFC 8628 §3.5, RFC 8693). `tmcp-http` turns each into its
//! RFC 6749 answer in one place (`error/oauth.rs`).

use tmcp_repository::RepoError;

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("invalid_request: {0}")]
    InvalidRequest(String),
    #[error("invalid_grant: {0}")]
    InvalidGrant(String),
    #[error("invalid_scope: {0}")]
    InvalidScope(String),
    #[error("unauthorized_client: {0}")]
    UnauthorizedClient(String),
    /// The client is unknown or inactive, or its credentials do not hold.
    #[error("client authentication failed")]
    InvalidClient,
    #[error("unsupported grant_type")]
    UnsupportedGrantType,
    /// Device flow: the user has not decided yet.
    #[error("authorization pending")]
    AuthorizationPending,
    /// Device flow: polling too fast; the interval to use from now on.
    #[error("slow down")]
    SlowDown { interval_secs: i64 },
    /// Device flow: the user denied the request.
    #[error("access denied")]
    AccessDenied,
    /// Device flow: the device code expired.
    #[error("expired token")]
    ExpiredToken,
    /// Token exchange: the user has not approved `missing`; `consent_uri` is the page
    /// where they can.
    #[error("consent required")]
    ConsentRequired {
        missing: Vec<String>,
        consent_uri: String,
    },
    #[error(transparent)]
    Repository(#[from] RepoError),
    /// Our own failure (a signing key that cannot sign, a worker that died); the cause is
    /// for the log, never for the client.
    #[error("{0}")]
    Internal(String),
}

impl TokenError {
    pub fn invalid_grant(description: impl Into<String>) -> Self {
        Self::InvalidGrant(description.into())
    }

    pub fn invalid_scope(description: impl Into<String>) -> Self {
        Self::InvalidScope(description.into())
    }

    pub fn invalid_request(description: impl Into<String>) -> Self {
        Self::InvalidRequest(description.into())
    }
}
