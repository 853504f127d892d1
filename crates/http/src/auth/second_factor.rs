//! Second-factor checks shared by login, MFA management (and payments): TOTP codes, the
//! transaction PIN and biometric signatures by a registered device key.
//!
//! Secrets in `mfa_methods.method_data` are sealed with the column cipher, bound to
//! `mfa_methods.method_data:<method id>`: `{"v":1,"sealed":"<base64>"}` holds the TOTP
//! secret bytes or the PIN's Argon2id PHC string. Biometric methods store only the
//! fingerprint of the device key they were bound to.

use super::errors::FieldErrors;
use super::password::verify_secret;
use crate::error::ApiError;
use crate::state::AppState;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde::Deserialize;
use serde_json::{json, Value};
use tmcp_domain::auth::biometric::{challenge, check_timestamp};
use tmcp_domain::auth::device_key::{DeviceKeyAlg, DevicePublicKey};
use tmcp_domain::auth::pin::looks_like_pin;
use tmcp_domain::auth::totp::TotpKey;
use tmcp_domain::UserId;
use tmcp_repository::{MfaMethod, MfaMethodType};
use utoipa::ToSchema;
use uuid::Uuid;

/// A proof of the second factor. Give `code` (TOTP), `pin`, or `device_id` + `signature` +
/// `timestamp` (biometric: the device key's signature, base64, over
/// `tmcp-mfa:{action}:{device_id}:{timestamp}`, at most 30 s old).
#[derive(Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SecondFactorProof {
    #[schema(schema_with = crate::openapi::constraints::mfa_method_type_optional)]
    pub method: Option<String>,
    /// A 6-digit TOTP code (or, without `method`, a PIN).
    #[schema(max_length = 16)]
    pub code: Option<String>,
    #[schema(max_length = 16)]
    pub pin: Option<String>,
    #[schema(max_length = 255)]
    pub device_id: Option<String>,
    /// Base64 signature by the device key.
    #[schema(max_length = 1024)]
    pub signature: Option<String>,
    /// Unix seconds that were signed.
    pub timestamp: Option<i64>,
}

super::redacted_debug!(SecondFactorProof { method, device_id, timestamp; code, pin, signature });

/// Longest `code` or `pin` looked at (TOTP codes have 6–8 digits, PINs 6).
pub const MAX_CODE_CHARS: usize = 16;
/// Longest base64 signature accepted (an ES256 DER signature is at most 72 bytes).
pub const MAX_SIGNATURE_CHARS: usize = 1024;

impl SecondFactorProof {
    /// Adds an error to `errors` (field names under `prefix`) for each oversized field.
    pub fn check_sizes(&self, prefix: &str, errors: &mut FieldErrors) {
        let too_long = |value: &Option<String>, max: usize| {
            value.as_deref().is_some_and(|v| v.chars().count() > max)
        };
        for (field, value, max) in [
            ("method", &self.method, 32),
            ("code", &self.code, MAX_CODE_CHARS),
            ("pin", &self.pin, MAX_CODE_CHARS),
            ("device_id", &self.device_id, 255),
            ("signature", &self.signature, MAX_SIGNATURE_CHARS),
        ] {
            if too_long(value, max) {
                errors.add(
                    &format!("{prefix}{field}"),
                    format!("at most {max} characters"),
                );
            }
        }
    }
}

/// A proof sent as an optional JSON body (empty when the operation needs none).
pub fn optional_proof(body: &[u8]) -> Result<SecondFactorProof, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(SecondFactorProof::default());
    }
    let proof: SecondFactorProof = serde_json::from_slice(body).map_err(|e| {
        ApiError::new(
            axum::http::StatusCode::UNPROCESSABLE_ENTITY,
            "VALIDATION_FAILED",
            "request body does not match the expected shape",
        )
        .with_details(json!({ "fields": { "body": e.to_string() } }))
    })?;
    let mut errors = FieldErrors::new();
    proof.check_sizes("", &mut errors);
    errors.into_result()?;
    Ok(proof)
}

/// The cipher context of a method's sealed secret.
pub fn sealing_context(method_id: Uuid) -> String {
    format!("mfa_methods.method_data:{method_id}")
}

/// `method_data` for a sealed secret.
pub fn seal(state: &AppState, method_id: Uuid, secret: &[u8]) -> Value {
    let sealed = state.cipher.encrypt(secret, &sealing_context(method_id));
    json!({ "v": 1, "sealed": STANDARD.encode(sealed) })
}

/// The secret inside `method_data`.
pub fn unseal(state: &AppState, method: &MfaMethod) -> Result<Vec<u8>, ApiError> {
    let sealed = method
        .method_data
        .get("sealed")
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::internal(format!("MFA method {} has no secret", method.id)))?;
    let bytes = STANDARD.decode(sealed).map_err(ApiError::internal)?;
    state
        .cipher
        .decrypt(&bytes, &sealing_context(method.id))
        .map_err(ApiError::internal)
}

