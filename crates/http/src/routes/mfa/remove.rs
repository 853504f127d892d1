//! `DELETE /api/v1/auth/mfa/methods/{id}`.

use crate::auth::second_factor::{optional_proof, SecondFactorProof};
use crate::auth::throttle::SecondFactorBudget;
use crate::auth::SessionPrincipal;
use crate::error::{login_error, ApiError, ErrorEnvelope};
use crate::routes::accounts::path_uuid;
use crate::AppState;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use tmcp_usecases::accounts::mfa_changes::remove_method as remove_method_of;

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
    remove_method_of(
        state.account_ports(),
        &SecondFactorBudget::new(&state),
        principal.user_id,
        id,
        &proof.into(),
    )
    .await
    .map_err(login_error)?;
    Ok(StatusCode::NO_CONTENT)
}
