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
