use crate::{map_sqlx_error, PgDatabase};
use async_trait::async_trait;
use tmcp_repository::{NewPaymentRecord, PaymentRepository, RepoResult};

#[async_trait]
impl PaymentRepository for PgDatabase {
    async fn insert_payment(&self, payment: NewPaymentRecord) -> RepoResult<()> {
        let mut tx = self.scoped(payment.user_id).await?;
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
        .bind(payment.created_at)
        .execute(&mut *tx)
        .await
        .map_err(map_sqlx_error)?;
        tx.commit().await.map_err(map_sqlx_error)
    }
}
