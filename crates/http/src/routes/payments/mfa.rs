//! `POST /api/v1/payments/{id}/mfa/verify` and `…/mfa/challenge`: the second factor of a
//! payment at or above the threshold. Attempts are limited by the payment (3, then it
//! fails), not by the authorize rate limit; the default API limit applies.

use super::authorize::payment_id;
use super::PaymentResponse;
use crate::auth::second_factor::SecondFactorProof;
use crate::auth::SessionOrTep;
use crate::error::payments::challenge_json;
use crate::error::{ApiError, ErrorEnvelope};
use crate::extract::parse_body;
use crate::services::payments::{payer, ports};
use crate::AppState;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use tmcp_usecases::accounts::SecondFactor;
use tmcp_usecases::payments::mfa;
use utoipa::ToSchema;

/// `POST /api/v1/payments/{id}/mfa/verify` body: the challenge and one proof — `code`
/// (TOTP), `pin`, or `device_id` + `signature` + `timestamp` (biometric: the device key's
/// signature, base64, over `tmcp-mfa:payment:{payment_id}:{device_id}:{timestamp}`, at most
/// 30 s old).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyBody {
    #[schema(format = "uuid")]
    pub challenge_id: String,
    /// `totp`, `pin` (or `transaction_pin`) or `biometric`; inferred when absent.
    #[schema(max_length = 32)]
    pub method: Option<String>,
    #[schema(max_length = 16)]
    pub code: Option<String>,
    #[schema(max_length = 16)]
    pub pin: Option<String>,
    #[schema(max_length = 255)]
    pub device_id: Option<String>,
    #[schema(max_length = 1024)]
    pub signature: Option<String>,
    pub timestamp: Option<i64>,
}

crate::auth::redacted_debug!(VerifyBody { challenge_id, method, device_id, timestamp; code, pin, signature });

/// A challenge: its id, the methods that can answer it, its expiry, attempts left.
#[derive(Serialize, ToSchema)]
pub struct ChallengeResponse {
    pub challenge_id: String,
    /// `totp`, `transaction_pin`, `biometric`.
    pub methods: Vec<String>,
    pub expires_at: String,
    pub max_attempts: i32,
}

#[derive(Serialize, ToSchema)]
pub struct ChallengeEnvelope {
    pub challenge: ChallengeResponse,
}

/// Answers the payment's challenge; a valid proof captures the hold and completes it.
#[utoipa::path(post, path = "/api/v1/payments/{id}/mfa/verify", tag = "payments",
    params(("id" = uuid::Uuid, Path, description = "the payment id")),
    request_body = VerifyBody,
    security(("session" = []), ("tep" = ["wallet:pay"])),
    responses(
        (status = 200, description = "the completed payment", body = PaymentResponse),
        (status = 401, description = "INVALID_MFA_CREDENTIALS (`details.attempts_remaining`)", body = ErrorEnvelope),
        (status = 404, description = "PAYMENT_NOT_FOUND, or NOT_FOUND for an unknown challenge", body = ErrorEnvelope),
        (status = 409, description = "INVALID_STATE_TRANSITION: not waiting for MFA", body = ErrorEnvelope),
        (status = 410, description = "MFA_CHALLENGE_EXPIRED: ask for a fresh challenge", body = ErrorEnvelope),
        (status = 429, description = "MFA_LOCKED: the third failure failed the payment and released the hold", body = ErrorEnvelope)))]
pub async fn verify(
    State(state): State<AppState>,
    caller: SessionOrTep,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let (_, viewer) = payer(&caller)?;
    let id = payment_id(&id)?;
    let body: VerifyBody = parse_body(&headers, &body)?;
    let proof = SecondFactorProof {
        method: body.method,
        code: body.code,
        pin: body.pin,
        device_id: body.device_id,
        signature: body.signature,
        timestamp: body.timestamp,
    };
    let mut errors = crate::auth::errors::FieldErrors::new();
    proof.check_sizes("", &mut errors);
    errors
        .into_result()
        .map_err(tmcp_usecases::payments::PaymentsError::InvalidFields)?;
    let payment = mfa::verify(
        ports(&state),
        &state.settings.payments,
        &viewer,
        id,
        &body.challenge_id,
        &SecondFactor::from(proof),
    )
    .await?;
    Ok(Json(PaymentResponse::load(&state, &payment).await?).into_response())
}

/// A fresh challenge while attempts remain (earlier ones expire).
#[utoipa::path(post, path = "/api/v1/payments/{id}/mfa/challenge", tag = "payments",
    params(("id" = uuid::Uuid, Path, description = "the payment id")),
    security(("session" = []), ("tep" = ["wallet:pay"])),
    responses(
        (status = 200, description = "the new challenge", body = ChallengeEnvelope),
        (status = 403, description = "MFA_NOT_ENROLLED, or the token cannot pay", body = ErrorEnvelope),
        (status = 404, description = "PAYMENT_NOT_FOUND", body = ErrorEnvelope),
        (status = 409, description = "INVALID_STATE_TRANSITION: not waiting for MFA", body = ErrorEnvelope)))]
pub async fn challenge(
    State(state): State<AppState>,
    caller: SessionOrTep,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let (_, viewer) = payer(&caller)?;
    let id = payment_id(&id)?;
    let challenge =
        mfa::new_challenge(ports(&state), &state.settings.payments, &viewer, id).await?;
    Ok(Json(serde_json::json!({ "challenge": challenge_json(&challenge) })).into_response())
}
