//! The wallet aggregate: accounts, their append-only ledger of entries and their holds.
//! The rules (lock order, available funds, running balances, holds resolved once) are
//! written once in [`crate::wallet_tx`]; engines only provide the unit of work. Money moves
//! only through [`LedgerRepository::post_movement`] and the hold calls, never by writing a
//! balance. See docs/ledger.md.

use crate::RepoError;
use async_trait::async_trait;
use time::OffsetDateTime;
use tmcp_domain::wallet::{
    AccountKind, EntryType, HoldState, HoldTransitionError, Movement, MovementError,
    WalletAccountId,
};
use tmcp_domain::{AppId, Currency, Money, PaymentId, UserId};
use uuid::Uuid;

/// Whose account it is; with the currency, this names at most one account.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum WalletOwner {
    User(UserId),
    /// The platform's fee account.
    Platform,
    /// The developer wallet of a mini-app.
    Merchant(AppId),
    /// Money entering and leaving the system.
    Clearing,
}

impl WalletOwner {
    pub fn kind(&self) -> AccountKind {
        match self {
            Self::User(_) => AccountKind::User,
            Self::Platform => AccountKind::Platform,
            Self::Merchant(_) => AccountKind::Merchant,
            Self::Clearing => AccountKind::Clearing,
        }
    }

    pub fn user_id(&self) -> Option<UserId> {
        match self {
            Self::User(user) => Some(*user),
            _ => None,
        }
    }

    pub fn app_id(&self) -> Option<&AppId> {
        match self {
            Self::Merchant(app) => Some(app),
            _ => None,
        }
    }

    /// Rebuilds the owner from the stored columns.
    pub fn from_db(
        kind: &str,
        user_id: Option<UserId>,
        app_id: Option<String>,
    ) -> Result<Self, RepoError> {
        let bad = || RepoError::Internal(format!("bad wallet owner {kind:?}"));
        match (AccountKind::from_db(kind).ok_or_else(bad)?, user_id, app_id) {
            (AccountKind::User, Some(user), None) => Ok(Self::User(user)),
            (AccountKind::Merchant, None, Some(app)) => {
                Ok(Self::Merchant(AppId::parse(&app).map_err(|_| bad())?))
            }
            (AccountKind::Platform, None, None) => Ok(Self::Platform),
            (AccountKind::Clearing, None, None) => Ok(Self::Clearing),
            _ => Err(bad()),
        }
    }
}

/// An account to open (or find, if its owner already has one in the currency).
#[derive(Debug, Clone)]
pub struct NewWalletAccount {
    /// A fresh `WalletAccountId::generate` id; unused when the account exists already.
    pub id: WalletAccountId,
    pub owner: WalletOwner,
    pub currency: Currency,
    pub at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalletAccount {
    pub id: WalletAccountId,
    pub owner: WalletOwner,
    pub currency: Currency,
    /// Minor units on the account, held ones included.
    pub balance: i64,
    /// Minor units set aside by open holds.
    pub held: i64,
    /// Changes so far; the account's last entry has `seq <= version`.
    pub version: i64,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

impl WalletAccount {
    /// What can be spent or held now.
    pub fn available(&self) -> i64 {
        self.balance - self.held
    }
}

/// An account's balances as a client sees them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WalletBalance {
    pub currency: Currency,
    /// Spendable now: the balance less what holds set aside.
    pub available: Money,
    /// Set aside by holds, waiting for capture or release.
    pub pending: Money,
}

/// One leg of a movement as written to the ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerEntry {
    pub account_id: WalletAccountId,
    /// The account's version after this leg; orders the account's entries.
    pub seq: i64,
    pub movement_id: Uuid,
    /// Signed: credits are positive.
    pub amount: i64,
    /// The account's balance right after this leg.
    pub balance_after: i64,
    pub entry_type: EntryType,
    pub payment_id: Option<PaymentId>,
    pub refund_id: Option<Uuid>,
    pub hold_id: Option<Uuid>,
    pub created_at: OffsetDateTime,
}

/// A page of an account's entries, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryPage {
    pub entries: Vec<LedgerEntry>,
    /// Pass as `before` for the next (older) page; `None` on the last page.
    pub next_before: Option<i64>,
}

