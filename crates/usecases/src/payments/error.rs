//! What can go wrong in the payment service, in its own terms; `tmcp_http::error::payments`
//! turns each case into its answer (status and code) in one place.

use crate::fields::FieldErrors;
use tmcp_domain::payment_state::PaymentStatus;
use tmcp_domain::Money;
use tmcp_repository::{MfaChallenge, PaymentTxError, RepoError, WalletError};

#[derive(Debug, thiserror::Error)]
pub enum PaymentsError {
    /// Malformed input a client must fix (400 `INVALID_REQUEST`): an amount that is not an
    /// exact positive decimal of the currency, an unknown currency, a bad cursor.
    #[error("{message}")]
    InvalidRequest {
        field: &'static str,
        message: String,
    },
    /// Fields that break the rules (422 `VALIDATION_FAILED`).
    #[error("the request has invalid fields")]
    InvalidFields(FieldErrors),
    /// No payment of the caller's with this id (another owner's is not revealed).
    #[error("payment not found")]
    NotFound,
    /// The payment's state does not allow the operation.
    #[error("the payment is {status:?}; this operation is not allowed now")]
    InvalidTransition { status: PaymentStatus },
    /// The idempotency key was used for a different request, or its request is still
    /// running after the wait.
    #[error("duplicate transaction")]
    Duplicate { still_processing: bool },
    /// The payer's wallet cannot cover the payment; the payment failed.
    #[error("insufficient funds")]
    InsufficientFunds { required: Money, available: Money },
    /// The device signature on an authorization did not verify.
    #[error("the device signature is not valid")]
    InvalidSignature,
    /// The device named by an authorization is not one of the user's.
    #[error("device not registered")]
    DeviceNotRegistered,
    /// At or above the threshold: the amount is held and a second factor is needed.
    #[error("a second factor is required")]
    MfaRequired { challenge: Box<MfaChallenge> },
    /// The user has no second factor to prove (the payment stays pending: enrol one, retry).
    #[error("no second factor is enrolled")]
    MfaNotEnrolled,
    #[error("no such challenge for this payment")]
    ChallengeNotFound,
    #[error("the challenge expired")]
    ChallengeExpired,
    #[error("the second factor is not valid")]
    InvalidMfaCredentials { attempts_remaining: i32 },
    /// The last attempt failed; the payment failed and its hold was released.
    #[error("too many failed attempts; the payment failed")]
    MfaLocked,
    #[error(transparent)]
    Repository(RepoError),
    /// Our own failure; the cause is for the log.
    #[error("{0}")]
    Internal(String),
}

impl PaymentsError {
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        Self::Internal(cause.to_string())
    }

    pub fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        Self::InvalidRequest {
            field,
            message: message.into(),
        }
    }
}

impl From<RepoError> for PaymentsError {
    fn from(error: RepoError) -> Self {
        Self::Repository(error)
    }
}

impl From<crate::idempotency::Refused> for PaymentsError {
    fn from(refused: crate::idempotency::Refused) -> Self {
        Self::Duplicate {
            still_processing: refused.still_processing,
        }
    }
}

impl From<PaymentTxError> for PaymentsError {
    fn from(error: PaymentTxError) -> Self {
        match error {
            PaymentTxError::NotFound => Self::NotFound,
            PaymentTxError::InvalidTransition(t) => Self::InvalidTransition {
                status: PaymentStatus::of(t.from, 0),
            },
            PaymentTxError::StateChanged => Self::Internal("payment changed under its lock".into()),
            PaymentTxError::InsufficientFunds {
                required,
                available,
            } => Self::InsufficientFunds {
                required,
                available,
            },
            PaymentTxError::ChallengeNotFound => Self::ChallengeNotFound,
            PaymentTxError::Repo(repo) => Self::Repository(repo),
            PaymentTxError::Wallet(WalletError::Repo(repo)) => Self::Repository(repo),
            other => Self::Internal(other.to_string()),
        }
    }
}

impl From<crate::accounts::AccountsError> for PaymentsError {
    fn from(error: crate::accounts::AccountsError) -> Self {
        match error {
            crate::accounts::AccountsError::Repository(repo) => Self::Repository(repo),
            other => Self::Internal(other.to_string()),
        }
    }
}
