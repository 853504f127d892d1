//! The storage service's errors as API answers: the one place that decides their status
//! codes, error codes, messages and details.

use super::ApiError;
use axum::http::StatusCode;
use serde_json::json;
use std::collections::BTreeMap;
use tmcp_usecases::storage::StorageError;

impl From<StorageError> for ApiError {
    fn from(error: StorageError) -> Self {
        match error {
            StorageError::InvalidFields(errors) => {
                // Sorted by field name, as the storage answers always were.
                let fields: BTreeMap<&str, &str> = errors.iter().collect();
                ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "VALIDATION_FAILED",
                    "the request has invalid fields",
                )
                .with_details(json!({ "fields": fields }))
            }
            StorageError::ValueTooLarge { field, size, max } => ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "PAYLOAD_TOO_LARGE",
                format!("the value is {size} bytes; at most {max} are allowed"),
            )
            .with_details(json!({ "field": field, "size": size, "max_bytes": max })),
            StorageError::QuotaExceeded(usage) => ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "STORAGE_QUOTA_EXCEEDED",
                "the write would exceed this app's storage quota",
            )
            .with_details(json!({
                "used_bytes": usage.used_bytes,
                "total_bytes": usage.total_bytes,
                "used_keys": usage.used_keys,
                "total_keys": usage.total_keys,
            })),
            StorageError::VersionConflict {
                key,
                current_version,
            } => ApiError::new(
                StatusCode::CONFLICT,
                "VERSION_CONFLICT",
                "the stored version does not match the precondition",
            )
            .with_details(json!({ "key": key, "current_version": current_version })),
            StorageError::KeyNotFound { key } => {
                ApiError::new(StatusCode::NOT_FOUND, "KEY_NOT_FOUND", "no such key")
                    .with_details(json!({ "key": key }))
            }
            StorageError::InvalidCursor => ApiError::invalid_request("cursor is not valid"),
            StorageError::ConflictNotFound { conflict_id } => {
                ApiError::not_found("no such conflict")
                    .with_details(json!({ "conflict_id": conflict_id }))
            }
            StorageError::ConflictNotPending { status } => ApiError::new(
                StatusCode::CONFLICT,
                "INVALID_STATE_TRANSITION",
                "only pending conflicts can be resolved",
            )
            .with_details(json!({ "status": status })),
            StorageError::Repository(error) => error.into(),
            StorageError::Internal(cause) => ApiError::internal(cause),
        }
    }
}
