//! What can go wrong in the accounts service, in its own terms; each caller renders it
//! (the HTTP layer in `tmcp_http::error::accounts`, the CLI as a message).

use crate::fields::FieldErrors;
use tmcp_repository::RepoError;

#[derive(Debug, thiserror::Error)]
pub enum AccountsError {
    /// Some inputs break the field rules.
    #[error("some fields are invalid: {0}")]
    InvalidFields(FieldErrors),
    /// A unique value (username, email) belongs to another account.
    #[error("{field}: {message}")]
    Taken {
        field: &'static str,
        message: &'static str,
    },
    /// A missing, unknown, expired or revoked session or refresh token.
    #[error("missing, unknown, expired or revoked token")]
    InvalidToken,
    /// A rotated refresh token came back: its session has been revoked.
    #[error("a rotated refresh token was presented again")]
    RefreshTokenReused,
    #[error("the account is suspended or deleted")]
    Suspended,
    /// The named thing does not exist for this user (the message says what).
    #[error("{0}")]
    NotFound(&'static str),
    /// The second factor given is not valid.
    #[error("the second factor is not valid")]
    SecondFactorRejected,
    /// A biometric method needs a device registered with a public key.
    #[error("the device is not registered for this account")]
    DeviceNotRegistered,
    #[error(transparent)]
    Repository(#[from] RepoError),
    /// Our own failure (a sealed secret that does not open, a worker that died); the cause
    /// is for the log, never for the client.
    #[error("{0}")]
    Internal(String),
}

impl AccountsError {
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        Self::Internal(cause.to_string())
    }
}

impl From<FieldErrors> for AccountsError {
    fn from(errors: FieldErrors) -> Self {
        Self::InvalidFields(errors)
    }
}
