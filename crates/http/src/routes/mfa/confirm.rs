//! `POST /api/v1/auth/mfa/methods/{id}/confirm`.

use super::list::MfaMethodView;
use crate::auth::errors::{conflict_on, invalid_mfa_credentials, FieldErrors};
use crate::auth::second_factor::{check_totp, MAX_CODE_CHARS};
use crate::auth::SessionPrincipal;
use crate::error::{ApiError, ErrorEnvelope};
use crate::extract::ApiJson;
use crate::routes::accounts::path_uuid;
use crate::AppState;
use axum::extract::{Path, State};
use axum::Json;
use serde::Deserialize;
use tmcp_repository::MfaMethodType;
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
    if body.code.chars().count() > MAX_CODE_CHARS {
        let mut errors = FieldErrors::new();
        errors.add("code", format!("at most {MAX_CODE_CHARS} characters"));
        errors.into_result()?;
    }
    let method = state
        .db
        .find_mfa_method(principal.user_id, id)
        .await?
        .ok_or_else(|| ApiError::not_found("no such MFA method"))?;
    if method.method_type != MfaMethodType::Totp || method.is_active {
        return Err(conflict_on(
            "id",
            "only a pending TOTP enrolment can be confirmed",
        ));
    }
    crate::auth::throttle::mfa_attempt(&state, &principal.user_id.to_string()).await?;
    if !check_totp(&state, principal.user_id, &method, &body.code).await? {
        return Err(invalid_mfa_credentials());
    }
    if !state
        .db
        .activate_mfa_method(principal.user_id, id, state.clock.now())
        .await?
    {
        return Err(conflict_on(
            "id",
            "only a pending TOTP enrolment can be confirmed",
        ));
    }
    let method = state
        .db
        .find_mfa_method(principal.user_id, id)
        .await?
        .ok_or_else(|| ApiError::not_found("no such MFA method"))?;
    Ok(Json(MfaMethodView::from(&method)))
}
