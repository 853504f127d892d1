//! `POST /api/v1/payments/{id}/authorize`: the user pays.

use super::{respond, PaymentResponse};
use crate::auth::SessionOrTep;
use crate::error::{ApiError, ErrorEnvelope};
use crate::extract::parse_body;
use crate::services::payments::{admit_payer, payer, ports};
use crate::AppState;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use tmcp_repository::PaymentViewer;
use tmcp_usecases::payments::authorize;
use tmcp_usecases::payments::device_proof::DeviceProof;
use utoipa::ToSchema;

/// Optional device signature: a registered device key of the user signs
/// `"{payment_id}:{amount_minor}:{currency}:{timestamp}"` (timestamp within ±5 minutes).
#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct AuthorizeBody {
    #[schema(min_length = 1, max_length = 255, pattern = r"^[A-Za-z0-9._:-]+$")]
    pub device_id: Option<String>,
    /// Base64 of the signature.
    #[schema(min_length = 1, max_length = 1024)]
    pub signature: Option<String>,
    /// Unix seconds.
    #[schema(minimum = 0, maximum = 253402300799_i64)]
    pub timestamp: Option<i64>,
}

/// Authorizes a payment. Below the MFA threshold of its currency it settles at once.
#[utoipa::path(post, path = "/api/v1/payments/{id}/authorize", tag = "payments",
    params(("id" = uuid::Uuid, Path, description = "the payment id")),
    request_body(content = Option<AuthorizeBody>, description = "optional; may be empty"),
    security(("session" = []), ("tep" = ["wallet:pay"])),
    responses(
        (status = 200, description = "the completed payment", body = PaymentResponse),
        (status = 400, description = "INVALID_REQUEST (device_id, signature and timestamp go together) or DEVICE_NOT_REGISTERED", body = ErrorEnvelope),
        (status = 401, description = "INVALID_TOKEN or INVALID_SIGNATURE", body = ErrorEnvelope),
        (status = 402, description = "INSUFFICIENT_FUNDS (`details{required, available}`): the payment failed; or MFA_REQUIRED at or above the threshold: the amount is held, `details.challenge{challenge_id, methods, expires_at, max_attempts}`", body = ErrorEnvelope),
        (status = 403, description = "MFA_NOT_ENROLLED: at or above the threshold without a second factor (the payment stays pending)", body = ErrorEnvelope),
        (status = 404, description = "PAYMENT_NOT_FOUND (also another user's or app's)", body = ErrorEnvelope),
        (status = 409, description = "INVALID_STATE_TRANSITION: not pending authorization (completed, failed, expired, …)", body = ErrorEnvelope),
        (status = 429, description = "rate limited: payments.authorize_rate_per_minute per user", body = ErrorEnvelope)))]
pub async fn authorize(
    State(state): State<AppState>,
    caller: SessionOrTep,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (user, viewer) = match payer(&caller) {
        Ok(found) => found,
        Err(e) => return e.into_response(),
    };
    match admit_payer(&state, user).await {
        Err(e) => e.into_response(),
        Ok(decision) => respond(&decision, run(&state, &viewer, &id, &headers, &body).await),
    }
}

/// The payment id of a path; anything but a UUID is no payment of anyone's.
pub(crate) fn payment_id(raw: &str) -> Result<tmcp_domain::PaymentId, ApiError> {
    uuid::Uuid::try_parse(raw)
        .map(tmcp_domain::PaymentId)
        .map_err(|_| tmcp_usecases::payments::PaymentsError::NotFound.into())
}

async fn run(
    state: &AppState,
    viewer: &PaymentViewer,
    id: &str,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<Response, ApiError> {
    let id = payment_id(id)?;
    let proof: AuthorizeBody = if body.iter().all(u8::is_ascii_whitespace) {
        AuthorizeBody::default()
    } else {
        parse_body(headers, body)?
    };
    let proof = DeviceProof {
        device_id: proof.device_id,
        signature: proof.signature,
        timestamp: proof.timestamp,
    };
    let payment =
        authorize::authorize(ports(state), &state.settings.payments, viewer, id, &proof).await?;
    Ok(Json(PaymentResponse::load(state, &payment).await?).into_response())
}
