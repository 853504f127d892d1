use crate::RepoResult;
use async_trait::async_trait;
use time::OffsetDateTime;
use tmcp_domain::UserId;
use uuid::Uuid;

#[derive(Debug, Clone)]
pub struct NewDevice {
    pub id: Uuid,
    pub user_id: UserId,
    pub device_id: String,
    pub device_name: Option<String>,
    /// `mobile`, `desktop` or `tablet`.
    pub device_type: Option<String>,
    pub platform: Option<String>,
    /// `ES256` or `EdDSA`.
    pub public_key_alg: String,
    /// Canonical DER SubjectPublicKeyInfo.
    pub public_key_spki: Vec<u8>,
    /// `sha256:<hex>` of the SPKI.
    pub public_key_hash: String,
    pub attestation: Option<serde_json::Value>,
    pub created_at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Device {
    pub id: Uuid,
    pub user_id: UserId,
    pub device_id: String,
    pub device_name: Option<String>,
    pub device_type: Option<String>,
    pub platform: Option<String>,
    pub public_key_alg: Option<String>,
    pub public_key_spki: Option<Vec<u8>>,
    pub public_key_hash: Option<String>,
    pub is_trusted: bool,
    pub created_at: OffsetDateTime,
    pub last_used_at: Option<OffsetDateTime>,
    pub last_seen_at: OffsetDateTime,
}

/// Devices a user registered, with the public keys their signatures are checked against.
#[async_trait]
pub trait DeviceRepository: Send + Sync {
    /// Fails with `Conflict { constraint: "device_registrations_user_id_device_id_key" }` when
    /// the user already registered this `device_id`.
    async fn register_device(&self, device: NewDevice) -> RepoResult<Device>;
    /// The user's devices, oldest first.
    async fn list_devices(&self, user: UserId) -> RepoResult<Vec<Device>>;
    async fn find_device(&self, user: UserId, device_id: &str) -> RepoResult<Option<Device>>;
    /// Removes the device and the biometric MFA methods bound to it (recomputing
    /// `users.mfa_enabled`); `false` when the user has no such device.
    async fn remove_device(&self, user: UserId, device_id: &str) -> RepoResult<bool>;
    /// Records a successful signature by the device (`last_used_at`, `last_seen_at`).
    async fn touch_device(
        &self,
        user: UserId,
        device_id: &str,
        now: OffsetDateTime,
    ) -> RepoResult<()>;
}
