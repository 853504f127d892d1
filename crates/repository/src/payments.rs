//! The payment aggregate: a payment request of a mini-app to a user, its MFA challenges and
//! its refunds. Every change that moves money runs as one unit of work whose rules are
//! written once in [`crate::payment_tx`] (state change, ledger movement, outbox rows and the
//! idempotent reply commit together); the reads here need no lock. See docs/payments.md.

use crate::idempotency::IdempotencyRecord;
use crate::wallets::{WalletAccount, WalletError};
use crate::RepoError;
use async_trait::async_trait;
use serde_json::Value;
use time::OffsetDateTime;
use tmcp_domain::payment_state::{InvalidTransition, PaymentState, PaymentStatus};
use tmcp_domain::wallet::WalletAccountId;
use tmcp_domain::{AppId, Money, PaymentId, UserId};
use uuid::Uuid;

/// A payment row (`payment_transactions`).
#[derive(Debug, Clone, PartialEq)]
pub struct Payment {
    pub id: PaymentId,
    pub user_id: UserId,
    /// The merchant: the mini-app that requested it (rows of 0001 may have none).
    pub app_id: Option<AppId>,
    pub amount: Money,
    pub description: Option<String>,
    pub merchant_order_id: Option<String>,
    /// `[{item_id, name, quantity, unit_price}]` as validated by the use case.
    pub items: Value,
    pub metadata: Value,
    pub callback_url: Option<String>,
    pub state: PaymentState,
    pub mfa_required: bool,
    /// The method that verified the payment, once one did.
    pub mfa_method: Option<String>,
    pub mfa_verified: bool,
    /// Failed verifications over all of the payment's challenges.
    pub mfa_attempts: i32,
    /// The wallet hold reserving the amount while MFA is pending.
    pub hold_id: Option<Uuid>,
    /// Minor units refunded so far.
    pub refunded: i64,
    /// The platform fee taken from the captured amount, minor units.
    pub fee: i64,
    pub failure_reason: Option<String>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    pub expires_at: Option<OffsetDateTime>,
    pub completed_at: Option<OffsetDateTime>,
}

impl Payment {
    /// The wire summary of the row.
    pub fn status(&self) -> PaymentStatus {
        PaymentStatus::of(self.state, self.refunded)
    }

    /// Still waiting for the user and past its deadline.
    pub fn is_due(&self, now: OffsetDateTime) -> bool {
        matches!(
            self.state,
            PaymentState::Initiated | PaymentState::MfaRequired
        ) && self.expires_at.is_some_and(|at| at <= now)
    }
}

/// Who is looking: each variant sees only its own rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaymentViewer {
    /// A user with a session: all of their payments.
    User(UserId),
    /// A mini-app acting for a user (TEP): that user's payments to that app.
    UserInApp(UserId, AppId),
    /// A mini-app's backend (client credentials): the app's payments.
    App(AppId),
    /// An administrator.
    Admin,
}

impl PaymentViewer {
    pub fn may_see(&self, payment: &Payment) -> bool {
        match self {
            Self::User(user) => payment.user_id == *user,
            Self::UserInApp(user, app) => {
                payment.user_id == *user && payment.app_id.as_ref() == Some(app)
            }
            Self::App(app) => payment.app_id.as_ref() == Some(app),
            Self::Admin => true,
        }
    }
}

/// Where a listing page starts: strictly older than this (created_at, id).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PaymentCursor {
    pub created_at: OffsetDateTime,
    pub id: PaymentId,
}

#[derive(Debug, Clone)]
pub struct PaymentQuery {
    pub viewer: PaymentViewer,
    pub status: Option<PaymentStatus>,
    pub before: Option<PaymentCursor>,
    /// Rows to return; the engine fetches one more to tell whether an older page exists.
    pub limit: u32,
}

/// A refund row (`payment_refunds`).
#[derive(Debug, Clone, PartialEq)]
pub struct Refund {
    pub id: Uuid,
    pub payment_id: PaymentId,
    pub payment_created_at: OffsetDateTime,
    pub user_id: UserId,
    pub app_id: Option<AppId>,
    pub amount: Money,
    /// The part taken back from the platform fee account.
    pub fee: i64,
    pub reason: String,
    pub movement_id: Uuid,
    pub created_at: OffsetDateTime,
}

