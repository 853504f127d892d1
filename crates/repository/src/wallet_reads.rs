//! What a user reads of their own wallets: their accounts and their ledger entries across
//! currencies, newest first. Only the user's own accounts (kind `user`) are ever read here.

use crate::wallets::{LedgerEntry, WalletAccount};
use crate::RepoResult;
use async_trait::async_trait;
use time::OffsetDateTime;
use tmcp_domain::{Currency, UserId};

/// Where a page of entries stopped: the last entry's (created_at, movement, account, seq). The
/// order is `created_at DESC, movement_id DESC, account_id DESC, seq DESC`: movement ids are
/// v7 ids that keep creation order within one instant, and (account_id, seq) is the key, so
/// the order is total.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryCursor {
    pub created_at: OffsetDateTime,
    pub movement_id: uuid::Uuid,
    pub account_id: String,
    pub seq: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserEntry {
    pub entry: LedgerEntry,
    pub currency: Currency,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserEntryPage {
    pub entries: Vec<UserEntry>,
    /// Set when an older page exists.
    pub next: Option<EntryCursor>,
}

#[async_trait]
pub trait WalletReadRepository: Send + Sync {
    /// The user's wallet accounts, oldest first.
    async fn user_wallet_accounts(&self, user: UserId) -> RepoResult<Vec<WalletAccount>>;

    /// The user's ledger entries, newest first, older than `before`, `limit` at most.
    async fn user_wallet_entries(
        &self,
        user: UserId,
        currency: Option<Currency>,
        before: Option<&EntryCursor>,
        limit: u32,
    ) -> RepoResult<UserEntryPage>;
}

/// Cuts a page from `limit + 1` rows fetched newest first.
pub fn page_of_user_entries(mut entries: Vec<UserEntry>, limit: u32) -> UserEntryPage {
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let has_more = entries.len() > limit;
    entries.truncate(limit);
    let next = if has_more {
        entries.last().map(|e| EntryCursor {
            created_at: e.entry.created_at,
            movement_id: e.entry.movement_id,
            account_id: e.entry.account_id.as_str().to_owned(),
            seq: e.entry.seq,
        })
    } else {
        None
    };
    UserEntryPage { entries, next }
}
