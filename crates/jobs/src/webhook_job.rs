//! Webhook delivery as a job: each batch claims due outbox events under a lease and sends
//! them (see `tmcp_usecases::webhooks::delivery`).

use crate::runner::Job;
use async_trait::async_trait;
use rand::rngs::StdRng;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use time::OffsetDateTime;
use tmcp_domain::crypto::FieldCipher;
use tmcp_domain::Clock;
use tmcp_repository::Database;
use tmcp_usecases::webhooks::delivery::{deliver_due, DeliveryPorts};
use tmcp_usecases::webhooks::{WebhookSender, WebhookSettings};

pub struct WebhookDeliveryJob {
    pub db: Arc<dyn Database>,
    pub cipher: FieldCipher,
    pub clock: Arc<dyn Clock>,
    pub sender: Arc<dyn WebhookSender>,
    pub settings: WebhookSettings,
    pub interval: Duration,
    /// Jitter of the long retries (see `delivery::jitter_rng`).
    pub rng: Mutex<StdRng>,
}

#[async_trait]
impl Job for WebhookDeliveryJob {
    fn name(&self) -> &'static str {
        "webhook_delivery"
    }

    fn interval(&self) -> Duration {
        self.interval
    }

    fn batch_limit(&self) -> u64 {
        self.settings.batch_size.unsigned_abs()
    }

    async fn run_batch(&self, _now: OffsetDateTime) -> anyhow::Result<u64> {
        let report = deliver_due(&DeliveryPorts {
            db: self.db.as_ref(),
            cipher: &self.cipher,
            clock: self.clock.as_ref(),
            sender: self.sender.as_ref(),
            settings: &self.settings,
            rng: &self.rng,
        })
        .await?;
        if report.claimed > 0 {
            tracing::info!(?report, "webhook batch done");
        }
        Ok(report.claimed)
    }

    async fn oldest_due(&self, now: OffsetDateTime) -> anyhow::Result<Option<OffsetDateTime>> {
        Ok(self.db.oldest_due_event(now).await?)
    }
}

/// Finished webhook events past retention, with their attempt logs, one bounded batch at a
/// time (a full batch is followed at once by another, so a backlog drains).
pub struct WebhookHistoryJob {
    pub db: Arc<dyn Database>,
    pub retention: time::Duration,
    pub batch_size: i64,
    pub interval: Duration,
}

#[async_trait]
impl Job for WebhookHistoryJob {
    fn name(&self) -> &'static str {
        "webhook_history"
    }

    fn interval(&self) -> Duration {
        self.interval
    }

    fn batch_limit(&self) -> u64 {
        self.batch_size.unsigned_abs()
    }

    async fn run_batch(&self, now: OffsetDateTime) -> anyhow::Result<u64> {
        Ok(self
            .db
            .purge_webhook_history(now - self.retention, self.batch_size)
            .await?)
    }
}