/// The MFA methods a payment challenge can offer (`payment_mfa_challenges.method_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChallengeMethod {
    Totp,
    Pin,
    Biometric,
}

impl ChallengeMethod {
    /// The column value (0001's names).
    pub fn as_db(self) -> &'static str {
        match self {
            Self::Totp => "totp",
            Self::Pin => "transaction_pin",
            Self::Biometric => "biometric",
        }
    }

    pub fn from_db(value: &str) -> Option<Self> {
        [Self::Totp, Self::Pin, Self::Biometric]
            .into_iter()
            .find(|m| m.as_db() == value)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChallengeStatus {
    Pending,
    Verified,
    Failed,
    Expired,
}

impl ChallengeStatus {
    pub fn as_db(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Verified => "verified",
            Self::Failed => "failed",
            Self::Expired => "expired",
        }
    }

    pub fn from_db(value: &str) -> Option<Self> {
        [Self::Pending, Self::Verified, Self::Failed, Self::Expired]
            .into_iter()
            .find(|s| s.as_db() == value)
    }
}

/// A payment MFA challenge (`payment_mfa_challenges`).
#[derive(Debug, Clone, PartialEq)]
pub struct MfaChallenge {
    pub id: Uuid,
    pub payment_id: PaymentId,
    pub payment_created_at: OffsetDateTime,
    pub user_id: UserId,
    /// The user's enrolled methods at the time of the challenge; never empty.
    pub methods: Vec<ChallengeMethod>,
    /// The method that verified it, else the first offered.
    pub method: ChallengeMethod,
    pub status: ChallengeStatus,
    /// Failed attempts on this challenge.
    pub attempts: i32,
    pub max_attempts: i32,
    pub expires_at: OffsetDateTime,
    pub created_at: OffsetDateTime,
    pub verified_at: Option<OffsetDateTime>,
}

/// Wallet accounts a settlement may have to open (merchant, platform): fresh ids from the
/// injected rng, unused when the account exists.
#[derive(Debug, Clone)]
pub struct FreshAccountIds {
    pub merchant: WalletAccountId,
    pub platform: WalletAccountId,
}

