//! The error answers of the account area (the TMCP protocol §0 codes).

use crate::error::ApiError;
use axum::http::StatusCode;
use serde_json::json;

pub fn invalid_token() -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "INVALID_TOKEN",
        "missing, unknown, expired or revoked session token",
    )
}

/// The one answer for an unknown login and a wrong password.
pub fn invalid_credentials() -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "INVALID_CREDENTIALS",
        "invalid login or password",
    )
}

pub fn account_suspended() -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "ACCOUNT_SUSPENDED",
        "this account is suspended or deleted",
    )
}

/// Login needs a (valid) second factor; `methods` are the ones the user can use.
pub fn mfa_required(methods: &[&str]) -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "MFA_REQUIRED",
        "a valid second factor (mfa_code) is required",
    )
    .with_details(json!({ "methods": methods }))
}

pub fn invalid_mfa_credentials() -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "INVALID_MFA_CREDENTIALS",
        "the second factor is not valid",
    )
}

pub fn insufficient_role(required: &str) -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "INSUFFICIENT_PERMISSIONS",
        "this operation needs another role",
    )
    .with_details(json!({ "required_role": required }))
}

pub fn conflict_on(field: &str, message: &str) -> ApiError {
    ApiError::new(StatusCode::CONFLICT, "CONFLICT", message).with_details(json!({ "field": field }))
}

pub fn device_not_registered() -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "DEVICE_NOT_REGISTERED",
        "the device is not registered for this account",
    )
}

/// Collects field errors; `?` turns a non-empty set into 422 `VALIDATION_FAILED` with
/// `details.fields` (see `crate::error::field_errors`).
pub use tmcp_usecases::fields::FieldErrors;
