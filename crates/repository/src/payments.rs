use crate::RepoResult;
use async_trait::async_trait;
use time::OffsetDateTime;
use tmcp_domain::payment_state::PaymentState;
use tmcp_domain::{AppId, Money, PaymentId, UserId};

/// A payment row as the payment service will create it.
#[derive(Debug, Clone)]
pub struct NewPaymentRecord {
    pub payment_id: PaymentId,
    pub user_id: UserId,
    pub app_id: Option<AppId>,
    pub amount: Money,
    pub description: Option<String>,
    pub status: String,
    pub state: PaymentState,
    pub created_at: OffsetDateTime,
}

#[async_trait]
pub trait PaymentRepository: Send + Sync {
    async fn insert_payment(&self, payment: NewPaymentRecord) -> RepoResult<()>;
}
