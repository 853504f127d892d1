//! `DELETE /api/v1/auth/mfa/methods/{id}`.

use crate::auth::errors::invalid_mfa_credentials;
use crate::auth::second_factor::{optional_proof, verify_second_factor, SecondFactorProof};
use crate::auth::SessionPrincipal;
use crate::error::{ApiError, ErrorEnvelope};
use crate::routes::accounts::path_uuid;
use crate::AppState;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;

/// Removes a method. Needs a second factor from any active method of the caller (a
/// biometric signature names the action `delete_mfa_method:<id>`). A pending TOTP enrolment
/// can be removed without one.
#[utoipa::path(delete, path = "/api/v1/auth/mfa/methods/{id}", tag = "mfa",
    security(("session" = [])),
    params(("id" = String, Path, format = Uuid, description = "method id (a UUID; anything else is 404)")),
    request_body = SecondFactorProof,
    responses(
        (status = 204, description = "method removed"),
        (status = 401, description = "`INVALID_TOKEN` or `INVALID_MFA_CREDENTIALS`", body = ErrorEnvelope),
        (status = 404, description = "no such method", body = ErrorEnvelope)))]
pub async fn remove_method(
    State(state): State<AppState>,
    principal: SessionPrincipal,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    let id = path_uuid(&id, "MFA method")?;
    // The body is optional (a pending enrolment needs no proof).
    let proof = optional_proof(&body)?;
    let methods = state.db.list_mfa_methods(principal.user_id).await?;
    let method = methods
        .iter()
        .find(|m| m.id == id)
        .ok_or_else(|| ApiError::not_found("no such MFA method"))?;
    if method.is_active {
        crate::auth::throttle::mfa_attempt(&state, &principal.user_id.to_string()).await?;
        let action = format!("delete_mfa_method:{id}");
        let verified =
            verify_second_factor(&state, principal.user_id, &methods, &proof, &action).await?;
        if verified.is_none() {
            return Err(invalid_mfa_credentials());
        }
    }
    if state.db.delete_mfa_method(principal.user_id, id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found("no such MFA method"))
    }
}
