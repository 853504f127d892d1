//! `GET /api/v1/auth/mfa/methods`.

use crate::auth::SessionPrincipal;
use crate::error::{ApiError, ErrorEnvelope};
use crate::AppState;
use axum::extract::State;
use axum::Json;
use serde::Serialize;
use time::OffsetDateTime;
use tmcp_repository::MfaMethod;
use utoipa::ToSchema;

/// An enrolled method, without its secret.
#[derive(Debug, Serialize, ToSchema)]
pub struct MfaMethodView {
    pub method_id: String,
    /// `totp`, `transaction_pin` or `biometric`.
    #[serde(rename = "type")]
    pub method_type: &'static str,
    /// False for a TOTP enrolment that was not confirmed yet.
    pub is_active: bool,
    pub is_primary: bool,
    /// The device a biometric method is bound to.
    pub device_id: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

impl From<&MfaMethod> for MfaMethodView {
    fn from(method: &MfaMethod) -> Self {
        Self {
            method_id: method.id.to_string(),
            method_type: method.method_type.as_db(),
            is_active: method.is_active,
            is_primary: method.is_primary,
            device_id: method.device_id.clone(),
            created_at: method.created_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MfaMethodList {
    pub methods: Vec<MfaMethodView>,
}

/// The caller's enrolled second factors (never their secrets).
#[utoipa::path(get, path = "/api/v1/auth/mfa/methods", tag = "mfa",
    security(("session" = [])),
    responses(
        (status = 200, description = "methods", body = MfaMethodList),
        (status = 401, description = "`INVALID_TOKEN`", body = ErrorEnvelope)))]
pub async fn list_methods(
    State(state): State<AppState>,
    principal: SessionPrincipal,
) -> Result<Json<MfaMethodList>, ApiError> {
    let methods = state.db.list_mfa_methods(principal.user_id).await?;
    Ok(Json(MfaMethodList {
        methods: methods.iter().map(MfaMethodView::from).collect(),
    }))
}
