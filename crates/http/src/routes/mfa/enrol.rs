//! `POST /api/v1/auth/mfa/methods`.

use super::list::MfaMethodView;
use crate::auth::throttle::AccountBudget;
use crate::auth::SessionPrincipal;
use crate::error::{login_error, ApiError, ErrorEnvelope};
use crate::extract::ApiJson;
use crate::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use tmcp_usecases::accounts::mfa::{enrol_method as enrol_method_for, MfaEnrolment};
use utoipa::ToSchema;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnrolRequest {
    #[serde(rename = "type")]
    #[schema(schema_with = crate::schema_constraints::mfa_method_type)]
    pub method_type: String,
    /// The account password (re-authentication).
    #[schema(max_length = 128)]
    pub password: String,
    /// For `transaction_pin`: 6 digits, not all the same, not a sequence.
    #[schema(pattern = r"^[0-9]{6}$")]
    pub pin: Option<String>,
    /// For `biometric`: a registered device of the caller.
    #[schema(schema_with = crate::schema_constraints::identifier)]
    pub device_id: Option<String>,
}

crate::auth::redacted_debug!(EnrolRequest { method_type, device_id; password, pin });

#[derive(Serialize, ToSchema)]
pub struct EnrolResponse {
    #[serde(flatten)]
    pub method: MfaMethodView,
    /// TOTP only: the shared secret, shown once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret_base32: Option<String>,
    /// TOTP only: `otpauth://totp/…` for authenticator apps (QR code).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub otpauth_uri: Option<String>,
}

crate::auth::redacted_debug!(EnrolResponse { method; secret_base32, otpauth_uri });

/// Enrols a second factor. A PIN or a biometric method is active at once; a TOTP method is
/// active after `POST …/{id}/confirm` with a code from the app.
#[utoipa::path(post, path = "/api/v1/auth/mfa/methods", tag = "mfa",
    security(("session" = [])),
    request_body = EnrolRequest,
    responses(
        (status = 201, description = "method enrolled", body = EnrolResponse),
        (status = 400, description = "`DEVICE_NOT_REGISTERED`", body = ErrorEnvelope),
        (status = 401, description = "`INVALID_TOKEN` or `INVALID_CREDENTIALS` (password)", body = ErrorEnvelope),
        (status = 409, description = "already enrolled", body = ErrorEnvelope),
        (status = 422, description = "invalid or weak PIN, unknown type (`details.fields`)", body = ErrorEnvelope),
        (status = 429, description = "too many wrong passwords for this account (`Retry-After`)", body = ErrorEnvelope)))]
pub async fn enrol_method(
    State(state): State<AppState>,
    principal: SessionPrincipal,
    ApiJson(body): ApiJson<EnrolRequest>,
) -> Result<(StatusCode, Json<EnrolResponse>), ApiError> {
    let enrolled = enrol_method_for(
        state.account_ports(),
        &state.settings.auth,
        &AccountBudget::new(&state),
        principal.user_id,
        MfaEnrolment {
            method_type: body.method_type,
            password: body.password,
            pin: body.pin,
            device_id: body.device_id,
        },
    )
    .await
    .map_err(login_error)?;
    Ok((
        StatusCode::CREATED,
        Json(EnrolResponse {
            method: MfaMethodView::from(&enrolled.method),
            secret_base32: enrolled.secret_base32,
            otpauth_uri: enrolled.otpauth_uri,
        }),
    ))
}
