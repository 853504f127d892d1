//! The payment rows of the SQLite money unit of work: `tmcp_repository::payment_tx`'s
//! steps as SQL on [`SqliteWalletTx`] (`BEGIN IMMEDIATE` on the single writer, so the
//! `lock_*` steps are plain reads), so a payment's state change, its ledger
//! movement and its outbox rows commit together.

use crate::map_sqlx_error;
use crate::stored::{challenge_from_row, payment_from_row};
use crate::time_text::to_text;
use crate::wallet_tx::SqliteWalletTx;
use async_trait::async_trait;
use tmcp_domain::payment_state::PaymentState;
use tmcp_domain::PaymentId;
use tmcp_repository::payment_tx::PaymentTx;
use tmcp_repository::stored::{challenge_methods_json, CHALLENGE_COLUMNS, PAYMENT_COLUMNS};
use tmcp_repository::{MfaChallenge, OutboxEvent, Payment, Refund, RepoResult};
use uuid::Uuid;

#[async_trait]
impl PaymentTx for SqliteWalletTx {
    async fn insert_payment(&mut self, p: &Payment) -> RepoResult<()> {
        sqlx::query(
            "INSERT INTO payment_transactions (payment_id, user_id, app_id, amount, currency, \
             description, merchant_order_id, items, metadata, callback_url, status, state, \
             mfa_required, created_at, updated_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
        )
        .bind(p.id.0)
        .bind(p.user_id.0)
        .bind(p.app_id.as_ref().map(|a| a.as_str()))
        .bind(p.amount.minor)
        .bind(p.amount.currency.code())
        .bind(&p.description)
        .bind(&p.merchant_order_id)
        .bind(p.items.to_string())
        .bind(p.metadata.to_string())
        .bind(&p.callback_url)
        .bind(p.status().as_db())
        .bind(p.state.as_db())
        .bind(p.mfa_required)
        .bind(to_text(p.created_at))
        .bind(to_text(p.updated_at))
        .bind(p.expires_at.map(to_text))
        .execute(&mut *self.tx)
        .await
        .map_err(map_sqlx_error)?;
        Ok(())
    }

    async fn lock_payment(&mut self, id: PaymentId) -> RepoResult<Option<Payment>> {
        let row = sqlx::query(&format!(
            "SELECT {PAYMENT_COLUMNS} FROM payment_transactions WHERE payment_id = $1"
        ))
        .bind(id.0)
        .fetch_optional(&mut *self.tx)
        .await
        .map_err(map_sqlx_error)?;
        row.as_ref().map(payment_from_row).transpose()
    }

    async fn update_payment(&mut self, p: &Payment, expected: PaymentState) -> RepoResult<bool> {
        let done = sqlx::query(
            "UPDATE payment_transactions SET state = $3, status = $4, mfa_required = $5, \
             mfa_method = $6, mfa_verified = $7, mfa_attempts = $8, hold_id = $9, \
             refunded_amount = $10, fee_amount = $11, failure_reason = $12, updated_at = $13, \
             completed_at = $14 WHERE payment_id = $1 AND state = $2",
        )
        .bind(p.id.0)
        .bind(expected.as_db())
        .bind(p.state.as_db())
        .bind(p.status().as_db())
        .bind(p.mfa_required)
        .bind(&p.mfa_method)
        .bind(p.mfa_verified)
        .bind(p.mfa_attempts)
        .bind(p.hold_id)
        .bind(p.refunded)
        .bind(p.fee)
        .bind(&p.failure_reason)
        .bind(to_text(p.updated_at))
        .bind(p.completed_at.map(to_text))
        .execute(&mut *self.tx)
        .await
        .map_err(map_sqlx_error)?;
        Ok(done.rows_affected() == 1)
    }

    async fn insert_refund(&mut self, r: &Refund) -> RepoResult<()> {
        sqlx::query(
            "INSERT INTO payment_refunds (refund_id, payment_id, payment_created_at, user_id, \
             app_id, amount, fee_amount, currency, reason, movement_id, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(r.id)
        .bind(r.payment_id.0)
        .bind(to_text(r.payment_created_at))
        .bind(r.user_id.0)
        .bind(r.app_id.as_ref().map(|a| a.as_str()))
        .bind(r.amount.minor)
        .bind(r.fee)
        .bind(r.amount.currency.code())
        .bind(&r.reason)
        .bind(r.movement_id)
        .bind(to_text(r.created_at))
        .execute(&mut *self.tx)
        .await
        .map_err(map_sqlx_error)?;
        Ok(())
    }

    async fn insert_challenge(&mut self, c: &MfaChallenge) -> RepoResult<()> {
        sqlx::query(
            "INSERT INTO payment_mfa_challenges (challenge_id, payment_id, payment_created_at, \
             user_id, methods, method_type, challenge_data, status, attempts, max_attempts, \
             expires_at, created_at, verified_at) \
             VALUES ($1, $2, $3, $4, $5, $6, '{}', $7, $8, $9, $10, $11, $12)",
        )
        .bind(c.id)
        .bind(c.payment_id.0)
        .bind(to_text(c.payment_created_at))
        .bind(c.user_id.0)
        .bind(challenge_methods_json(&c.methods).to_string())
        .bind(c.method.as_db())
        .bind(c.status.as_db())
        .bind(c.attempts)
        .bind(c.max_attempts)
        .bind(to_text(c.expires_at))
        .bind(to_text(c.created_at))
        .bind(c.verified_at.map(to_text))
        .execute(&mut *self.tx)
        .await
        .map_err(map_sqlx_error)?;
        Ok(())
    }

    async fn lock_challenge(&mut self, id: Uuid) -> RepoResult<Option<MfaChallenge>> {
        let row = sqlx::query(&format!(
            "SELECT {CHALLENGE_COLUMNS} FROM payment_mfa_challenges \
             WHERE challenge_id = $1"
        ))
        .bind(id)
        .fetch_optional(&mut *self.tx)
        .await
        .map_err(map_sqlx_error)?;
        row.as_ref().map(challenge_from_row).transpose()
    }

    async fn update_challenge(&mut self, c: &MfaChallenge) -> RepoResult<()> {
        sqlx::query(
            "UPDATE payment_mfa_challenges SET status = $2, attempts = $3, method_type = $4, \
             verified_at = $5 WHERE challenge_id = $1",
        )
        .bind(c.id)
        .bind(c.status.as_db())
        .bind(c.attempts)
        .bind(c.method.as_db())
        .bind(c.verified_at.map(to_text))
        .execute(&mut *self.tx)
        .await
        .map_err(map_sqlx_error)?;
        Ok(())
    }

    async fn expire_pending_challenges(&mut self, payment: PaymentId) -> RepoResult<()> {
        sqlx::query(
            "UPDATE payment_mfa_challenges SET status = 'expired' \
             WHERE payment_id = $1 AND status = 'pending'",
        )
        .bind(payment.0)
        .execute(&mut *self.tx)
        .await
        .map_err(map_sqlx_error)?;
        Ok(())
    }

    async fn enqueue(&mut self, event: &OutboxEvent) -> RepoResult<()> {
        sqlx::query(
            "INSERT INTO webhook_outbox (id, app_id, event, payload, created_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(event.id)
        .bind(&event.app_id)
        .bind(&event.event)
        .bind(event.payload.to_string())
        .bind(to_text(event.created_at))
        .execute(&mut *self.tx)
        .await
        .map_err(map_sqlx_error)?;
        Ok(())
    }
}