/// Wire names of the active methods, for `MFA_REQUIRED` details.
pub fn method_names(methods: &[MfaMethod]) -> Vec<&'static str> {
    let mut names: Vec<&'static str> = methods
        .iter()
        .filter(|m| m.is_active)
        .map(|m| m.method_type.as_db())
        .collect();
    names.sort_unstable();
    names.dedup();
    names
}

fn unix_now(state: &AppState) -> i64 {
    state.clock.now().unix_timestamp()
}

/// Checks a TOTP code against one method and consumes its time step.
pub async fn check_totp(
    state: &AppState,
    user: UserId,
    method: &MfaMethod,
    code: &str,
) -> Result<bool, ApiError> {
    let secret = unseal(state, method)?;
    let key = TotpKey::new(&secret)
        .ok_or_else(|| ApiError::internal(format!("MFA method {} has a bad secret", method.id)))?;
    let now = unix_now(state);
    let Ok(now_secs) = u64::try_from(now) else {
        return Ok(false);
    };
    let last = method.last_used_step.and_then(|s| u64::try_from(s).ok());
    let Ok(step) = key.verify(code, now_secs, last) else {
        return Ok(false);
    };
    let step = i64::try_from(step).map_err(ApiError::internal)?;
    // The conditional write is the real replay guard: of two concurrent uses, one wins.
    Ok(state
        .db
        .record_mfa_use(user, method.id, step, state.clock.now())
        .await?)
}

async fn check_pin(state: &AppState, method: &MfaMethod, pin: &str) -> Result<bool, ApiError> {
    if !looks_like_pin(pin) {
        return Ok(false);
    }
    let stored = String::from_utf8(unseal(state, method)?).map_err(ApiError::internal)?;
    verify_secret(pin.to_owned(), stored).await
}

async fn check_biometric(
    state: &AppState,
    user: UserId,
    method: &MfaMethod,
    proof: &SecondFactorProof,
    action: &str,
) -> Result<bool, ApiError> {
    let (Some(device_id), Some(signature), Some(timestamp)) =
        (&proof.device_id, &proof.signature, proof.timestamp)
    else {
        return Ok(false);
    };
    if method.device_id.as_deref() != Some(device_id.as_str()) {
        return Ok(false);
    }
    let now = unix_now(state);
    if check_timestamp(timestamp, now, method.last_used_step).is_err() {
        return Ok(false);
    }
    let Some(device) = state.db.find_device(user, device_id).await? else {
        return Ok(false);
    };
    let (Some(alg), Some(spki)) = (
        device
            .public_key_alg
            .as_deref()
            .and_then(DeviceKeyAlg::parse),
        device.public_key_spki.as_deref(),
    ) else {
        return Ok(false);
    };
    let Ok(key) = DevicePublicKey::parse(alg, spki) else {
        return Ok(false);
    };
    let Some(signature) = decode_signature(signature) else {
        return Ok(false);
    };
    let message = challenge(action, device_id, timestamp);
    if !key.verify(message.as_bytes(), &signature) {
        return Ok(false);
    }
    let accepted = state
        .db
        .record_mfa_use(user, method.id, timestamp, state.clock.now())
        .await?;
    if accepted {
        state
            .db
            .touch_device(user, device_id, state.clock.now())
            .await?;
    }
    Ok(accepted)
}

/// Base64 (standard or URL-safe, padded or not) of a signature; `None` when malformed or
/// implausibly long.
pub fn decode_signature(text: &str) -> Option<Vec<u8>> {
    use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    if text.len() > MAX_SIGNATURE_CHARS {
        return None;
    }
    [&STANDARD, &STANDARD_NO_PAD, &URL_SAFE, &URL_SAFE_NO_PAD]
        .iter()
        .find_map(|engine| engine.decode(text).ok())
}

/// Checks `proof` against the user's active methods. Returns the type of the method that
/// accepted it, or `None`. `action` is what a biometric signature must name.
pub async fn verify_second_factor(
    state: &AppState,
    user: UserId,
    methods: &[MfaMethod],
    proof: &SecondFactorProof,
    action: &str,
) -> Result<Option<MfaMethodType>, ApiError> {
    let wanted = match proof.method.as_deref() {
        None => None,
        Some(name) => match MfaMethodType::from_db(name) {
            Some(kind) => Some(kind),
            None => return Ok(None),
        },
    };
    let allows = |kind: MfaMethodType| wanted.is_none() || wanted == Some(kind);
    for method in methods.iter().filter(|m| m.is_active) {
        let accepted = match method.method_type {
            MfaMethodType::Totp if allows(MfaMethodType::Totp) => match &proof.code {
                Some(code) => check_totp(state, user, method, code).await?,
                None => false,
            },
            MfaMethodType::TransactionPin if allows(MfaMethodType::TransactionPin) => {
                let pin = proof.pin.as_deref().or(if wanted.is_none() {
                    proof.code.as_deref()
                } else {
                    None
                });
                match pin {
                    Some(pin) => check_pin(state, method, pin).await?,
                    None => false,
                }
            }
            MfaMethodType::Biometric if allows(MfaMethodType::Biometric) => {
                check_biometric(state, user, method, proof, action).await?
            }
            _ => false,
        };
        if accepted {
            return Ok(Some(method.method_type));
        }
    }
    Ok(None)
}
