//! The payment service's errors as API answers: the one place that decides their status
//! codes, error codes, messages and details.

use super::ApiError;
use axum::http::StatusCode;
use serde_json::json;
use std::collections::BTreeMap;
use time::format_description::well_known::Rfc3339;
use tmcp_repository::MfaChallenge;
use tmcp_usecases::payments::PaymentsError;

impl From<PaymentsError> for ApiError {
    fn from(error: PaymentsError) -> Self {
        match error {
            PaymentsError::InvalidRequest { field, message } => {
                ApiError::invalid_request(message).with_details(json!({ "field": field }))
            }
            PaymentsError::InvalidFields(errors) => {
                let fields: BTreeMap<&str, &str> = errors.iter().collect();
                ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "VALIDATION_FAILED",
                    "the request has invalid fields",
                )
                .with_details(json!({ "fields": fields }))
            }
            PaymentsError::NotFound => ApiError::new(
                StatusCode::NOT_FOUND,
                "PAYMENT_NOT_FOUND",
                "no such payment",
            ),
            PaymentsError::InvalidTransition { status } => ApiError::new(
                StatusCode::CONFLICT,
                "INVALID_STATE_TRANSITION",
                format!("the payment is {}; this is not allowed now", status.as_db()),
            )
            .with_details(json!({ "status": status.as_db() })),
            PaymentsError::Duplicate { still_processing } => {
                let message = if still_processing {
                    "a request with this idempotency_key is still processing; retry later"
                } else {
                    "this idempotency_key was used for a different request"
                };
                ApiError::new(StatusCode::CONFLICT, "DUPLICATE_TRANSACTION", message)
                    .with_details(json!({ "still_processing": still_processing }))
            }
            PaymentsError::InsufficientFunds {
                required,
                available,
            } => ApiError::new(
                StatusCode::PAYMENT_REQUIRED,
                "INSUFFICIENT_FUNDS",
                "the wallet cannot cover this payment",
            )
            .with_details(json!({
                "required": required.to_major_string(),
                "available": available.to_major_string(),
                "currency": required.currency.code(),
            })),
            PaymentsError::InvalidSignature => ApiError::new(
                StatusCode::UNAUTHORIZED,
                "INVALID_SIGNATURE",
                "the device signature is not valid",
            ),
            PaymentsError::DeviceNotRegistered => crate::auth::errors::device_not_registered(),
            PaymentsError::MfaRequired { challenge } => ApiError::new(
                StatusCode::PAYMENT_REQUIRED,
                "MFA_REQUIRED",
                "this payment needs a second factor: POST /api/v1/payments/{id}/mfa/verify",
            )
            .with_details(json!({ "challenge": challenge_json(&challenge) })),
            PaymentsError::MfaNotEnrolled => ApiError::new(
                StatusCode::FORBIDDEN,
                "MFA_NOT_ENROLLED",
                "this payment needs a second factor and none is enrolled",
            ),
            PaymentsError::ChallengeNotFound => {
                ApiError::not_found("no such challenge for this payment")
            }
            PaymentsError::ChallengeExpired => ApiError::new(
                StatusCode::GONE,
                "MFA_CHALLENGE_EXPIRED",
                "the challenge expired; ask for a fresh one",
            ),
            PaymentsError::InvalidMfaCredentials { attempts_remaining } => ApiError::new(
                StatusCode::UNAUTHORIZED,
                "INVALID_MFA_CREDENTIALS",
                "the second factor is not valid",
            )
            .with_details(json!({ "attempts_remaining": attempts_remaining })),
            PaymentsError::MfaLocked => ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "MFA_LOCKED",
                "too many failed attempts; the payment failed",
            ),
            PaymentsError::Repository(error) => error.into(),
            PaymentsError::Internal(cause) => ApiError::internal(cause),
        }
    }
}

/// `details.challenge` of `MFA_REQUIRED`, and the body of a fresh challenge.
pub fn challenge_json(challenge: &MfaChallenge) -> serde_json::Value {
    json!({
        "challenge_id": challenge.id.to_string(),
        "methods": challenge.methods.iter().map(|m| m.as_db()).collect::<Vec<_>>(),
        "expires_at": challenge.expires_at.format(&Rfc3339).unwrap_or_default(),
        "max_attempts": challenge.max_attempts,
    })
}