/// Why a payment unit of work refused. `Repo` is a failure of the system; the others are
/// answers. Refusals write nothing.
#[derive(Debug, thiserror::Error)]
pub enum PaymentTxError {
    #[error("payment not found")]
    NotFound,
    #[error(transparent)]
    InvalidTransition(#[from] InvalidTransition),
    /// The guarded update found another state (a concurrent change won).
    #[error("the payment changed concurrently")]
    StateChanged,
    #[error("the payment has no merchant app")]
    NoMerchant,
    /// A refund above what is left to refund.
    #[error("refund of {requested} exceeds the {refundable} still refundable")]
    RefundTooLarge { requested: i64, refundable: i64 },
    /// The merchant cannot pay a refund back.
    #[error("insufficient funds: {required} required, {available} available")]
    InsufficientFunds { required: Money, available: Money },
    #[error("challenge not found")]
    ChallengeNotFound,
    #[error(transparent)]
    Wallet(WalletError),
    #[error(transparent)]
    Repo(#[from] RepoError),
}

impl From<WalletError> for PaymentTxError {
    fn from(error: WalletError) -> Self {
        match error {
            WalletError::Repo(repo) => Self::Repo(repo),
            other => Self::Wallet(other),
        }
    }
}

pub type PaymentTxResult<T> = Result<T, PaymentTxError>;

/// A payment row as a fixture or an import records it (no flow, no money).
#[derive(Debug, Clone)]
pub struct NewPaymentRecord {
    pub payment_id: PaymentId,
    pub user_id: UserId,
    pub app_id: Option<AppId>,
    pub amount: Money,
    pub description: Option<String>,
    pub status: String,
    pub state: PaymentState,
    pub created_at: OffsetDateTime,
}

/// What a settlement attempt ended in. Both outcomes are committed: a payment that cannot
/// be paid fails cleanly (state `Failed`, a `payment.failed` event), it is not rolled back.
#[derive(Debug, Clone)]
pub enum Settled {
    Completed(Payment),
    InsufficientFunds {
        payment: Payment,
        required: Money,
        available: Money,
    },
}

/// What an authorization at or above the MFA threshold ended in.
#[derive(Debug, Clone)]
pub enum HoldOutcome {
    /// The amount is held and a challenge issued.
    Challenged(Payment, MfaChallenge),
    InsufficientFunds {
        payment: Payment,
        required: Money,
        available: Money,
    },
}

/// What a verification attempt ended in (all committed).
#[derive(Debug, Clone)]
pub enum MfaOutcome {
    Completed(Payment),
    /// Wrong proof; the payment still waits.
    Wrong {
        attempts_remaining: i32,
    },
    /// The last attempt failed: the payment failed and its hold was released.
    Locked(Payment),
    /// The challenge expired (or was replaced); ask for a fresh one.
    Expired,
}

/// What a refund request ended in.
#[derive(Debug, Clone)]
pub enum RefundOutcome {
    Refunded(Box<(Payment, Refund, crate::idempotency::StoredReply)>),
    /// The key exists: nothing was written; the caller replays or refuses it.
    Existing(IdempotencyRecord),
}

/// The user's current wallet account in the payment's currency, if any (for `available`).
pub fn available_of(account: Option<&WalletAccount>) -> i64 {
    account.map_or(0, WalletAccount::available)
}

#[async_trait]
pub trait PaymentRepository: Send + Sync {
    /// Records a row as given (fixtures, imports); the flow uses the units of work below.
    async fn insert_payment(&self, payment: NewPaymentRecord) -> crate::RepoResult<()>;

    /// Inserts a new payment request (state `Initiated`) with its idempotency key (whose
    /// reply, the creation's answer, is stored with it). When the key exists nothing is
    /// written and its record is returned (PostgreSQL: after a concurrent claimer of the
    /// same key commits).
    async fn create_payment(
        &self,
        payment: &Payment,
        key: &IdempotencyRecord,
    ) -> PaymentTxResult<Option<IdempotencyRecord>>;

    /// The payment if `viewer` may see it.
    async fn payment(
        &self,
        id: PaymentId,
        viewer: &PaymentViewer,
    ) -> crate::RepoResult<Option<Payment>>;

    /// The viewer's payments, newest first.
    async fn list_payments(&self, query: &PaymentQuery) -> crate::RepoResult<Vec<Payment>>;

    /// Ids of live requests past their deadline, oldest deadline first.
    async fn payments_due(
        &self,
        now: OffsetDateTime,
        limit: u32,
    ) -> crate::RepoResult<Vec<PaymentId>>;

    /// Settles a pending payment at once: user wallet → merchant (+ platform fee).
    async fn settle_payment(&self, settle: crate::payment_tx::Settle) -> PaymentTxResult<Settled>;

    /// Expires the payment if it is live and past its deadline (releasing a hold); `None`
    /// when there was nothing to do.
    async fn expire_payment(
        &self,
        id: PaymentId,
        at: OffsetDateTime,
    ) -> PaymentTxResult<Option<Payment>>;

    /// At or above the MFA threshold: holds the amount and issues the first challenge.
    async fn hold_for_mfa(
        &self,
        hold: crate::payment_tx::HoldForMfa,
    ) -> PaymentTxResult<HoldOutcome>;

    /// A fresh challenge for a payment waiting for MFA.
    async fn new_mfa_challenge(
        &self,
        challenge: crate::payment_tx::NewChallenge,
    ) -> PaymentTxResult<MfaChallenge>;

    /// Records a verification attempt (see [`crate::payment_tx::record_mfa`]).
    async fn record_mfa_attempt(
        &self,
        attempt: crate::payment_tx::MfaAttempt,
    ) -> PaymentTxResult<MfaOutcome>;

    /// Cancels the viewer's payment before settlement (releasing a hold).
    async fn cancel_payment(
        &self,
        id: PaymentId,
        viewer: &PaymentViewer,
        at: OffsetDateTime,
    ) -> PaymentTxResult<Payment>;

    /// Refunds (part of) a completed payment (see [`crate::payment_tx::refund`]).
    async fn refund_payment(
        &self,
        refund: crate::payment_tx::RefundRequest,
    ) -> PaymentTxResult<RefundOutcome>;

    /// The payment's refunds, oldest first.
    async fn payment_refunds(&self, id: PaymentId) -> crate::RepoResult<Vec<Refund>>;
}
