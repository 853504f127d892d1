//! The accounts service's errors as API answers: the one place that decides their status
//! codes, error codes and messages.

use super::ApiError;
use crate::auth::errors::{
    account_suspended, conflict_on, device_not_registered, invalid_credentials,
    invalid_mfa_credentials, invalid_token, mfa_required,
};
use axum::http::StatusCode;
use serde_json::{json, Map, Value};
use tmcp_usecases::accounts::{AccountsError, LoginError};
use tmcp_usecases::fields::FieldErrors;

/// 422 `VALIDATION_FAILED` with `details.fields`.
pub fn field_errors(errors: &FieldErrors) -> ApiError {
    let fields: Map<String, Value> = errors
        .iter()
        .map(|(field, message)| (field.to_owned(), Value::String(message.to_owned())))
        .collect();
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "VALIDATION_FAILED",
        "some fields are invalid",
    )
    .with_details(json!({ "fields": fields }))
}

impl From<FieldErrors> for ApiError {
    fn from(errors: FieldErrors) -> Self {
        field_errors(&errors)
    }
}

impl From<AccountsError> for ApiError {
    fn from(error: AccountsError) -> Self {
        match error {
            AccountsError::InvalidFields(errors) => field_errors(&errors),
            AccountsError::Taken { field, message } => conflict_on(field, message),
            AccountsError::InvalidToken | AccountsError::RefreshTokenReused => invalid_token(),
            AccountsError::Suspended => account_suspended(),
            AccountsError::NotFound(message) => ApiError::not_found(message),
            AccountsError::DeviceNotRegistered => device_not_registered(),
            AccountsError::SecondFactorRejected => invalid_mfa_credentials(),
            AccountsError::Repository(error) => error.into(),
            AccountsError::Internal(cause) => ApiError::internal(cause),
        }
    }
}

/// A failed password login; a refusal of the throttle is already an answer (429).
pub fn login_error(error: LoginError<ApiError>) -> ApiError {
    match error {
        LoginError::InvalidFields(errors) => field_errors(&errors),
        LoginError::Refused(refusal) => refusal,
        LoginError::InvalidCredentials => invalid_credentials(),
        LoginError::Suspended => account_suspended(),
        LoginError::SecondFactorRequired { methods, .. } => mfa_required(&methods),
        LoginError::Failed(error) => error.into(),
    }
}
