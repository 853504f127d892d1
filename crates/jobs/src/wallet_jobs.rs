//! The wallet's background work: `idempotency_expiry` purges idempotency keys past their
//! `expires_at` (kept `wallet.idempotency_retention_hours`, 72 h) in bounded batches, and
//! `top_up_recovery` finishes top-ups whose request died between its two transactions (the
//! processor is asked again with the same key, so nothing is charged twice; the top-up is
//! settled with its ledger movement and stored reply). Both are safe to run in several
//! workers: a purge batch deletes what it finds, a settlement is a guarded update.

use crate::runner::Job;
use async_trait::async_trait;
use std::sync::Arc;
use std::time::Duration;
use time::OffsetDateTime;
use tmcp_domain::Clock;
use tmcp_repository::Database;
use tmcp_usecases::wallet::top_up::{oldest_stuck, recover_stuck};
use tmcp_usecases::wallet::{Processors, WalletPorts, WalletSettings};

pub struct IdempotencyExpiryJob {
    pub db: Arc<dyn Database>,
    pub batch_size: u32,
    pub interval: Duration,
}

#[async_trait]
impl Job for IdempotencyExpiryJob {
    fn name(&self) -> &'static str {
        "idempotency_expiry"
    }

    fn interval(&self) -> Duration {
        self.interval
    }

    fn batch_limit(&self) -> u64 {
        u64::from(self.batch_size)
    }

    async fn run_batch(&self, now: OffsetDateTime) -> anyhow::Result<u64> {
        Ok(self.db.purge_idempotency_keys(now, self.batch_size).await?)
    }
}

pub struct TopUpRecoveryJob {
    pub db: Arc<dyn Database>,
    pub clock: Arc<dyn Clock>,
    pub processors: Processors,
    pub settings: WalletSettings,
    pub interval: Duration,
}

impl TopUpRecoveryJob {
    fn ports(&self) -> WalletPorts<'_> {
        WalletPorts {
            db: self.db.as_ref(),
            clock: self.clock.as_ref(),
            processors: &self.processors,
            settings: &self.settings,
        }
    }
}

#[async_trait]
impl Job for TopUpRecoveryJob {
    fn name(&self) -> &'static str {
        "top_up_recovery"
    }

    fn interval(&self) -> Duration {
        self.interval
    }

    fn batch_limit(&self) -> u64 {
        u64::from(self.settings.batch_size)
    }

    async fn run_batch(&self, _now: OffsetDateTime) -> anyhow::Result<u64> {
        let settled = recover_stuck(self.ports(), self.settings.batch_size).await?;
        Ok(u64::try_from(settled).unwrap_or(u64::MAX))
    }

    async fn oldest_due(&self, _now: OffsetDateTime) -> anyhow::Result<Option<OffsetDateTime>> {
        Ok(oldest_stuck(self.ports()).await?)
    }
}
