use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use tmcp_repository::Device;
use utoipa::ToSchema;

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PublicKeyBody {
    #[schema(schema_with = crate::schema_constraints::key_algorithm)]
    pub alg: String,
    /// Base64 of the DER SubjectPublicKeyInfo.
    #[schema(
        pattern = r"^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{4}|[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)$"
    )]
    pub spki_b64: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeviceView {
    pub device_id: String,
    pub device_name: Option<String>,
    pub device_type: Option<String>,
    pub platform: Option<String>,
    pub public_key: Option<PublicKeyBody>,
    /// `sha256:<hex>` of the SPKI.
    pub public_key_hash: Option<String>,
    pub is_trusted: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_used_at: Option<OffsetDateTime>,
}

impl From<&Device> for DeviceView {
    fn from(device: &Device) -> Self {
        let public_key = match (&device.public_key_alg, &device.public_key_spki) {
            (Some(alg), Some(spki)) => Some(PublicKeyBody {
                alg: alg.clone(),
                spki_b64: STANDARD.encode(spki),
            }),
            _ => None,
        };
        Self {
            device_id: device.device_id.clone(),
            device_name: device.device_name.clone(),
            device_type: device.device_type.clone(),
            platform: device.platform.clone(),
            public_key,
            public_key_hash: device.public_key_hash.clone(),
            is_trusted: device.is_trusted,
            created_at: device.created_at,
            last_used_at: device.last_used_at,
        }
    }
}
