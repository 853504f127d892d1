//! `POST /api/v1/auth/mfa/methods/{id}/confirm`.

use super::list::MfaMethodView;
use crate::auth::throttle::SecondFactorBudget;
use crate::auth::SessionPrincipal;
use crate::error::{login_error, ApiError, ErrorEnvelope};
use crate::extract::ApiJson;
use crate::routes::accounts::path_uuid;
use crate::AppState;
use axum::extract::{Path, State};
use axum::Json;
use serde::Deserialize;
use tmcp_usecases::accounts::mfa_changes::confirm_totp;
use utoipa::ToSchema;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfirmRequest {
    /// The current 6-digit code from the authenticator app.
    #[schema(max_length = 16, pattern = r"^[0-9]{6}$")]
    pub code: String,
}

crate::auth::redacted_debug!(ConfirmRequest { ; code });

/// Activates a TOTP enrolment with a code from the app (which proves the secret was saved).
#[utoipa::path(post, path = "/api/v1/auth/mfa/methods/{id}/confirm", tag = "mfa",
    security(("session" = [])),
    params(("id" = String, Path, format = Uuid, description = "method id (a UUID; anything else is 404)")),
    request_body = ConfirmRequest,
    responses(
        (status = 200, description = "method active", body = MfaMethodView),
        (status = 401, description = "`INVALID_TOKEN` or `INVALID_MFA_CREDENTIALS`", body = ErrorEnvelope),
        (status = 404, description = "no such method", body = ErrorEnvelope),
        (status = 409, description = "not a pending TOTP enrolment", body = ErrorEnvelope)))]
pub async fn confirm_method(
    State(state): State<AppState>,
    principal: SessionPrincipal,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ConfirmRequest>,
) -> Result<Json<MfaMethodView>, ApiError> {
    let id = path_uuid(&id, "MFA method")?;
    let method = confirm_totp(
        state.account_ports(),
        &SecondFactorBudget::new(&state),
        principal.user_id,
        id,
        &body.code,
    )
    .await
    .map_err(login_error)?;
    Ok(Json(MfaMethodView::from(&method)))
}
