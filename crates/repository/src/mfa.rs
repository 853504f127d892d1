use crate::RepoResult;
use async_trait::async_trait;
use time::OffsetDateTime;
use tmcp_domain::UserId;
use uuid::Uuid;

/// `mfa_methods.method_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MfaMethodType {
    TransactionPin,
    Totp,
    Biometric,
}

impl MfaMethodType {
    pub fn as_db(self) -> &'static str {
        match self {
            Self::TransactionPin => "transaction_pin",
            Self::Totp => "totp",
            Self::Biometric => "biometric",
        }
    }

    pub fn from_db(value: &str) -> Option<Self> {
        match value {
            "transaction_pin" => Some(Self::TransactionPin),
            "totp" => Some(Self::Totp),
            "biometric" => Some(Self::Biometric),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct NewMfaMethod {
    pub id: Uuid,
    pub user_id: UserId,
    pub method_type: MfaMethodType,
    /// Application-produced document; secrets inside are encrypted by the caller.
    pub method_data: serde_json::Value,
    /// The registered device a biometric method is bound to (`None` for other types).
    pub device_id: Option<String>,
    /// Inactive methods (an unconfirmed TOTP) do not count as a second factor.
    pub is_active: bool,
    pub created_at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq)]
pub struct MfaMethod {
    pub id: Uuid,
    pub user_id: UserId,
    pub method_type: MfaMethodType,
    pub method_data: serde_json::Value,
    pub device_id: Option<String>,
    pub is_primary: bool,
    pub is_active: bool,
    /// TOTP step (or biometric timestamp) of the last accepted proof.
    pub last_used_step: Option<i64>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

/// Second factors. Every change that activates or removes a method recomputes
/// `users.mfa_enabled` (true while the user has an active method) in the same transaction.
#[async_trait]
pub trait MfaRepository: Send + Sync {
    /// Fails with `Conflict` when the user already has an active method of this type (PIN,
    /// TOTP) or a biometric method for this device.
    async fn create_mfa_method(&self, method: NewMfaMethod) -> RepoResult<MfaMethod>;
    /// Every method of the user, oldest first.
    async fn list_mfa_methods(&self, user: UserId) -> RepoResult<Vec<MfaMethod>>;
    async fn find_mfa_method(&self, user: UserId, id: Uuid) -> RepoResult<Option<MfaMethod>>;
    /// Activates an inactive method; `false` if there is no such inactive method.
    async fn activate_mfa_method(
        &self,
        user: UserId,
        id: Uuid,
        now: OffsetDateTime,
    ) -> RepoResult<bool>;
    /// `false` if the user has no such method.
    async fn delete_mfa_method(&self, user: UserId, id: Uuid) -> RepoResult<bool>;
    /// Removes the user's unconfirmed methods of one type (an abandoned TOTP enrolment).
    async fn delete_inactive_mfa_methods(
        &self,
        user: UserId,
        method_type: MfaMethodType,
    ) -> RepoResult<u64>;
    /// Records that a proof of `step` was accepted, only if `step` is newer than the last
    /// recorded one. `false` means it was not (a replay, possibly a concurrent one).
    async fn record_mfa_use(
        &self,
        user: UserId,
        id: Uuid,
        step: i64,
        now: OffsetDateTime,
    ) -> RepoResult<bool>;
}
