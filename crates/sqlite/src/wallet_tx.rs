//! The SQLite unit of work of the wallet rules (`tmcp_repository::wallet_tx`). It runs on
//! the single writer connection inside `BEGIN IMMEDIATE`, which takes the database's write
//! lock up front: nothing else can change an account or a hold until it commits, so the
//! `lock_*` calls are plain reads.

use crate::map_sqlx_error;
use crate::time_text::to_text;
use crate::wallets::{account_from_row, hold_from_row, AccountRow, HoldRow};
use crate::wallets::{ACCOUNT_COLUMNS, HOLD_COLUMNS};
use async_trait::async_trait;
use sqlx::{Sqlite, Transaction};
use tmcp_domain::wallet::WalletAccountId;
use tmcp_domain::Currency;
use tmcp_repository::wallet_tx::WalletTx;
use tmcp_repository::{Hold, LedgerEntry, WalletAccount, WalletOwner, WalletResult};
use uuid::Uuid;

pub(crate) struct SqliteWalletTx {
    pub tx: Transaction<'static, Sqlite>,
}

/// Ends the transaction of a rule run in a [`SqliteWalletTx`] (wallet, top-up, payment,
/// idempotency): committed if the rule succeeded, rolled back (nothing written) if it
/// refused or failed.
pub(crate) async fn finish<R, E: From<tmcp_repository::RepoError>>(
    unit: SqliteWalletTx,
    result: Result<R, E>,
) -> Result<R, E> {
    match result {
        Ok(done) => {
            unit.tx.commit().await.map_err(map_sqlx_error)?;
            Ok(done)
        }
        Err(refused) => {
            unit.tx.rollback().await.map_err(map_sqlx_error)?;
            Err(refused)
        }
    }
}

#[async_trait]
impl WalletTx for SqliteWalletTx {
    async fn lock_accounts(&mut self, ids: &[WalletAccountId]) -> WalletResult<Vec<WalletAccount>> {
        let mut accounts = Vec::with_capacity(ids.len());
        for id in ids {
            let row: Option<AccountRow> = sqlx::query_as(&format!(
                "SELECT {ACCOUNT_COLUMNS} FROM wallet_accounts WHERE id = $1"
            ))
            .bind(id.as_str())
            .fetch_optional(&mut *self.tx)
            .await
            .map_err(map_sqlx_error)?;
            if let Some(row) = row {
                accounts.push(account_from_row(row)?);
            }
        }
        Ok(accounts)
    }

    async fn find_account(
        &mut self,
        owner: &WalletOwner,
        currency: Currency,
    ) -> WalletResult<Option<WalletAccount>> {
        // One literal kind per owner, so the lookup probes that kind's partial unique
        // index (`kind = $1` or a NULL-tolerant comparison would scan every account).
        let sql = |filter: &str| {
            format!(
                "SELECT {ACCOUNT_COLUMNS} FROM wallet_accounts WHERE {filter} AND currency = $1"
            )
        };
        let row: Option<AccountRow> = match owner {
            WalletOwner::User(user) => {
                sqlx::query_as(&sql("kind = 'user' AND user_id = $2"))
                    .bind(currency.code())
                    .bind(user.0)
                    .fetch_optional(&mut *self.tx)
                    .await
            }
            WalletOwner::Merchant(app) => {
                sqlx::query_as(&sql("kind = 'merchant' AND app_id = $2"))
                    .bind(currency.code())
                    .bind(app.as_str())
                    .fetch_optional(&mut *self.tx)
                    .await
            }
            WalletOwner::Platform => {
                sqlx::query_as(&sql("kind = 'platform'"))
                    .bind(currency.code())
                    .fetch_optional(&mut *self.tx)
                    .await
            }
            WalletOwner::Clearing => {
                sqlx::query_as(&sql("kind = 'clearing'"))
                    .bind(currency.code())
                    .fetch_optional(&mut *self.tx)
                    .await
            }
        }
        .map_err(map_sqlx_error)?;
        Ok(row.map(account_from_row).transpose()?)
    }

    async fn insert_account(&mut self, account: &WalletAccount) -> WalletResult<()> {
        sqlx::query(
            "INSERT INTO wallet_accounts (id, kind, user_id, app_id, currency, balance, held, \
             version, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(account.id.as_str())
        .bind(account.owner.kind().as_db())
        .bind(account.owner.user_id().map(|u| u.0))
        .bind(account.owner.app_id().map(|a| a.as_str()))
        .bind(account.currency.code())
        .bind(account.balance)
        .bind(account.held)
        .bind(account.version)
        .bind(to_text(account.created_at))
        .bind(to_text(account.updated_at))
        .execute(&mut *self.tx)
        .await
        .map_err(map_sqlx_error)?;
        Ok(())
    }

    async fn store_account(&mut self, account: &WalletAccount) -> WalletResult<()> {
        sqlx::query(
            "UPDATE wallet_accounts SET balance = $2, held = $3, version = $4, updated_at = $5 \
             WHERE id = $1",
        )
        .bind(account.id.as_str())
        .bind(account.balance)
        .bind(account.held)
        .bind(account.version)
        .bind(to_text(account.updated_at))
        .execute(&mut *self.tx)
        .await
        .map_err(map_sqlx_error)?;
        Ok(())
    }

    async fn insert_entry(&mut self, entry: &LedgerEntry) -> WalletResult<()> {
        sqlx::query(
            "INSERT INTO wallet_entries (account_id, seq, movement_id, amount, balance_after, \
             type, payment_id, refund_id, hold_id, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(entry.account_id.as_str())
        .bind(entry.seq)
        .bind(entry.movement_id)
        .bind(entry.amount)
        .bind(entry.balance_after)
        .bind(entry.entry_type.as_db())
        .bind(entry.payment_id.map(|p| p.0))
        .bind(entry.refund_id)
        .bind(entry.hold_id)
        .bind(to_text(entry.created_at))
        .execute(&mut *self.tx)
        .await
        .map_err(map_sqlx_error)?;
        Ok(())
    }

    async fn peek_hold(&mut self, id: Uuid) -> WalletResult<Option<Hold>> {
        self.lock_hold(id).await
    }

    async fn lock_hold(&mut self, id: Uuid) -> WalletResult<Option<Hold>> {
        let row: Option<HoldRow> = sqlx::query_as(&format!(
            "SELECT {HOLD_COLUMNS} FROM wallet_holds WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&mut *self.tx)
        .await
        .map_err(map_sqlx_error)?;
        Ok(row.map(hold_from_row).transpose()?)
    }

    async fn insert_hold(&mut self, hold: &Hold) -> WalletResult<()> {
        sqlx::query(
            "INSERT INTO wallet_holds (id, account_id, amount, payment_id, state, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(hold.id)
        .bind(hold.account_id.as_str())
        .bind(hold.amount)
        .bind(hold.payment_id.map(|p| p.0))
        .bind(hold.state.as_db())
        .bind(to_text(hold.created_at))
        .execute(&mut *self.tx)
        .await
        .map_err(map_sqlx_error)?;
        Ok(())
    }

    async fn store_hold(&mut self, hold: &Hold) -> WalletResult<()> {
        sqlx::query(
            "UPDATE wallet_holds SET state = $2, capture_movement_id = $3, resolved_at = $4 \
             WHERE id = $1",
        )
        .bind(hold.id)
        .bind(hold.state.as_db())
        .bind(hold.capture_movement_id)
        .bind(hold.resolved_at.map(to_text))
        .execute(&mut *self.tx)
        .await
        .map_err(map_sqlx_error)?;
        Ok(())
    }
}
