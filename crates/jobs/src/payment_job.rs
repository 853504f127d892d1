//! `payment_expiry`: payment requests not authorized 5 minutes after creation (and payments
//! whose MFA was never completed) expire, their holds released, in bounded batches. Reads
//! and transitions expire them lazily too; this job makes sure it happens (and the
//! `payment.failed` event goes out) even when nobody looks.

use crate::runner::Job;
use async_trait::async_trait;
use std::sync::Arc;
use std::time::Duration;
use time::OffsetDateTime;
use tmcp_repository::Database;

pub struct PaymentExpiryJob {
    pub db: Arc<dyn Database>,
    pub batch_size: u32,
    pub interval: Duration,
}

#[async_trait]
impl Job for PaymentExpiryJob {
    fn name(&self) -> &'static str {
        "payment_expiry"
    }

    fn interval(&self) -> Duration {
        self.interval
    }

    fn batch_limit(&self) -> u64 {
        u64::from(self.batch_size)
    }

    async fn run_batch(&self, now: OffsetDateTime) -> anyhow::Result<u64> {
        Ok(
            tmcp_usecases::payments::lifecycle::expire_due(self.db.as_ref(), now, self.batch_size)
                .await?,
        )
    }
}
