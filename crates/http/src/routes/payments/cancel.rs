//! `POST /api/v1/payments/{id}/cancel`: before settlement, by the user or its app.

use super::authorize::payment_id;
use super::PaymentResponse;
use crate::auth::SessionOrTep;
use crate::error::{ApiError, ErrorEnvelope};
use crate::services::payments::{payment_reader, ports};
use crate::AppState;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use tmcp_usecases::payments::lifecycle;

/// Cancels a payment not settled yet (pending authorization or waiting for MFA); a held
/// amount is released.
#[utoipa::path(post, path = "/api/v1/payments/{id}/cancel", tag = "payments",
    params(("id" = uuid::Uuid, Path, description = "the payment id")),
    security(("session" = []), ("tep" = ["wallet:pay"])),
    responses(
        (status = 200, description = "the cancelled payment", body = PaymentResponse),
        (status = 404, description = "PAYMENT_NOT_FOUND (also another user's or app's)", body = ErrorEnvelope),
        (status = 409, description = "INVALID_STATE_TRANSITION: already settled, failed, expired or cancelled", body = ErrorEnvelope)))]
pub async fn cancel(
    State(state): State<AppState>,
    caller: SessionOrTep,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let viewer = payment_reader(&caller)?;
    let payment = lifecycle::cancel(ports(&state), &viewer, payment_id(&id)?).await?;
    Ok(Json(PaymentResponse::load(&state, &payment).await?).into_response())
}
