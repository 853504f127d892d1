//! Top-ups: money entering a user's wallet from a payment method. The rules are written once
//! in [`crate::top_up_tx`]; engines provide the unit of work. See docs/wallet.md.

use crate::idempotency::{IdempotencyRecord, IdempotencyScope, StoredReply};
use crate::wallets::WalletError;
use crate::{RepoError, RepoResult};
use async_trait::async_trait;
use time::OffsetDateTime;
use tmcp_domain::wallet::{TopUpState, WalletAccountId};
use tmcp_domain::{Money, UserId};
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopUp {
    /// A v7 id from the injected clock; also the processor's idempotency key.
    pub id: Uuid,
    pub user_id: UserId,
    pub payment_method_id: Uuid,
    pub amount: Money,
    pub state: TopUpState,
    /// The processor asked (the method's provider).
    pub processor: String,
    /// The token charged.
    pub provider_method_id: String,
    /// The request's idempotency key (scope: the session, `-`).
    pub idempotency_key: String,
    pub processor_transaction_id: Option<String>,
    pub failure_reason: Option<String>,
    /// The ledger movement of a completed top-up.
    pub movement_id: Option<Uuid>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    pub settled_at: Option<OffsetDateTime>,
}

impl TopUp {
    /// The scope of its idempotency key: top-ups are made with the user's session.
    pub fn idempotency_scope(&self) -> IdempotencyScope {
        IdempotencyScope {
            app_id: None,
            user_id: self.user_id,
        }
    }
}

/// The first unit of work: claim the key, then insert the top-up (`processing`).
#[derive(Debug, Clone)]
pub struct NewTopUp {
    pub top_up: TopUp,
    /// Its `resource_id` is the top-up's id.
    pub idempotency: IdempotencyRecord,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TopUpBegin {
    /// The key was new: the top-up was inserted.
    Created(TopUp),
    /// The key exists: nothing was written.
    Existing(IdempotencyRecord),
}

/// The second unit of work: the settled top-up (its new state and fields, from the domain
/// transition), the accounts of the movement when it completed, and the reply to store.
#[derive(Debug, Clone)]
pub struct TopUpSettlement {
    pub settled: TopUp,
    /// The clearing account of the currency (debited) and the user's wallet (credited),
    /// both open already.
    pub clearing: WalletAccountId,
    pub wallet: WalletAccountId,
    pub reply: StoredReply,
}

#[derive(Debug, thiserror::Error)]
pub enum TopUpError {
    /// The user has no such active payment method; nothing was written.
    #[error("payment method not found")]
    MethodNotFound,
    /// The top-up was settled already (by a racing request or the recovery job); nothing
    /// was written. Carries it as it is.
    #[error("top-up already settled")]
    AlreadySettled(Box<TopUp>),
    #[error("top-up not found")]
    NotFound,
    #[error(transparent)]
    Wallet(#[from] WalletError),
}

impl From<RepoError> for TopUpError {
    fn from(error: RepoError) -> Self {
        Self::Wallet(WalletError::Repo(error))
    }
}

#[async_trait]
pub trait TopUpRepository: Send + Sync {
    /// Claims the key; if it was new, checks the method and inserts the top-up, all in one
    /// transaction (a refusal writes nothing, the key included).
    async fn begin_top_up(&self, new: &NewTopUp) -> Result<TopUpBegin, TopUpError>;

    /// Settles a processing top-up: guarded state update, the ledger movement when it
    /// completed, and the stored reply, in one transaction.
    async fn settle_top_up(&self, settlement: &TopUpSettlement) -> Result<TopUp, TopUpError>;

    async fn top_up(&self, id: Uuid) -> RepoResult<Option<TopUp>>;

    /// Top-ups still processing that were created before `before`, oldest first.
    async fn processing_top_ups(
        &self,
        before: OffsetDateTime,
        limit: u32,
    ) -> RepoResult<Vec<TopUp>>;
}
