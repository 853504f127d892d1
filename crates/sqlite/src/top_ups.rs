//! Top-ups on SQLite: the steps of `tmcp_repository::top_up_tx` in a [`SqliteWalletTx`]
//! (`BEGIN IMMEDIATE` on the single writer, so `lock_top_up` is a plain read), and the wallet
//! reads of a user on the reader pool.

use crate::payment_methods::active_method;
use crate::stored::top_up_from_row;
use crate::time_text::to_text;
use crate::wallet_tx::{finish, SqliteWalletTx};
use crate::wallets::{account_from_row, entry_from_row, AccountRow};
use crate::wallets::{ACCOUNT_COLUMNS, ENTRY_COLUMNS};
use crate::{map_sqlx_error, SqliteDatabase};
use async_trait::async_trait;
use time::OffsetDateTime;
use tmcp_domain::wallet::TopUpState;
use tmcp_domain::{Currency, UserId};
use tmcp_repository::stored::TOP_UP_COLUMNS;
use tmcp_repository::top_up_tx::{self, TopUpTx};
use tmcp_repository::wallet_reads::page_of_user_entries;
use tmcp_repository::{
    EntryCursor, NewTopUp, PaymentMethod, RepoError, RepoResult, TopUp, TopUpBegin, TopUpError,
    TopUpRepository, TopUpSettlement, UserEntry, UserEntryPage, WalletAccount,
    WalletReadRepository,
};
use uuid::Uuid;

#[async_trait]
impl TopUpTx for SqliteWalletTx {
    async fn find_active_method(
        &mut self,
        user: UserId,
        id: Uuid,
    ) -> RepoResult<Option<PaymentMethod>> {
        active_method(&mut self.tx, user, id).await
    }

    async fn insert_top_up(&mut self, top_up: &TopUp) -> RepoResult<()> {
        sqlx::query(&format!(
            "INSERT INTO wallet_top_ups ({TOP_UP_COLUMNS}) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)"
        ))
        .bind(top_up.id)
        .bind(top_up.user_id.0)
        .bind(top_up.payment_method_id)
        .bind(top_up.amount.minor)
        .bind(top_up.amount.currency.code())
        .bind(top_up.state.as_db())
        .bind(&top_up.processor)
        .bind(&top_up.provider_method_id)
        .bind(&top_up.idempotency_key)
        .bind(&top_up.processor_transaction_id)
        .bind(&top_up.failure_reason)
        .bind(top_up.movement_id)
        .bind(to_text(top_up.created_at))
        .bind(to_text(top_up.updated_at))
        .bind(top_up.settled_at.map(to_text))
        .execute(&mut *self.tx)
        .await
        .map_err(map_sqlx_error)?;
        Ok(())
    }

