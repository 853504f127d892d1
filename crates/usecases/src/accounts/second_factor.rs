//! Second-factor checks shared by login, MFA management (and payments): TOTP codes, the
//! transaction PIN and biometric signatures by a registered device key.
//!
//! Secrets in `mfa_methods.method_data` are sealed with the column cipher, bound to
//! `mfa_methods.method_data:<method id>`: `{"v":1,"sealed":"<base64>"}` holds the TOTP
//! secret bytes or the PIN's Argon2id PHC string. Biometric methods store only the
//! fingerprint of the device key they were bound to.

use super::password::verify_secret;
use super::{AccountPorts, AccountsError};
use crate::fields::FieldErrors;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::{json, Value};
use tmcp_domain::auth::biometric::{challenge, check_timestamp};
use tmcp_domain::auth::device_key::{DeviceKeyAlg, DevicePublicKey};
use tmcp_domain::auth::pin::looks_like_pin;
use tmcp_domain::auth::totp::TotpKey;
use tmcp_domain::crypto::FieldCipher;
use tmcp_domain::UserId;
use tmcp_repository::{MfaMethod, MfaMethodType};
use uuid::Uuid;

/// Longest `code` or `pin` looked at (TOTP codes have 6–8 digits, PINs 6), in characters.
pub const MAX_CODE_CHARS: usize = 16;
/// Longest base64 signature accepted (an ES256 DER signature is at most 72 bytes).
pub const MAX_SIGNATURE_CHARS: usize = 1024;

/// A proof of the second factor: `code` (TOTP, or without `method` a PIN), `pin`, or
/// `device_id` + `signature` + `timestamp` (biometric: the device key's signature over
/// `tmcp-mfa:{action}:{device_id}:{timestamp}`, at most 30 s old).
#[derive(Clone, Default)]
pub struct SecondFactor {
    pub method: Option<String>,
    pub code: Option<String>,
    pub pin: Option<String>,
    pub device_id: Option<String>,
    pub signature: Option<String>,
    pub timestamp: Option<i64>,
}

impl std::fmt::Debug for SecondFactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecondFactor")
            .field("method", &self.method)
            .field("device_id", &self.device_id)
            .field("timestamp", &self.timestamp)
            .field("code", &"<redacted>")
            .field("pin", &"<redacted>")
            .field("signature", &"<redacted>")
            .finish()
    }
}

impl SecondFactor {
    /// A bare one-time code (TOTP, or a PIN).
    pub fn code(code: impl Into<String>) -> Self {
        Self {
            code: Some(code.into()),
            ..Self::default()
        }
    }

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
                    format!("{prefix}{field}"),
                    format!("at most {max} characters"),
                );
            }
        }
    }
}

/// The cipher context of a method's sealed secret.
pub fn sealing_context(method_id: Uuid) -> String {
    format!("mfa_methods.method_data:{method_id}")
}

/// `method_data` for a sealed secret.
pub fn seal(cipher: &FieldCipher, method_id: Uuid, secret: &[u8]) -> Value {
    let sealed = cipher.encrypt(secret, &sealing_context(method_id));
    json!({ "v": 1, "sealed": STANDARD.encode(sealed) })
}

/// The secret inside `method_data`.
pub fn unseal(cipher: &FieldCipher, method: &MfaMethod) -> Result<Vec<u8>, AccountsError> {
    let sealed = method
        .method_data
        .get("sealed")
        .and_then(Value::as_str)
        .ok_or_else(|| {
            AccountsError::Internal(format!("MFA method {} has no secret", method.id))
        })?;
    let bytes = STANDARD.decode(sealed).map_err(AccountsError::internal)?;
    cipher
        .decrypt(&bytes, &sealing_context(method.id))
        .map_err(AccountsError::internal)
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

/// Checks a TOTP code against one method and consumes its time step.
pub async fn check_totp(
    ports: AccountPorts<'_>,
    user: UserId,
    method: &MfaMethod,
    code: &str,
) -> Result<bool, AccountsError> {
    let secret = unseal(ports.cipher, method)?;
    let key = TotpKey::new(&secret).ok_or_else(|| {
        AccountsError::Internal(format!("MFA method {} has a bad secret", method.id))
    })?;
    let now = ports.clock.now();
    let Ok(now_secs) = u64::try_from(now.unix_timestamp()) else {
        return Ok(false);
    };
    let last = method.last_used_step.and_then(|s| u64::try_from(s).ok());
    let Ok(step) = key.verify(code, now_secs, last) else {
        return Ok(false);
    };
    let step = i64::try_from(step).map_err(AccountsError::internal)?;
    // The conditional write is the real replay guard: of two concurrent uses, one wins.
    Ok(ports.db.record_mfa_use(user, method.id, step, now).await?)
}

async fn check_pin(
    ports: AccountPorts<'_>,
    method: &MfaMethod,
    pin: &str,
) -> Result<bool, AccountsError> {
    if !looks_like_pin(pin) {
        return Ok(false);
    }
    let stored =
        String::from_utf8(unseal(ports.cipher, method)?).map_err(AccountsError::internal)?;
    verify_secret(pin.to_owned(), stored).await
}

async fn check_biometric(
    ports: AccountPorts<'_>,
    user: UserId,
    method: &MfaMethod,
    proof: &SecondFactor,
    action: &str,
) -> Result<bool, AccountsError> {
    let (Some(device_id), Some(signature), Some(timestamp)) =
        (&proof.device_id, &proof.signature, proof.timestamp)
    else {
        return Ok(false);
    };
    if method.device_id.as_deref() != Some(device_id.as_str()) {
        return Ok(false);
    }
    let now = ports.clock.now().unix_timestamp();
    if check_timestamp(timestamp, now, method.last_used_step).is_err() {
        return Ok(false);
    }
    let Some(device) = ports.db.find_device(user, device_id).await? else {
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
    let accepted = ports
        .db
        .record_mfa_use(user, method.id, timestamp, ports.clock.now())
        .await?;
    if accepted {
        ports
            .db
            .touch_device(user, device_id, ports.clock.now())
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
    ports: AccountPorts<'_>,
    user: UserId,
    methods: &[MfaMethod],
    proof: &SecondFactor,
    action: &str,
) -> Result<Option<MfaMethodType>, AccountsError> {
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
                Some(code) => check_totp(ports, user, method, code).await?,
                None => false,
            },
            MfaMethodType::TransactionPin if allows(MfaMethodType::TransactionPin) => {
                let pin = proof.pin.as_deref().or(if wanted.is_none() {
                    proof.code.as_deref()
                } else {
                    None
                });
                match pin {
                    Some(pin) => check_pin(ports, method, pin).await?,
                    None => false,
                }
            }
            MfaMethodType::Biometric if allows(MfaMethodType::Biometric) => {
                check_biometric(ports, user, method, proof, action).await?
            }
            _ => false,
        };
        if accepted {
            return Ok(Some(method.method_type));
        }
    }
    Ok(None)
}
