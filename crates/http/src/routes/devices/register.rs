//! `POST /api/v1/devices`.

use super::views::{DeviceView, PublicKeyBody};
use crate::auth::SessionPrincipal;
use crate::error::{ApiError, ErrorEnvelope};
use crate::extract::ApiJson;
use crate::AccountsState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use tmcp_usecases::accounts::devices::{register_device as register, DeviceRegistration};
use utoipa::ToSchema;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterDeviceRequest {
    /// Unique per account.
    #[schema(min_length = 1, max_length = 255, pattern = r"^[A-Za-z0-9._:-]+$")]
    pub device_id: String,
    #[schema(schema_with = crate::schema_constraints::free_text::<255>)]
    pub device_name: Option<String>,
    #[schema(schema_with = crate::schema_constraints::device_type)]
    pub device_type: Option<String>,
    #[schema(schema_with = crate::schema_constraints::platform)]
    pub platform: Option<String>,
    pub public_key: PublicKeyBody,
    /// Platform attestation document, stored as given (not verified).
    #[schema(value_type = Option<Object>)]
    pub attestation: Option<serde_json::Value>,
}

#[utoipa::path(post, path = "/api/v1/devices", tag = "devices",
    security(("session" = [])),
    request_body = RegisterDeviceRequest,
    responses(
        (status = 201, description = "device registered", body = DeviceView),
        (status = 401, description = "`INVALID_TOKEN`", body = ErrorEnvelope),
        (status = 409, description = "device id already registered", body = ErrorEnvelope),
        (status = 422, description = "invalid fields or key (`details.fields`)", body = ErrorEnvelope)))]
pub async fn register_device(
    State(accounts): State<AccountsState>,
    principal: SessionPrincipal,
    ApiJson(body): ApiJson<RegisterDeviceRequest>,
) -> Result<(StatusCode, Json<DeviceView>), ApiError> {
    let device = register(
        accounts.ports(),
        principal.user_id,
        DeviceRegistration {
            device_id: body.device_id,
            device_name: body.device_name,
            device_type: body.device_type,
            platform: body.platform,
            key_alg: body.public_key.alg,
            key_spki_b64: body.public_key.spki_b64,
            attestation: body.attestation,
        },
    )
    .await?;
    Ok((StatusCode::CREATED, Json(DeviceView::from(&device))))
}