    async fn lock_top_up(&mut self, id: Uuid) -> RepoResult<Option<TopUp>> {
        let row = sqlx::query(&format!(
            "SELECT {TOP_UP_COLUMNS} FROM wallet_top_ups WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&mut *self.tx)
        .await
        .map_err(map_sqlx_error)?;
        row.as_ref().map(top_up_from_row).transpose()
    }

    async fn update_top_up(&mut self, top_up: &TopUp, expected: TopUpState) -> RepoResult<u64> {
        let done = sqlx::query(
            "UPDATE wallet_top_ups SET state = $2, processor_transaction_id = $3, \
             failure_reason = $4, movement_id = $5, updated_at = $6, settled_at = $7 \
             WHERE id = $1 AND state = $8",
        )
        .bind(top_up.id)
        .bind(top_up.state.as_db())
        .bind(&top_up.processor_transaction_id)
        .bind(&top_up.failure_reason)
        .bind(top_up.movement_id)
        .bind(to_text(top_up.updated_at))
        .bind(top_up.settled_at.map(to_text))
        .bind(expected.as_db())
        .execute(&mut *self.tx)
        .await
        .map_err(map_sqlx_error)?;
        Ok(done.rows_affected())
    }
}

#[async_trait]
impl TopUpRepository for SqliteDatabase {
    async fn begin_top_up(&self, new: &NewTopUp) -> Result<TopUpBegin, TopUpError> {
        let mut unit = self.begin_wallet().await?;
        let result = top_up_tx::begin_top_up(&mut unit, new).await;
        finish(unit, result).await
    }

    async fn settle_top_up(&self, settlement: &TopUpSettlement) -> Result<TopUp, TopUpError> {
        let mut unit = self.begin_wallet().await?;
        let result = top_up_tx::settle_top_up(&mut unit, settlement).await;
        finish(unit, result).await
    }

    async fn top_up(&self, id: Uuid) -> RepoResult<Option<TopUp>> {
        let row = sqlx::query(&format!(
            "SELECT {TOP_UP_COLUMNS} FROM wallet_top_ups WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.reader)
        .await
        .map_err(map_sqlx_error)?;
        row.as_ref().map(top_up_from_row).transpose()
    }

    async fn processing_top_ups(
        &self,
        before: OffsetDateTime,
        limit: u32,
    ) -> RepoResult<Vec<TopUp>> {
        let rows = sqlx::query(&format!(
            "SELECT {TOP_UP_COLUMNS} FROM wallet_top_ups \
             WHERE state = 'processing' AND created_at < $1 ORDER BY created_at, id LIMIT $2"
        ))
        .bind(to_text(before))
        .bind(i64::from(limit))
        .fetch_all(&self.reader)
        .await
        .map_err(map_sqlx_error)?;
        rows.iter().map(top_up_from_row).collect()
    }
}

#[async_trait]
impl WalletReadRepository for SqliteDatabase {
    async fn user_wallet_accounts(&self, user: UserId) -> RepoResult<Vec<WalletAccount>> {
        let rows: Vec<AccountRow> = sqlx::query_as(&format!(
            "SELECT {ACCOUNT_COLUMNS} FROM wallet_accounts \
             WHERE kind = 'user' AND user_id = $1 ORDER BY created_at, id"
        ))
        .bind(user.0)
        .fetch_all(&self.reader)
        .await
        .map_err(map_sqlx_error)?;
        rows.into_iter().map(account_from_row).collect()
    }

    async fn user_wallet_entries(
        &self,
        user: UserId,
        currency: Option<Currency>,
        before: Option<&EntryCursor>,
        limit: u32,
    ) -> RepoResult<UserEntryPage> {
        let columns = ENTRY_COLUMNS
            .split(", ")
            .map(|c| format!("e.{}", c.trim()))
            .collect::<Vec<_>>()
            .join(", ");
        type Row = (
            String,
            i64,
            Uuid,
            i64,
            i64,
            String,
            Option<Uuid>,
            Option<Uuid>,
            Option<Uuid>,
            String,
            String,
        );
        let rows: Vec<Row> = sqlx::query_as(&format!(
            "SELECT {columns}, a.currency FROM wallet_entries e \
             JOIN wallet_accounts a ON a.id = e.account_id \
             WHERE a.kind = 'user' AND a.user_id = $1 \
               AND ($2 IS NULL OR a.currency = $2) \
               AND ($3 IS NULL \
                    OR (e.created_at, e.movement_id, e.account_id, e.seq) < ($3, $7, $4, $5)) \
             ORDER BY e.created_at DESC, e.movement_id DESC, e.account_id DESC, e.seq DESC \
             LIMIT $6"
        ))
        .bind(user.0)
        .bind(currency.map(|c| c.code()))
        .bind(before.map(|c| to_text(c.created_at)))
        .bind(before.map(|c| c.account_id.as_str()))
        .bind(before.map(|c| c.seq))
        .bind(i64::from(limit) + 1)
        .bind(before.map(|c| c.movement_id))
        .fetch_all(&self.reader)
        .await
        .map_err(map_sqlx_error)?;
        let mut entries = Vec::with_capacity(rows.len());
        for row in rows {
            let (a, seq, movement, amount, after, kind, payment, refund, hold, at, code) = row;
            let entry = entry_from_row((
                a, seq, movement, amount, after, kind, payment, refund, hold, at,
            ))?;
            let currency = Currency::parse(&code)
                .map_err(|_| RepoError::Internal(format!("bad stored currency {code:?}")))?;
            entries.push(UserEntry { entry, currency });
        }
        Ok(page_of_user_entries(entries, limit))
    }
}
