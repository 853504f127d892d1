//! Payments on SQLite: the rules are `tmcp_repository::payment_tx`, run in a
//! [`SqliteWalletTx`] (`BEGIN IMMEDIATE` on the single writer). Reads use the reader pool
//! and filter by the viewer here (SQLite has no row-level security).

use crate::stored::{payment_from_row, refund_from_row};
use crate::time_text::to_text;
use crate::wallet_tx::finish;
use crate::{map_sqlx_error, SqliteDatabase};
use async_trait::async_trait;
use time::OffsetDateTime;
use tmcp_domain::PaymentId;
use tmcp_repository::payment_tx::{
    self, HoldForMfa, MfaAttempt, NewChallenge, RefundRequest, Settle,
};
use tmcp_repository::stored::{PAYMENT_COLUMNS, REFUND_COLUMNS};
use tmcp_repository::{
    HoldOutcome, IdempotencyRecord, MfaChallenge, MfaOutcome, NewPaymentRecord, Payment,
    PaymentQuery, PaymentRepository, PaymentTxResult, PaymentViewer, Refund, RefundOutcome,
    RepoResult, Settled,
};

/// The viewer as the `(user_id, app_id)` filter of a query (`NULL` = any).
fn filter(viewer: &PaymentViewer) -> (Option<uuid::Uuid>, Option<&str>) {
    match viewer {
        PaymentViewer::User(user) => (Some(user.0), None),
        PaymentViewer::UserInApp(user, app) => (Some(user.0), Some(app.as_str())),
        PaymentViewer::App(app) => (None, Some(app.as_str())),
        PaymentViewer::Admin => (None, None),
    }
}

#[async_trait]
impl PaymentRepository for SqliteDatabase {
    async fn insert_payment(&self, payment: NewPaymentRecord) -> RepoResult<()> {
        sqlx::query(
            "INSERT INTO payment_transactions (payment_id, user_id, app_id, amount, currency, \
             description, status, state, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)",
        )
        .bind(payment.payment_id.0)
        .bind(payment.user_id.0)
        .bind(payment.app_id.as_ref().map(|a| a.as_str()))
        .bind(payment.amount.minor)
        .bind(payment.amount.currency.code())
        .bind(&payment.description)
        .bind(&payment.status)
        .bind(payment.state.as_db())
        .bind(to_text(payment.created_at))
        .execute(&self.writer)
        .await
        .map_err(map_sqlx_error)?;
        Ok(())
    }

    async fn create_payment(
        &self,
        payment: &Payment,
        key: &IdempotencyRecord,
    ) -> PaymentTxResult<Option<IdempotencyRecord>> {
        let mut unit = self.begin_wallet().await?;
        let result = payment_tx::create(&mut unit, payment, key).await;
        finish(unit, result).await
    }

    async fn payment(&self, id: PaymentId, viewer: &PaymentViewer) -> RepoResult<Option<Payment>> {
        let row = sqlx::query(&format!(
            "SELECT {PAYMENT_COLUMNS} FROM payment_transactions WHERE payment_id = $1"
        ))
        .bind(id.0)
        .fetch_optional(&self.reader)
        .await
        .map_err(map_sqlx_error)?;
        let payment = row.as_ref().map(payment_from_row).transpose()?;
        Ok(payment.filter(|p| viewer.may_see(p)))
    }

    async fn list_payments(&self, query: &PaymentQuery) -> RepoResult<Vec<Payment>> {
        let (user, app) = filter(&query.viewer);
        let rows = sqlx::query(&format!(
            "SELECT {PAYMENT_COLUMNS} FROM payment_transactions \
             WHERE ($1 IS NULL OR user_id = $1) AND ($2 IS NULL OR app_id = $2) \
               AND ($3 IS NULL OR status = $3) \
               AND ($4 IS NULL OR (created_at, payment_id) < ($4, $5)) \
             ORDER BY created_at DESC, payment_id DESC LIMIT $6"
        ))
        .bind(user)
        .bind(app)
        .bind(query.status.map(|s| s.as_db()))
        .bind(query.before.map(|c| to_text(c.created_at)))
        .bind(query.before.map(|c| c.id.0))
        .bind(i64::from(query.limit))
        .fetch_all(&self.reader)
        .await
        .map_err(map_sqlx_error)?;
        rows.iter().map(payment_from_row).collect()
    }

    async fn payments_due(&self, now: OffsetDateTime, limit: u32) -> RepoResult<Vec<PaymentId>> {
        let ids: Vec<uuid::Uuid> = sqlx::query_scalar(
            "SELECT payment_id FROM payment_transactions \
             WHERE state IN ('Initiated', 'MFA_Required') AND expires_at <= $1 \
             ORDER BY expires_at LIMIT $2",
        )
        .bind(to_text(now))
        .bind(i64::from(limit))
        .fetch_all(&self.reader)
        .await
        .map_err(map_sqlx_error)?;
        Ok(ids.into_iter().map(PaymentId).collect())
    }

    async fn settle_payment(&self, settle: Settle) -> PaymentTxResult<Settled> {
        let mut unit = self.begin_wallet().await?;
        let result = payment_tx::settle(&mut unit, &settle).await;
        finish(unit, result).await
    }

    async fn expire_payment(
        &self,
        id: PaymentId,
        at: OffsetDateTime,
    ) -> PaymentTxResult<Option<Payment>> {
        let mut unit = self.begin_wallet().await?;
        let result = payment_tx::expire(&mut unit, id, at).await;
        finish(unit, result).await
    }

    async fn hold_for_mfa(&self, hold: HoldForMfa) -> PaymentTxResult<HoldOutcome> {
        let mut unit = self.begin_wallet().await?;
        let result = payment_tx::hold_for_mfa(&mut unit, &hold).await;
        finish(unit, result).await
    }

    async fn new_mfa_challenge(&self, challenge: NewChallenge) -> PaymentTxResult<MfaChallenge> {
        let mut unit = self.begin_wallet().await?;
        let result = payment_tx::new_challenge(&mut unit, &challenge).await;
        finish(unit, result).await
    }

    async fn record_mfa_attempt(&self, attempt: MfaAttempt) -> PaymentTxResult<MfaOutcome> {
        let mut unit = self.begin_wallet().await?;
        let result = payment_tx::record_mfa(&mut unit, &attempt).await;
        finish(unit, result).await
    }

    async fn cancel_payment(
        &self,
        id: PaymentId,
        viewer: &PaymentViewer,
        at: OffsetDateTime,
    ) -> PaymentTxResult<Payment> {
        let mut unit = self.begin_wallet().await?;
        let result = payment_tx::cancel(&mut unit, id, viewer, at).await;
        finish(unit, result).await
    }

    async fn refund_payment(&self, refund: RefundRequest) -> PaymentTxResult<RefundOutcome> {
        let mut unit = self.begin_wallet().await?;
        let result = payment_tx::refund(&mut unit, &refund).await;
        finish(unit, result).await
    }

    async fn payment_refunds(&self, id: PaymentId) -> RepoResult<Vec<Refund>> {
        let rows = sqlx::query(&format!(
            "SELECT {REFUND_COLUMNS} FROM payment_refunds WHERE payment_id = $1 \
             ORDER BY created_at, refund_id"
        ))
        .bind(id.0)
        .fetch_all(&self.reader)
        .await
        .map_err(map_sqlx_error)?;
        rows.iter().map(refund_from_row).collect()
    }
}
