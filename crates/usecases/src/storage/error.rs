//! What can go wrong in the storage service, in its own terms; `tmcp_http::error::storage`
//! turns each case into its answer (the TMCP protocol §0 codes).

use crate::fields::FieldErrors;
use tmcp_repository::{QuotaUsage, RepoError};

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// Some request fields break the rules (422).
    #[error("the request has invalid fields: {0}")]
    InvalidFields(FieldErrors),
    /// A value over the size limit (413): the field that carried it, its size and the limit.
    #[error("the value is {size} bytes; at most {max} are allowed")]
    ValueTooLarge {
        field: String,
        size: usize,
        max: i64,
    },
    /// The write would take the app over its quota.
    #[error("the write would exceed this app's storage quota")]
    QuotaExceeded(QuotaUsage),
    /// An `If-Match`/`expected_version` precondition failed.
    #[error("the stored version of {key} does not match the precondition")]
    VersionConflict {
        key: String,
        current_version: Option<i64>,
    },
    #[error("no such key: {key}")]
    KeyNotFound { key: String },
    /// A listing or pull cursor that this server did not hand out.
    #[error("cursor is not valid")]
    InvalidCursor,
    /// No conflict of the caller's with this id; `conflict_id` is the id as the caller
    /// wrote it.
    #[error("no such conflict: {conflict_id}")]
    ConflictNotFound { conflict_id: String },
    /// The conflict was already resolved or ignored (its `status`).
    #[error("only pending conflicts can be resolved (this one is {status})")]
    ConflictNotPending { status: String },
    #[error(transparent)]
    Repository(RepoError),
    /// Our own failure; the cause is for the log.
    #[error("{0}")]
    Internal(String),
}

impl From<RepoError> for StorageError {
    fn from(error: RepoError) -> Self {
        match error {
            RepoError::QuotaExceeded(usage) => Self::QuotaExceeded(usage),
            other => Self::Repository(other),
        }
    }
}

/// Repository outcomes in the storage service's terms (a quota refusal is its own case).
pub fn repo_error(error: RepoError) -> StorageError {
    error.into()
}

pub fn version_conflict(key: &str, current_version: Option<i64>) -> StorageError {
    StorageError::VersionConflict {
        key: key.to_owned(),
        current_version,
    }
}

pub fn key_not_found(key: &str) -> StorageError {
    StorageError::KeyNotFound {
        key: key.to_owned(),
    }
}

/// `errors.check()?`: the collected field errors as the storage service's refusal.
pub trait CheckFields {
    fn check(self) -> Result<(), StorageError>;
}

impl CheckFields for FieldErrors {
    fn check(self) -> Result<(), StorageError> {
        self.into_result().map_err(StorageError::InvalidFields)
    }
}
