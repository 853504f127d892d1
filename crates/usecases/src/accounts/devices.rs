//! Registering a device of the user (and the public key its biometric signatures are
//! checked with).

use super::{validate, AccountPorts, AccountsError};
use crate::fields::FieldErrors;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use tmcp_domain::auth::device_key::{DeviceKeyAlg, DeviceKeyError, DevicePublicKey};
use tmcp_domain::ids::uuid_v7_at;
use tmcp_domain::UserId;
use tmcp_repository::{Device, NewDevice, RepoError};

pub const DEVICE_TYPES: [&str; 3] = ["mobile", "desktop", "tablet"];
pub const PLATFORMS: [&str; 7] = [
    "ios", "android", "windows", "macos", "linux", "web", "other",
];

/// A device as the host app describes it.
#[derive(Debug, Clone)]
pub struct DeviceRegistration {
    pub device_id: String,
    pub device_name: Option<String>,
    pub device_type: Option<String>,
    pub platform: Option<String>,
    /// `ES256` or `EdDSA`.
    pub key_alg: String,
    /// Base64 (standard, or URL-safe unpadded) of the DER SubjectPublicKeyInfo.
    pub key_spki_b64: String,
    pub attestation: Option<serde_json::Value>,
}

fn parse_key(alg: &str, spki_b64: &str, errors: &mut FieldErrors) -> Option<DevicePublicKey> {
    let Some(alg) = DeviceKeyAlg::parse(alg) else {
        errors.add("public_key.alg", "ES256 or EdDSA");
        return None;
    };
    let der = STANDARD
        .decode(spki_b64.trim())
        .or_else(|_| URL_SAFE_NO_PAD.decode(spki_b64.trim()));
    let Ok(der) = der else {
        errors.add("public_key.spki_b64", "not base64");
        return None;
    };
    match DevicePublicKey::parse(alg, &der) {
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
    }
}

/// Checks the description and the key, and records the device. A device id the user
/// already registered is `Taken`.
pub async fn register_device(
    ports: AccountPorts<'_>,
    user: UserId,
    device: DeviceRegistration,
) -> Result<Device, AccountsError> {
    let mut errors = FieldErrors::new();
    if let Err(m) = validate::identifier(&device.device_id) {
        errors.add("device_id", m);
    }
    let device_name = device
        .device_name
        .as_deref()
        .map(|n| validate::text(n, 255))
        .transpose()
        .map_err(|m| errors.add("device_name", m))
        .ok()
        .flatten();
    if let Some(kind) = &device.device_type {
        if !DEVICE_TYPES.contains(&kind.as_str()) {
            errors.add("device_type", "one of mobile, desktop, tablet");
        }
    }
    if let Some(platform) = &device.platform {
        if !PLATFORMS.contains(&platform.as_str()) {
            errors.add("platform", format!("one of {}", PLATFORMS.join(", ")));
        }
    }
    if let Some(attestation) = &device.attestation {
        if let Err(m) = validate::json_object(attestation, 16 * 1024) {
            errors.add("attestation", m);
        }
    }
    let key = parse_key(&device.key_alg, &device.key_spki_b64, &mut errors);
    errors.into_result()?;
    let Some(key) = key else {
        return Err(AccountsError::internal("validated key missing"));
    };

    let now = ports.clock.now();
    let created = ports
        .db
        .register_device(NewDevice {
            id: uuid_v7_at(now),
            user_id: user,
            device_id: device.device_id,
            device_name,
            device_type: device.device_type,
            platform: device.platform,
            public_key_alg: key.alg().as_str().into(),
            public_key_spki: key.spki_der().to_vec(),
            public_key_hash: key.fingerprint(),
            attestation: device.attestation,
            created_at: now,
        })
        .await;
    match created {
        Ok(device) => Ok(device),
        Err(RepoError::Conflict { .. }) => Err(AccountsError::Taken {
            field: "device_id",
            message: "this device is already registered",
        }),
        Err(other) => Err(other.into()),
    }
}

/// The user's registered devices, oldest first.
pub async fn devices(ports: AccountPorts<'_>, user: UserId) -> Result<Vec<Device>, AccountsError> {
    Ok(ports.db.list_devices(user).await?)
}
