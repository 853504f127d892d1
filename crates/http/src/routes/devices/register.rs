//! `POST /api/v1/devices`.

use super::views::{DeviceView, PublicKeyBody};
use crate::auth::errors::{conflict_on, FieldErrors};
use crate::auth::SessionPrincipal;
use crate::error::{ApiError, ErrorEnvelope};
use crate::extract::ApiJson;
use crate::routes::accounts::validate;
use crate::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use serde::Deserialize;
use tmcp_domain::auth::device_key::{DeviceKeyAlg, DeviceKeyError, DevicePublicKey};
use tmcp_domain::ids::uuid_v7_at;
use tmcp_repository::{NewDevice, RepoError};
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

const PLATFORMS: [&str; 7] = [
    "ios", "android", "windows", "macos", "linux", "web", "other",
];

/// Registers a device and the public key its signatures (biometric MFA, payment
/// authorisation) are checked against. The key must parse for its algorithm.
#[utoipa::path(post, path = "/api/v1/devices", tag = "devices",
    security(("session" = [])),
    request_body = RegisterDeviceRequest,
    responses(
        (status = 201, description = "device registered", body = DeviceView),
        (status = 401, description = "`INVALID_TOKEN`", body = ErrorEnvelope),
        (status = 409, description = "device id already registered", body = ErrorEnvelope),
        (status = 422, description = "invalid fields or key (`details.fields`)", body = ErrorEnvelope)))]
pub async fn register_device(
    State(state): State<AppState>,
    principal: SessionPrincipal,
    ApiJson(body): ApiJson<RegisterDeviceRequest>,
) -> Result<(StatusCode, Json<DeviceView>), ApiError> {
    let mut errors = FieldErrors::new();
    if let Err(m) = validate::identifier(&body.device_id) {
        errors.add("device_id", m);
    }
    let device_name = body
        .device_name
        .as_deref()
        .map(|n| validate::text(n, 255))
        .transpose()
        .map_err(|m| errors.add("device_name", m))
        .ok()
        .flatten();
    if let Some(kind) = &body.device_type {
        if !["mobile", "desktop", "tablet"].contains(&kind.as_str()) {
            errors.add("device_type", "one of mobile, desktop, tablet");
        }
    }
    if let Some(platform) = &body.platform {
        if !PLATFORMS.contains(&platform.as_str()) {
            errors.add("platform", format!("one of {}", PLATFORMS.join(", ")));
        }
    }
    if let Some(attestation) = &body.attestation {
        if let Err(m) = validate::json_object(attestation, 16 * 1024) {
            errors.add("attestation", m);
        }
    }
    let key = match DeviceKeyAlg::parse(&body.public_key.alg) {
        None => {
            errors.add("public_key.alg", "ES256 or EdDSA");
            None
        }
        Some(alg) => {
            let der = STANDARD
                .decode(body.public_key.spki_b64.trim())
                .or_else(|_| URL_SAFE_NO_PAD.decode(body.public_key.spki_b64.trim()));
            match der {
                Err(_) => {
                    errors.add("public_key.spki_b64", "not base64");
                    None
                }
                Ok(der) => match DevicePublicKey::parse(alg, &der) {
                    Ok(key) => Some(key),
                    Err(DeviceKeyError::NotCanonicalSpki) => {
                        errors.add("public_key.spki_b64", "must be a DER SubjectPublicKeyInfo");
                        None
                    }
                    Err(DeviceKeyError::Invalid) => {
                        errors.add(
                            "public_key.spki_b64",
                            format!("not a valid {} public key", alg.as_str()),
                        );
                        None
                    }
                },
            }
        }
    };
    errors.into_result()?;
    let Some(key) = key else {
        return Err(ApiError::internal("validated key missing"));
    };

    let now = state.clock.now();
    let created = state
        .db
        .register_device(NewDevice {
            id: uuid_v7_at(now),
            user_id: principal.user_id,
            device_id: body.device_id,
            device_name,
            device_type: body.device_type,
            platform: body.platform,
            public_key_alg: key.alg().as_str().into(),
            public_key_spki: key.spki_der().to_vec(),
            public_key_hash: key.fingerprint(),
            attestation: body.attestation,
            created_at: now,
        })
        .await;
    match created {
        Ok(device) => Ok((StatusCode::CREATED, Json(DeviceView::from(&device)))),
        Err(RepoError::Conflict { .. }) => Err(conflict_on(
            "device_id",
            "this device is already registered",
        )),
        Err(other) => Err(other.into()),
    }
}
