//! Repository traits: one per aggregate, implemented by every database backend
//! (`tmcp-postgres`, `tmcp-sqlite`) and exercised by the shared contract suite
//! (`tmcp-contract-tests`). Lookups return `Result<Option<T>>`: "not found" is a value,
//! a database failure is an error, and the two are never confused.

pub mod apps;
pub mod error;
pub mod payments;
pub mod storage;
pub mod storage_tx;
pub mod system;
pub mod tokens;
pub mod users;

pub use apps::{AppRepository, AppSummary, NewApp};
pub use error::{RepoError, RepoResult};
pub use payments::{NewPaymentRecord, PaymentRepository};
pub use storage::{
    new_row_id, Change, ChangeKind, ChangePage, ConflictData, ConflictRecord, ConflictResolution,
    EntryDelete, EntrySummary, EntryWrite, ListQuery, QuotaSnapshot, QuotaUsage, ResolveOutcome,
    StorageRepository, StoredEntry, SyncApplied, SyncOp, SyncStatus, ValueInfo, WriteContext,
    WriteOp, WriteOutcome,
};
pub use system::SystemRepository;
pub use tokens::{
    IssuedToken, IssuedTokenRepository, OAuthClient, OAuthClientRepository, SigningKeyRepository,
    StoredSigningKey, TokenLiveness,
};
pub use users::{NewUser, User, UserRepository, UserSummary};

/// Everything a backend provides. The HTTP layer holds an `Arc<dyn Database>`; only the binary
/// decides which engine is behind it.
pub trait Database:
    UserRepository
    + StorageRepository
    + AppRepository
    + PaymentRepository
    + SystemRepository
    + SigningKeyRepository
    + OAuthClientRepository
    + IssuedTokenRepository
{
}

impl<T> Database for T where
    T: UserRepository
        + StorageRepository
        + AppRepository
        + PaymentRepository
        + SystemRepository
        + SigningKeyRepository
        + OAuthClientRepository
        + IssuedTokenRepository
{
}
