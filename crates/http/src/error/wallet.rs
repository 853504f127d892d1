//! The wallet service's errors as API answers: the one place that decides their status codes,
//! error codes, messages and details. (A top-up's own outcomes — 402 `PAYMENT_DECLINED`, 502
//! `PROCESSOR_UNAVAILABLE`, 504 `PROCESSOR_TIMEOUT` — are stored replies, built by
//! `tmcp_usecases::wallet::replies` so a replay returns them byte for byte.)

use super::{field_errors, ApiError};
use axum::http::StatusCode;
use serde_json::json;
use tmcp_usecases::wallet::WalletServiceError;

impl From<WalletServiceError> for ApiError {
    fn from(error: WalletServiceError) -> Self {
        match error {
            WalletServiceError::InvalidFields(errors) => field_errors(&errors),
            WalletServiceError::InvalidAmount { field, reason } => {
                ApiError::invalid_request(format!("{field}: {reason}"))
                    .with_details(json!({ "field": field, "reason": reason }))
            }
            WalletServiceError::MethodNotFound => ApiError::not_found("no such payment method"),
            WalletServiceError::MethodExists => ApiError::new(
                StatusCode::CONFLICT,
                "CONFLICT",
                "this payment method is registered already",
            )
            .with_details(json!({ "field": "provider_method_id" })),
            WalletServiceError::DuplicateTransaction { in_flight } => {
                let message = if in_flight {
                    "a request with this idempotency_key is still processing; retry later"
                } else {
                    "this idempotency_key was used for a different request"
                };
                ApiError::new(StatusCode::CONFLICT, "DUPLICATE_TRANSACTION", message)
                    .with_details(json!({ "in_flight": in_flight }))
            }
            WalletServiceError::InvalidCursor => ApiError::invalid_request("cursor is not valid"),
            WalletServiceError::Repository(error) => error.into(),
            WalletServiceError::Internal(cause) => ApiError::internal(cause),
        }
    }
}
