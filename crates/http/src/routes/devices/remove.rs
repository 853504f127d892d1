//! `DELETE /api/v1/devices/{device_id}`.

use crate::auth::errors::invalid_mfa_credentials;
use crate::auth::second_factor::{optional_proof, verify_second_factor, SecondFactorProof};
use crate::auth::SessionPrincipal;
use crate::error::{ApiError, ErrorEnvelope};
use crate::AppState;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use tmcp_repository::MfaMethodType;

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
    let methods = state.db.list_mfa_methods(principal.user_id).await?;
    let carries_mfa = methods.iter().any(|m| {
        m.is_active
            && m.method_type == MfaMethodType::Biometric
            && m.device_id.as_deref() == Some(device_id.as_str())
    });
    if carries_mfa {
        let proof = optional_proof(&body)?;
        crate::auth::throttle::mfa_attempt(&state, &principal.user_id.to_string()).await?;
        let action = format!("delete_device:{device_id}");
        let verified =
            verify_second_factor(&state, principal.user_id, &methods, &proof, &action).await?;
        if verified.is_none() {
            return Err(invalid_mfa_credentials());
        }
    }
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
