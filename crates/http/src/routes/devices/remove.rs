//! `DELETE /api/v1/devices/{device_id}`.

use crate::auth::second_factor::{optional_proof, SecondFactorProof};
use crate::auth::throttle::SecondFactorBudget;
use crate::auth::SessionPrincipal;
use crate::error::{login_error, ApiError, ErrorEnvelope};
use crate::AppState;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use tmcp_usecases::accounts::mfa_changes::remove_device as remove;

/// Removes a device; biometric MFA bound to it goes with it. Removing a device that carries
/// an active biometric method removes a second factor, so it needs a second factor like
/// `DELETE /api/v1/auth/mfa/methods/{id}` does (from any active method; a biometric
/// signature names the action `delete_device:<device_id>`).
#[utoipa::path(delete, path = "/api/v1/devices/{device_id}", tag = "devices",
    security(("session" = [])),
    params(("device_id" = String, Path, max_length = 255, pattern = r"^[A-Za-z0-9._:-]+$",
        description = "the device's id")),
    request_body = SecondFactorProof,
    responses(
        (status = 204, description = "device removed"),
        (status = 401, description = "`INVALID_TOKEN`, or `INVALID_MFA_CREDENTIALS` when the device carries biometric MFA", body = ErrorEnvelope),
        (status = 404, description = "no such device of the caller", body = ErrorEnvelope),
        (status = 429, description = "too many second-factor attempts", body = ErrorEnvelope)))]
pub async fn remove_device(
    State(state): State<AppState>,
    principal: SessionPrincipal,
    Path(device_id): Path<String>,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    remove(
        state.account_ports(),
        &SecondFactorBudget::new(&state),
        principal.user_id,
        &device_id,
        || optional_proof(&body).map(Into::into),
    )
    .await
    .map_err(login_error)?;
    Ok(StatusCode::NO_CONTENT)
}
