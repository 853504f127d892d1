//! What a user reads of their wallets: balances per currency and the ledger entries of their
//! own accounts, newest first, in pages with an opaque cursor.

use super::amounts::parse_currency;
use super::{WalletPorts, WalletServiceError};
use time::OffsetDateTime;
use tmcp_domain::cursor;
use tmcp_domain::{Money, UserId};
use tmcp_repository::{EntryCursor, UserEntry};

pub const DEFAULT_LIMIT: u32 = 20;
pub const MAX_LIMIT: u32 = 100;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CurrencyBalance {
    pub account_id: String,
    pub available: Money,
    pub pending: Money,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Balances {
    /// The user's first wallet account (the oldest currency); `None` before any top-up.
    pub wallet_id: Option<String>,
    /// One per currency, by currency code.
    pub balances: Vec<CurrencyBalance>,
}

pub async fn balances(
    ports: WalletPorts<'_>,
    user: UserId,
) -> Result<Balances, WalletServiceError> {
    let mut accounts = ports.db.user_wallet_accounts(user).await?;
    let wallet_id = accounts.first().map(|a| a.id.as_str().to_owned());
    // A stable order for clients: by currency code.
    accounts.sort_by_key(|a| a.currency.code());
    Ok(Balances {
        wallet_id,
        balances: accounts
            .iter()
            .map(|a| CurrencyBalance {
                account_id: a.id.as_str().to_owned(),
                available: Money {
                    minor: a.available(),
                    currency: a.currency,
                },
                pending: Money {
                    minor: a.held,
                    currency: a.currency,
                },
            })
            .collect(),
    })
}

#[derive(Debug, Clone, Default)]
pub struct HistoryQuery {
    pub limit: Option<u32>,
    pub cursor: Option<String>,
    pub currency: Option<String>,
}

#[derive(Debug, Clone)]
pub struct HistoryPage {
    pub entries: Vec<UserEntry>,
    pub limit: u32,
    pub next_cursor: Option<String>,
}

/// Newest-first position: the last entry's time (unix nanoseconds), movement, account, seq.
pub fn encode_cursor(entry: &EntryCursor) -> String {
    cursor::encode(
        "e1",
        &[
            &entry.created_at.unix_timestamp_nanos().to_string(),
            &entry.movement_id.simple().to_string(),
            &entry.account_id,
            &entry.seq.to_string(),
        ],
    )
}

pub fn decode_cursor(text: &str) -> Result<EntryCursor, WalletServiceError> {
    let invalid = || WalletServiceError::InvalidCursor;
    let [nanos, movement, account, seq] = cursor::decode("e1", text).ok_or_else(invalid)?;
    let movement_id = uuid::Uuid::parse_str(&movement).map_err(|_| invalid())?;
    let nanos: i128 = nanos.parse().map_err(|_| invalid())?;
    let created_at = OffsetDateTime::from_unix_timestamp_nanos(nanos).map_err(|_| invalid())?;
    tmcp_domain::wallet::WalletAccountId::parse(&account).map_err(|_| invalid())?;
    let seq: i64 = seq.parse().map_err(|_| invalid())?;
    Ok(EntryCursor {
        created_at,
        movement_id,
        account_id: account,
        seq,
    })
}

pub async fn history(
    ports: WalletPorts<'_>,
    user: UserId,
    query: HistoryQuery,
) -> Result<HistoryPage, WalletServiceError> {
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        let mut errors = crate::fields::FieldErrors::new();
        errors.add("limit", format!("must be between 1 and {MAX_LIMIT}"));
        return Err(errors.into());
    }
    let currency = query.currency.as_deref().map(parse_currency).transpose()?;
    let cursor = query.cursor.as_deref().map(decode_cursor).transpose()?;
    let page = ports
        .db
        .user_wallet_entries(user, currency, cursor.as_ref(), limit)
        .await?;
    Ok(HistoryPage {
        entries: page.entries,
        limit,
        next_cursor: page.next.as_ref().map(encode_cursor),
    })
}
