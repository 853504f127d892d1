//! Wallets on PostgreSQL: the rules are `tmcp_repository::wallet_tx`, run in a
//! [`PgWalletTx`] on the system pool. Reads need no lock; the ledger snapshot is one
//! repeatable-read transaction, so it sees the tables as of one instant.

use crate::wallet_tx::{finish, PgWalletTx};
use crate::{map_sqlx_error, PgDatabase, PgTx};
use async_trait::async_trait;
use time::OffsetDateTime;
use tmcp_domain::wallet::{EntryType, HoldState, Movement, WalletAccountId};
use tmcp_domain::{Currency, Money, PaymentId, UserId};
use tmcp_repository::wallet_tx::{self, WalletTx};
use tmcp_repository::{
    EntryPage, Hold, HoldCapture, LedgerEntry, LedgerRepository, LedgerSnapshot, NewHold,
    NewWalletAccount, RepoError, RepoResult, WalletAccount, WalletBalance, WalletError,
    WalletOwner, WalletResult,
};
use uuid::Uuid;

pub(crate) const ACCOUNT_COLUMNS: &str =
    "id, kind, user_id, app_id, currency, balance, held, version, created_at, updated_at";
pub(crate) const ENTRY_COLUMNS: &str = "account_id, seq, movement_id, amount, balance_after, \
     type, payment_id, refund_id, hold_id, created_at";
pub(crate) const HOLD_COLUMNS: &str =
    "id, account_id, amount, payment_id, state, capture_movement_id, created_at, resolved_at";

pub(crate) type AccountRow = (
    String,
    String,
    Option<Uuid>,
    Option<String>,
    String,
    i64,
    i64,
    i64,
    OffsetDateTime,
    OffsetDateTime,
);
pub(crate) type EntryRow = (
    String,
    i64,
    Uuid,
    i64,
    i64,
    String,
    Option<Uuid>,
    Option<Uuid>,
    Option<Uuid>,
    OffsetDateTime,
);
pub(crate) type HoldRow = (
    Uuid,
    String,
    i64,
    Option<Uuid>,
    String,
    Option<Uuid>,
    OffsetDateTime,
    Option<OffsetDateTime>,
);

fn account_id(raw: &str) -> RepoResult<WalletAccountId> {
    WalletAccountId::parse(raw)
        .map_err(|_| RepoError::Internal(format!("bad stored wallet account id {raw:?}")))
}

fn currency(code: &str) -> RepoResult<Currency> {
    Currency::parse(code).map_err(|_| RepoError::Internal(format!("bad stored currency {code:?}")))
}

pub(crate) fn account_from_row(row: AccountRow) -> RepoResult<WalletAccount> {
    let (id, kind, user_id, app_id, code, balance, held, version, created_at, updated_at) = row;
    Ok(WalletAccount {
        id: account_id(&id)?,
        owner: WalletOwner::from_db(&kind, user_id.map(UserId), app_id)?,
        currency: currency(&code)?,
        balance,
        held,
        version,
        created_at,
        updated_at,
    })
}

pub(crate) fn entry_from_row(row: EntryRow) -> RepoResult<LedgerEntry> {
    let (account, seq, movement_id, amount, balance_after, kind, payment, refund, hold, at) = row;
    Ok(LedgerEntry {
        account_id: account_id(&account)?,
        seq,
        movement_id,
        amount,
        balance_after,
        entry_type: EntryType::from_db(&kind)
            .ok_or_else(|| RepoError::Internal(format!("bad stored entry type {kind:?}")))?,
        payment_id: payment.map(PaymentId),
        refund_id: refund,
        hold_id: hold,
        created_at: at,
    })
}

pub(crate) fn hold_from_row(row: HoldRow) -> RepoResult<Hold> {
    let (id, account, amount, payment, state, capture, created_at, resolved_at) = row;
    Ok(Hold {
        id,
        account_id: account_id(&account)?,
        amount,
        payment_id: payment.map(PaymentId),
        state: HoldState::from_db(&state)
            .ok_or_else(|| RepoError::Internal(format!("bad stored hold state {state:?}")))?,
        capture_movement_id: capture,
        created_at,
        resolved_at,
    })
}

impl PgDatabase {
    pub(crate) async fn begin_wallet(&self) -> RepoResult<PgWalletTx> {
        Ok(PgWalletTx {
            tx: self.system_tx().await?,
        })
    }

    async fn read_tx(&self) -> RepoResult<PgTx> {
        PgTx::begin(
            self.system_pool(),
            Some("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY".into()),
        )
        .await
        .map_err(map_sqlx_error)
    }
}

#[async_trait]
impl LedgerRepository for PgDatabase {
    async fn open_wallet_account(&self, new: NewWalletAccount) -> WalletResult<WalletAccount> {
        let mut unit = self.begin_wallet().await?;
        let result = wallet_tx::open_account(&mut unit, &new).await;
        let opened = finish(unit, result).await;
        match opened {
            // Opened concurrently by someone else: theirs is the account.
            Err(WalletError::Repo(RepoError::Conflict { .. })) => self
                .find_wallet_account(&new.owner, new.currency)
                .await?
                .ok_or_else(|| RepoError::Internal("wallet account vanished".into()).into()),
            other => other,
        }
    }

