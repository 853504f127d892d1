//! `DELETE /api/v1/devices/{device_id}`.

use crate::auth::SessionPrincipal;
use crate::error::{ApiError, ErrorEnvelope};
use crate::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;

/// Removes a device; biometric MFA bound to it goes with it.
#[utoipa::path(delete, path = "/api/v1/devices/{device_id}", tag = "devices",
    security(("session" = [])),
    params(("device_id" = String, Path, description = "the device's id")),
    responses(
        (status = 204, description = "device removed"),
        (status = 401, description = "`INVALID_TOKEN`", body = ErrorEnvelope),
        (status = 404, description = "no such device of the caller", body = ErrorEnvelope)))]
pub async fn remove_device(
    State(state): State<AppState>,
    principal: SessionPrincipal,
    Path(device_id): Path<String>,
) -> Result<StatusCode, ApiError> {
    if state
        .db
        .remove_device(principal.user_id, &device_id)
        .await?
    {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found("no such device"))
    }
}
