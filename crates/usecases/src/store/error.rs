//! What can go wrong in the store service; the HTTP layer renders it in
//! `tmcp_http::error::store` (the one place that decides statuses and codes).

use crate::fields::FieldErrors;
use tmcp_domain::store::InvalidTransition;
use tmcp_repository::RepoError;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Fields break their rules (422 `VALIDATION_FAILED`).
    #[error("some fields are invalid: {0}")]
    InvalidFields(FieldErrors),
    /// A malformed request that is not about one field (400 `INVALID_REQUEST`).
    #[error("{0}")]
    InvalidRequest(String),
    /// No such app — or one the caller may not see or touch (404 `APP_NOT_FOUND`).
    #[error("app not found")]
    AppNotFound,
    #[error("version not found")]
    VersionNotFound,
    #[error("review not found")]
    ReviewNotFound,
    #[error("category not found")]
    CategoryNotFound,
    /// The caller's role does not allow this (403 `INSUFFICIENT_PERMISSIONS`).
    #[error("this operation needs the {0} role")]
    RoleRequired(&'static str),
    /// The app id (or one of its client ids) is registered already (409 `CONFLICT`).
    #[error("{0} is registered already")]
    AlreadyExists(String),
    /// The review workflow does not allow this now (409 `INVALID_STATE_TRANSITION`).
    #[error(transparent)]
    InvalidTransition(#[from] InvalidTransition),
    /// The version was submitted (or decided) and can no longer change (409 `CONFLICT`).
    #[error("version {0} was submitted and cannot change")]
    VersionImmutable(String),
    /// Nothing to submit or to approve (409 `INVALID_STATE_TRANSITION`).
    #[error("{0}")]
    NothingToReview(&'static str),
    /// The app is not listed, so it cannot be installed (409 `APP_NOT_INSTALLABLE`).
    #[error("this app cannot be installed now")]
    NotInstallable,
    /// A mandatory official app (403 `APP_NOT_REMOVABLE`).
    #[error("this app cannot be removed")]
    NotRemovable,
    /// The user has not installed the app (404 `NOT_FOUND`).
    #[error("the app is not installed")]
    NotInstalled,
    /// A category still has children (409 `CONFLICT`).
    #[error("the category still has subcategories")]
    CategoryInUse,
    /// The package is larger than the limit (413 `PAYLOAD_TOO_LARGE`).
    #[error("the package is larger than {limit} bytes")]
    PackageTooLarge { limit: u64 },
    /// The stored package no longer matches its checksum (500 `PACKAGE_CORRUPT`); it is
    /// never served.
    #[error("the stored package does not match its checksum")]
    PackageCorrupt,
    /// Object storage failed or is unreachable (503 `SERVICE_UNAVAILABLE`).
    #[error("object storage unavailable: {0}")]
    ObjectStore(String),
    #[error(transparent)]
    Repository(#[from] RepoError),
    /// Our own failure; the cause is for the log.
    #[error("{0}")]
    Internal(String),
}

impl From<FieldErrors> for StoreError {
    fn from(errors: FieldErrors) -> Self {
        Self::InvalidFields(errors)
    }
}