/// A hold to place.
#[derive(Debug, Clone)]
pub struct NewHold {
    /// A v7 id from the injected clock.
    pub id: Uuid,
    pub account: WalletAccountId,
    pub amount: Money,
    pub payment_id: Option<PaymentId>,
    pub at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hold {
    pub id: Uuid,
    pub account_id: WalletAccountId,
    pub amount: i64,
    pub payment_id: Option<PaymentId>,
    pub state: HoldState,
    /// The movement that captured it.
    pub capture_movement_id: Option<Uuid>,
    pub created_at: OffsetDateTime,
    pub resolved_at: Option<OffsetDateTime>,
}

/// Capturing a hold: its whole amount leaves the held account and is split over `credits`
/// (e.g. the merchant and the platform fee), which must add up to it.
#[derive(Debug, Clone)]
pub struct HoldCapture {
    pub hold_id: Uuid,
    /// The id of the movement the capture posts (v7 from the injected clock).
    pub movement_id: Uuid,
    pub entry_type: EntryType,
    pub credits: Vec<(WalletAccountId, i64)>,
    pub at: OffsetDateTime,
}

/// Everything in the ledger, read in one consistent snapshot (for [`crate::ledger_check`]).
#[derive(Debug, Clone, Default)]
pub struct LedgerSnapshot {
    pub accounts: Vec<WalletAccount>,
    pub entries: Vec<LedgerEntry>,
    pub holds: Vec<Hold>,
}

/// Why a wallet operation was refused. Only `Repo` is a failure of the system; the others
/// are answers the caller turns into client errors.
#[derive(Debug, thiserror::Error)]
pub enum WalletError {
    #[error("wallet account not found")]
    AccountNotFound,
    #[error("the amount's currency is not the account's")]
    CurrencyMismatch,
    #[error("insufficient funds on {0}")]
    InsufficientFunds(WalletAccountId),
    #[error("hold not found")]
    HoldNotFound,
    /// A movement naming a hold was given to `post_movement`: a hold's money moves only
    /// through `capture_hold`, which resolves the hold in the same step.
    #[error("a capture is posted by capture_hold")]
    CaptureOutsideHold,
    #[error(transparent)]
    HoldResolved(#[from] HoldTransitionError),
    #[error(transparent)]
    Unbalanced(#[from] MovementError),
    #[error(transparent)]
    Repo(#[from] RepoError),
}

pub type WalletResult<T> = Result<T, WalletError>;

#[async_trait]
pub trait LedgerRepository: Send + Sync {
    /// Opens the owner's account in the currency, or returns the one it already has.
    async fn open_wallet_account(&self, account: NewWalletAccount) -> WalletResult<WalletAccount>;

    async fn wallet_account(&self, id: &WalletAccountId) -> WalletResult<Option<WalletAccount>>;

    /// The owner's account in the currency.
    async fn find_wallet_account(
        &self,
        owner: &WalletOwner,
        currency: Currency,
    ) -> WalletResult<Option<WalletAccount>>;

    /// Writes every leg and the new balances in one transaction, or nothing.
    async fn post_movement(
        &self,
        movement: &Movement,
        at: OffsetDateTime,
    ) -> WalletResult<Vec<LedgerEntry>>;

    /// Sets money aside; refused with `InsufficientFunds` when less is available.
    async fn place_hold(&self, hold: NewHold) -> WalletResult<Hold>;

    /// Moves the held money (see [`HoldCapture`]); a hold resolves at most once.
    async fn capture_hold(&self, capture: HoldCapture) -> WalletResult<(Hold, Vec<LedgerEntry>)>;

    /// Makes the held money available again; a hold resolves at most once.
    async fn release_hold(&self, hold_id: Uuid, at: OffsetDateTime) -> WalletResult<Hold>;

    async fn wallet_hold(&self, hold_id: Uuid) -> WalletResult<Option<Hold>>;

    async fn wallet_balance(&self, id: &WalletAccountId) -> WalletResult<Option<WalletBalance>>;

    /// The account's entries newest first, `limit` at most, older than `before` (a seq).
    async fn wallet_entries(
        &self,
        id: &WalletAccountId,
        before: Option<i64>,
        limit: u32,
    ) -> WalletResult<EntryPage>;

    /// The whole ledger in one snapshot; for the ledger check, not for request paths.
    async fn ledger_snapshot(&self) -> WalletResult<LedgerSnapshot>;
}

/// Cuts a page from entries fetched newest first, `limit + 1` of them at most: the extra
/// one only tells that an older page exists.
pub fn page_of_entries(mut entries: Vec<LedgerEntry>, limit: u32) -> EntryPage {
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let has_more = entries.len() > limit;
    entries.truncate(limit);
    let next_before = if has_more {
        entries.last().map(|e| e.seq)
    } else {
        None
    };
    EntryPage {
        entries,
        next_before,
    }
}
