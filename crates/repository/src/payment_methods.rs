//! Payment methods: provider tokens a user tops up from (`payment_methods`). Only tokens and
//! display data are stored; the use case refuses card numbers and security codes before
//! anything reaches this trait. Every call is scoped to its user: another user's method is
//! not found.

use crate::RepoResult;
use async_trait::async_trait;
use serde_json::Value;
use time::OffsetDateTime;
use tmcp_domain::UserId;
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq)]
pub struct PaymentMethod {
    pub id: Uuid,
    pub user_id: UserId,
    /// `card`, `bank_account` or `digital_wallet`.
    pub method_type: String,
    /// The processor that issued the token, e.g. `sandbox`.
    pub provider: String,
    pub provider_method_id: String,
    /// Display data only (brand, last4, expiry).
    pub method_data: Value,
    pub is_default: bool,
    pub is_active: bool,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

#[derive(Debug, Clone)]
pub struct NewPaymentMethod {
    /// A v7 id from the injected clock.
    pub id: Uuid,
    pub user_id: UserId,
    pub method_type: String,
    pub provider: String,
    pub provider_method_id: String,
    pub method_data: Value,
    /// Make it the default. A user's first active method becomes the default anyway.
    pub make_default: bool,
    pub at: OffsetDateTime,
}

#[async_trait]
pub trait PaymentMethodRepository: Send + Sync {
    /// Adds the method; `RepoError::Conflict` when (provider, provider_method_id) exists.
    async fn add_payment_method(&self, method: NewPaymentMethod) -> RepoResult<PaymentMethod>;

    /// The user's active methods, oldest first.
    async fn payment_methods(&self, user: UserId) -> RepoResult<Vec<PaymentMethod>>;

    /// One of the user's active methods.
    async fn payment_method(&self, user: UserId, id: Uuid) -> RepoResult<Option<PaymentMethod>>;

    /// Deactivates one of the user's active methods (top-ups keep referring to it) and clears
    /// its default flag; `false` when the user has no such active method.
    async fn remove_payment_method(
        &self,
        user: UserId,
        id: Uuid,
        at: OffsetDateTime,
    ) -> RepoResult<bool>;

    /// Makes one of the user's active methods the default (and no other); `None` when the
    /// user has no such active method.
    async fn set_default_payment_method(
        &self,
        user: UserId,
        id: Uuid,
        at: OffsetDateTime,
    ) -> RepoResult<Option<PaymentMethod>>;
}
