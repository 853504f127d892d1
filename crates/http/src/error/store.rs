//! The store service's errors as API answers: the one place that decides their status
//! codes, error codes, messages and details.

use super::{field_errors, ApiError};
use axum::http::StatusCode;
use serde_json::json;
use tmcp_usecases::store::StoreError;

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        let message = error.to_string();
        match error {
            StoreError::InvalidFields(errors) => field_errors(&errors),
            StoreError::InvalidRequest(message) => ApiError::invalid_request(message),
            StoreError::AppNotFound => {
                ApiError::new(StatusCode::NOT_FOUND, "APP_NOT_FOUND", message)
            }
            StoreError::VersionNotFound
            | StoreError::ReviewNotFound
            | StoreError::CategoryNotFound
            | StoreError::NotInstalled => ApiError::not_found(message),
            StoreError::RoleRequired(role) => crate::auth::errors::insufficient_role(role),
            StoreError::AlreadyExists(_)
            | StoreError::VersionImmutable(_)
            | StoreError::CategoryInUse => ApiError::new(StatusCode::CONFLICT, "CONFLICT", message),
            StoreError::InvalidTransition(_) | StoreError::NothingToReview(_) => {
                ApiError::new(StatusCode::CONFLICT, "INVALID_STATE_TRANSITION", message)
            }
            StoreError::NotInstallable => {
                ApiError::new(StatusCode::CONFLICT, "APP_NOT_INSTALLABLE", message)
            }
            StoreError::NotRemovable => {
                ApiError::new(StatusCode::FORBIDDEN, "APP_NOT_REMOVABLE", message)
            }
            StoreError::PackageTooLarge { limit } => {
                ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE", message)
                    .with_details(json!({ "limit_bytes": limit }))
            }
            StoreError::PackageCorrupt => {
                tracing::error!("a stored package failed its checksum; it was not served");
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "PACKAGE_CORRUPT",
                    "the stored package is damaged; the developer must upload it again",
                )
            }
            StoreError::ObjectStore(cause) => {
                tracing::warn!(error = %cause, "object storage unavailable");
                ApiError::dependency_unavailable("object storage")
            }
            StoreError::Repository(error) => error.into(),
            StoreError::Internal(cause) => ApiError::internal(cause),
        }
    }
}