    async fn wallet_account(&self, id: &WalletAccountId) -> WalletResult<Option<WalletAccount>> {
        let row: Option<AccountRow> = sqlx::query_as(&format!(
            "SELECT {ACCOUNT_COLUMNS} FROM wallet_accounts WHERE id = $1"
        ))
        .bind(id.as_str())
        .fetch_optional(self.system_pool())
        .await
        .map_err(map_sqlx_error)?;
        Ok(row.map(account_from_row).transpose()?)
    }

    async fn find_wallet_account(
        &self,
        owner: &WalletOwner,
        currency: Currency,
    ) -> WalletResult<Option<WalletAccount>> {
        let mut unit = PgWalletTx {
            tx: self.system_tx().await?,
        };
        let found = unit.find_account(owner, currency).await?;
        unit.tx.commit().await.map_err(map_sqlx_error)?;
        Ok(found)
    }

    async fn post_movement(
        &self,
        movement: &Movement,
        at: OffsetDateTime,
    ) -> WalletResult<Vec<LedgerEntry>> {
        let mut unit = self.begin_wallet().await?;
        let result = wallet_tx::post_movement(&mut unit, movement, at).await;
        finish(unit, result).await
    }

    async fn place_hold(&self, hold: NewHold) -> WalletResult<Hold> {
        let mut unit = self.begin_wallet().await?;
        let result = wallet_tx::place_hold(&mut unit, &hold).await;
        finish(unit, result).await
    }

    async fn capture_hold(&self, capture: HoldCapture) -> WalletResult<(Hold, Vec<LedgerEntry>)> {
        let mut unit = self.begin_wallet().await?;
        let result = wallet_tx::capture_hold(&mut unit, &capture).await;
        finish(unit, result).await
    }

    async fn release_hold(&self, hold_id: Uuid, at: OffsetDateTime) -> WalletResult<Hold> {
        let mut unit = self.begin_wallet().await?;
        let result = wallet_tx::release_hold(&mut unit, hold_id, at).await;
        finish(unit, result).await
    }

    async fn wallet_hold(&self, hold_id: Uuid) -> WalletResult<Option<Hold>> {
        let row: Option<HoldRow> = sqlx::query_as(&format!(
            "SELECT {HOLD_COLUMNS} FROM wallet_holds WHERE id = $1"
        ))
        .bind(hold_id)
        .fetch_optional(self.system_pool())
        .await
        .map_err(map_sqlx_error)?;
        Ok(row.map(hold_from_row).transpose()?)
    }

    async fn wallet_balance(&self, id: &WalletAccountId) -> WalletResult<Option<WalletBalance>> {
        Ok(self.wallet_account(id).await?.map(|a| WalletBalance {
            currency: a.currency,
            available: Money {
                minor: a.available(),
                currency: a.currency,
            },
            pending: Money {
                minor: a.held,
                currency: a.currency,
            },
        }))
    }

    async fn wallet_entries(
        &self,
        id: &WalletAccountId,
        before: Option<i64>,
        limit: u32,
    ) -> WalletResult<EntryPage> {
        let rows: Vec<EntryRow> = sqlx::query_as(&format!(
            "SELECT {ENTRY_COLUMNS} FROM wallet_entries WHERE account_id = $1 AND seq < $2 \
             ORDER BY seq DESC LIMIT $3"
        ))
        .bind(id.as_str())
        .bind(before.unwrap_or(i64::MAX))
        .bind(i64::from(limit) + 1)
        .fetch_all(self.system_pool())
        .await
        .map_err(map_sqlx_error)?;
        let entries = rows
            .into_iter()
            .map(entry_from_row)
            .collect::<RepoResult<Vec<_>>>()?;
        Ok(tmcp_repository::wallets::page_of_entries(entries, limit))
    }

    async fn ledger_snapshot(&self) -> WalletResult<LedgerSnapshot> {
        let mut tx = self.read_tx().await?;
        let accounts: Vec<AccountRow> =
            sqlx::query_as(&format!("SELECT {ACCOUNT_COLUMNS} FROM wallet_accounts"))
                .fetch_all(&mut *tx)
                .await
                .map_err(map_sqlx_error)?;
        let entries: Vec<EntryRow> =
            sqlx::query_as(&format!("SELECT {ENTRY_COLUMNS} FROM wallet_entries"))
                .fetch_all(&mut *tx)
                .await
                .map_err(map_sqlx_error)?;
        let holds: Vec<HoldRow> =
            sqlx::query_as(&format!("SELECT {HOLD_COLUMNS} FROM wallet_holds"))
                .fetch_all(&mut *tx)
                .await
                .map_err(map_sqlx_error)?;
        tx.commit().await.map_err(map_sqlx_error)?;
        Ok(LedgerSnapshot {
            accounts: accounts
                .into_iter()
                .map(account_from_row)
                .collect::<RepoResult<_>>()?,
            entries: entries
                .into_iter()
                .map(entry_from_row)
                .collect::<RepoResult<_>>()?,
            holds: holds
                .into_iter()
                .map(hold_from_row)
                .collect::<RepoResult<_>>()?,
        })
    }
}
