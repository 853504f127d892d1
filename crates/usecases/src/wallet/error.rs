//! What can go wrong in the wallet service; the HTTP layer renders it in
//! `tmcp_http::error::wallet`, the jobs log it.

use crate::fields::FieldErrors;
use tmcp_repository::{RepoError, TopUpError, WalletError};

#[derive(Debug, thiserror::Error)]
pub enum WalletServiceError {
    /// Fields break their rules (422 `VALIDATION_FAILED`).
    #[error("some fields are invalid: {0}")]
    InvalidFields(FieldErrors),
    /// An amount or currency the money rules refuse (400 `INVALID_REQUEST`).
    #[error("{field}: {reason}")]
    InvalidAmount { field: &'static str, reason: String },
    /// The user has no such (active) payment method.
    #[error("payment method not found")]
    MethodNotFound,
    /// The provider token is registered already.
    #[error("this payment method is registered already")]
    MethodExists,
    /// The idempotency key was used for another request, or its first request is still
    /// running (`in_flight`).
    #[error("duplicate transaction")]
    DuplicateTransaction { in_flight: bool },
    #[error("cursor is not valid")]
    InvalidCursor,
    #[error(transparent)]
    Repository(#[from] RepoError),
    /// Our own failure; the cause is for the log.
    #[error("{0}")]
    Internal(String),
}

impl From<FieldErrors> for WalletServiceError {
    fn from(errors: FieldErrors) -> Self {
        Self::InvalidFields(errors)
    }
}

impl From<crate::idempotency::Refused> for WalletServiceError {
    fn from(refused: crate::idempotency::Refused) -> Self {
        Self::DuplicateTransaction {
            in_flight: refused.still_processing,
        }
    }
}

impl From<WalletError> for WalletServiceError {
    fn from(error: WalletError) -> Self {
        match error {
            WalletError::Repo(repo) => Self::Repository(repo),
            // Every other refusal is a broken rule of ours (a top-up only credits).
            other => Self::Internal(other.to_string()),
        }
    }
}

impl From<TopUpError> for WalletServiceError {
    fn from(error: TopUpError) -> Self {
        match error {
            TopUpError::MethodNotFound => Self::MethodNotFound,
            TopUpError::Wallet(wallet) => wallet.into(),
            other => Self::Internal(other.to_string()),
        }
    }
}
