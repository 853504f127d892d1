//! Repository traits: one per aggregate, implemented by every database backend
//! (`tmcp-postgres`, `tmcp-sqlite`) and exercised by the shared contract suite
//! (`tmcp-contract-tests`). Lookups return `Result<Option<T>>`: "not found" is a value,
//! a database failure is an error, and the two are never confused.

pub mod accounts;
pub mod analytics;
pub mod app_versions;
pub mod apps;
pub mod devices;
pub mod error;
pub mod idempotency;
pub mod ledger_check;
pub mod mfa;
pub mod oauth;
pub mod payment_methods;
pub mod payment_tx;
pub mod payments;
pub mod replica;
pub mod sessions;
pub mod storage;
pub mod storage_tx;
pub mod store;
pub mod store_search;
pub mod stored;
pub mod system;
pub mod tokens;
pub mod top_up_tx;
pub mod top_ups;
pub mod users;
pub mod wallet_reads;
pub mod wallet_tx;
pub mod wallets;
pub mod webhooks;
pub mod withdrawal_tx;

pub use accounts::{AccountDetails, AccountRepository, AccountTombstone, AccountUpdate, Profile};
pub use analytics::{
    AnalyticsRepository, IngestBatch, NewLifecycleEvent, NewMetric, NewUsageEvent, PeriodCounts,
    RollupReport, StatsQuery, StatsRows,
};
pub use app_versions::{AppVersionRepository, PublishedPackage, StoredVersion};
pub use apps::{AppRepository, AppSummary, NewApp};
pub use devices::{Device, DeviceRepository, NewDevice};
pub use error::{RepoError, RepoResult};
pub use idempotency::{
    IdempotencyRecord, IdempotencyRepository, IdempotencyScope, IdempotencyTx, StoredReply,
};
pub use ledger_check::{ledger_check, LedgerReport};
pub use mfa::{MfaMethod, MfaMethodType, MfaRepository, NewMfaMethod};
pub use oauth::{
    AuthorizationCode, CodeRedemption, Consent, ConsentWithdrawal, DeviceAuthorization, DevicePoll,
    NewAuthorizationCode, NewDeviceAuthorization, NewOAuthRefreshToken, OAuthGrantRepository,
    OAuthRefreshRedemption, OAuthRefreshRotation, OAuthRefreshToken, OutboxEvent,
};
pub use payment_methods::{NewPaymentMethod, PaymentMethod, PaymentMethodRepository};
pub use payments::{
    ChallengeMethod, ChallengeStatus, HoldOutcome, MfaChallenge, MfaOutcome, NewPaymentRecord,
    Payment, PaymentCursor, PaymentQuery, PaymentRepository, PaymentTxError, PaymentTxResult,
    PaymentViewer, Refund, RefundOutcome, Settled,
};
pub use sessions::{
    NewSession, RefreshOutcome, RefreshRotation, RevokeReason, Session, SessionRepository,
};
pub use storage::{
    new_row_id, Change, ChangeKind, ChangePage, ConflictData, ConflictRecord, ConflictResolution,
    EntryDelete, EntrySummary, EntryWrite, ListQuery, QuotaSnapshot, QuotaUsage, ResolveOutcome,
    StorageRepository, StoredEntry, SyncApplied, SyncOp, SyncStatus, ValueInfo, WriteContext,
    WriteOp, WriteOutcome,
};
pub use store::{
    AppListing, AuditEntry, Category, InstallOutcome, Installation, NewRegistration, RatingSummary,
    Review, ReviewWrite, StatusChange, StoreApp, StoreEvent, StoreRepository,
};
pub use store_search::{
    CatalogueApp, CataloguePage, CatalogueQuery, CatalogueSort, StoreSearchRepository,
};
pub use system::SystemRepository;
pub use tokens::{
    IssuedToken, IssuedTokenRepository, OAuthClient, OAuthClientRepository, SigningKeyRepository,
    StoredSigningKey, TokenLiveness,
};
pub use top_ups::{NewTopUp, TopUp, TopUpBegin, TopUpError, TopUpRepository, TopUpSettlement};
pub use users::{NewUser, User, UserRepository, UserSummary};
pub use wallet_reads::{EntryCursor, UserEntry, UserEntryPage, WalletReadRepository};
pub use wallets::{
    EntryPage, Hold, HoldCapture, LedgerEntry, LedgerRepository, LedgerSnapshot, NewHold,
    NewWalletAccount, WalletAccount, WalletBalance, WalletError, WalletOwner, WalletResult,
};
pub use webhooks::{
    ClaimRequest, ClaimedEvent, DeliveryAttempt, DeliveryOutcome, DeliveryState, DeliveryStatus,
    WebhookEndpoint, WebhookRepository,
};
pub use withdrawal_tx::Withdrawn;

/// Everything a backend provides. The HTTP layer holds an `Arc<dyn Database>`; only the binary
/// decides which engine is behind it.
pub trait Database:
    UserRepository
    + StorageRepository
    + AppRepository
    + PaymentRepository
    + SystemRepository
    + AccountRepository
    + SessionRepository
    + DeviceRepository
    + MfaRepository
    + SigningKeyRepository
    + OAuthClientRepository
    + IssuedTokenRepository
    + OAuthGrantRepository
    + LedgerRepository
    + WebhookRepository
    + IdempotencyRepository
    + PaymentMethodRepository
    + TopUpRepository
    + WalletReadRepository
    + StoreRepository
    + AppVersionRepository
    + AnalyticsRepository
    + StoreSearchRepository
{
}

impl<T> Database for T where
    T: UserRepository
        + StorageRepository
        + AppRepository
        + PaymentRepository
        + SystemRepository
        + AccountRepository
        + SessionRepository
        + DeviceRepository
        + MfaRepository
        + SigningKeyRepository
        + OAuthClientRepository
        + IssuedTokenRepository
        + OAuthGrantRepository
        + LedgerRepository
        + WebhookRepository
        + IdempotencyRepository
        + PaymentMethodRepository
        + TopUpRepository
        + WalletReadRepository
        + StoreRepository
        + AppVersionRepository
        + AnalyticsRepository
        + StoreSearchRepository
{
}
