//! `POST /api/v1/auth/mfa/methods`.

use super::list::MfaMethodView;
use crate::auth::errors::{conflict_on, device_not_registered, invalid_token, FieldErrors};
use crate::auth::password::hash_secret;
use crate::auth::second_factor::seal;
use crate::auth::SessionPrincipal;
use crate::error::{ApiError, ErrorEnvelope};
use crate::extract::ApiJson;
use crate::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tmcp_domain::auth::pin::{validate_pin, PinError};
use tmcp_domain::auth::totp::TotpKey;
use tmcp_domain::ids::uuid_v7_at;
use tmcp_repository::{MfaMethodType, NewMfaMethod, RepoError};
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

fn conflict(kind: MfaMethodType) -> ApiError {
    match kind {
        MfaMethodType::Biometric => {
            conflict_on("device_id", "this device already has a biometric method")
        }
        _ => conflict_on(
            "type",
            "a method of this type is already enabled; remove it first",
        ),
    }
}

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
    let mut errors = FieldErrors::new();
    let kind = MfaMethodType::from_db(&body.method_type);
    match kind {
        None => errors.add("type", "one of transaction_pin, totp, biometric"),
        Some(MfaMethodType::TransactionPin) => match body.pin.as_deref().map(validate_pin) {
            None => errors.add("pin", "required for transaction_pin"),
            Some(Err(PinError::Format)) => errors.add("pin", "exactly 6 digits"),
            Some(Err(PinError::AllSame)) => errors.add("pin", "too weak: all digits are the same"),
            Some(Err(PinError::Sequential)) => errors.add("pin", "too weak: a sequence"),
            Some(Ok(())) => {}
        },
        Some(MfaMethodType::Biometric) => match body.device_id.as_deref() {
            None => errors.add("device_id", "required for biometric"),
            Some(id) => {
                if let Err(m) = crate::routes::accounts::validate::identifier(id) {
                    errors.add("device_id", m);
                }
            }
        },
        Some(_) => {}
    }
    errors.into_result()?;
    let Some(kind) = kind else {
        return Err(ApiError::internal("validated type missing"));
    };

    let user = state
        .db
        .find_user(principal.user_id)
        .await?
        .ok_or_else(invalid_token)?;
    crate::auth::throttle::reauthenticate(&state, &user, body.password).await?;

    let existing = state.db.list_mfa_methods(principal.user_id).await?;
    let now = state.clock.now();
    let id = uuid_v7_at(now);
    let mut secret_base32 = None;
    let mut otpauth_uri = None;
    let new_method = match kind {
        MfaMethodType::TransactionPin => {
            if existing
                .iter()
                .any(|m| m.is_active && m.method_type == kind)
            {
                return Err(conflict(kind));
            }
            let pin = body.pin.unwrap_or_default();
            let hash = hash_secret(pin).await?;
            NewMfaMethod {
                id,
                user_id: principal.user_id,
                method_type: kind,
                method_data: seal(&state, id, hash.as_bytes()),
                device_id: None,
                is_active: true,
                created_at: now,
            }
        }
        MfaMethodType::Totp => {
            if existing
                .iter()
                .any(|m| m.is_active && m.method_type == kind)
            {
                return Err(conflict(kind));
            }
            // An abandoned enrolment is replaced by this one.
            state
                .db
                .delete_inactive_mfa_methods(principal.user_id, kind)
                .await?;
            let secret = TotpKey::generate_secret();
            let key = TotpKey::new(&secret)
                .ok_or_else(|| ApiError::internal("generated TOTP secret refused"))?;
            secret_base32 = Some(key.secret_base32());
            otpauth_uri = key.otpauth_uri(&state.settings.auth.totp_issuer, &user.username);
            NewMfaMethod {
                id,
                user_id: principal.user_id,
                method_type: kind,
                method_data: seal(&state, id, &secret),
                device_id: None,
                is_active: false,
                created_at: now,
            }
        }
        MfaMethodType::Biometric => {
            let device_id = body.device_id.unwrap_or_default();
            let device = state
                .db
                .find_device(principal.user_id, &device_id)
                .await?
                .filter(|d| d.public_key_spki.is_some())
                .ok_or_else(device_not_registered)?;
            NewMfaMethod {
                id,
                user_id: principal.user_id,
                method_type: kind,
                method_data: json!({ "v": 1, "public_key_hash": device.public_key_hash }),
                device_id: Some(device.device_id),
                is_active: true,
                created_at: now,
            }
        }
    };
    let created = match state.db.create_mfa_method(new_method).await {
        Ok(method) => method,
        Err(RepoError::Conflict { .. }) => return Err(conflict(kind)),
        Err(other) => return Err(other.into()),
    };
    Ok((
        StatusCode::CREATED,
        Json(EnrolResponse {
            method: MfaMethodView::from(&created),
            secret_base32,
            otpauth_uri,
        }),
    ))
}
