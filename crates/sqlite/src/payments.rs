use crate::time_text::to_text;
use crate::{map_sqlx_error, SqliteDatabase};
use async_trait::async_trait;
use tmcp_repository::{NewPaymentRecord, PaymentRepository, RepoResult};

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
}
