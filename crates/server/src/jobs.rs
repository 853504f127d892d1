//! The background jobs of this process: upkeep (partitions, storage expiry, sync history),
//! webhook delivery, the wallet's idempotency purge and top-up recovery, and the store's
//! ranking refresh, run by `serve` (unless `--no-jobs`) and by `worker`. Several
//! workers may run against one PostgreSQL database: webhook events are claimed under a lease
//! (`FOR UPDATE SKIP LOCKED`), so they never process the same event at once; upkeep is
//! idempotent and each purge batch is its own transaction.

use crate::config::{Config, MaintenanceConfig};
use crate::{admin, database, maintenance};
use anyhow::Context;
use std::sync::Arc;
use std::time::Duration;
use tmcp_domain::crypto::FieldCipher;
use tmcp_domain::{Clock, SystemClock};
use tmcp_jobs::analytics_job::AnalyticsRollupJob;
use tmcp_jobs::payment_job::PaymentExpiryJob;
use tmcp_jobs::sender::HttpSender;
use tmcp_jobs::store_jobs::StoreRankingsJob;
use tmcp_jobs::upkeep::{self, UpkeepSettings};
use tmcp_jobs::wallet_jobs::{IdempotencyExpiryJob, TopUpRecoveryJob};
use tmcp_jobs::webhook_job::{WebhookDeliveryJob, WebhookHistoryJob};
use tmcp_jobs::Runner;
use tmcp_repository::Database;
use tmcp_usecases::wallet::Processors;
use tmcp_usecases::webhooks::delivery::jitter_rng;

impl MaintenanceConfig {
    pub fn upkeep_settings(&self) -> UpkeepSettings {
        UpkeepSettings {
            interval: Duration::from_secs(self.interval_secs),
            partition_months_ahead: self.partition_months_ahead,
            analytics_retention_days: self.analytics_retention_days,
            purge_batch_size: self.purge_batch_size,
            storage_sync_retention_days: self.storage_sync_retention_days,
        }
    }
}

/// The runner with every job of this deployment.
pub fn runner(
    config: &Config,
    db: Arc<dyn Database>,
    cipher: FieldCipher,
    clock: Arc<dyn Clock>,
    processors: Processors,
) -> anyhow::Result<Runner> {
    let hooks = &config.webhooks;
    let sender = HttpSender::new(
        hooks.allow_private_targets,
        Duration::from_secs(hooks.timeout_secs),
    )
    .context("webhook HTTP client")?;
    let delivery = WebhookDeliveryJob {
        db: db.clone(),
        cipher,
        clock: clock.clone(),
        sender: Arc::new(sender),
        settings: hooks.settings(),
        interval: Duration::from_secs(hooks.poll_interval_secs),
        rng: jitter_rng(&mut rand::rngs::OsRng),
    };
    let history = WebhookHistoryJob {
        db: db.clone(),
        retention: time::Duration::days(hooks.history_retention_days),
        batch_size: config.maintenance.purge_batch_size,
        interval: Duration::from_secs(config.maintenance.interval_secs),
    };
    let expiry = PaymentExpiryJob {
        db: db.clone(),
        batch_size: config.payments.expiry_batch_size,
        interval: Duration::from_secs(config.payments.expiry_interval_secs),
    };
    let wallet_interval = Duration::from_secs(config.wallet.job_interval_seconds);
    let idempotency = IdempotencyExpiryJob {
        db: db.clone(),
        batch_size: config.wallet.batch_size,
        interval: wallet_interval,
    };
    let recovery = TopUpRecoveryJob {
        db: db.clone(),
        clock: clock.clone(),
        processors,
        settings: config.wallet.settings(),
        interval: wallet_interval,
    };
    let rollup = AnalyticsRollupJob {
        db: db.clone(),
        settings: config
            .analytics
            .settings(config.maintenance.analytics_retention_days),
        interval: Duration::from_secs(config.analytics.rollup_interval_secs),
    };
    let rankings = StoreRankingsJob {
        db: db.clone(),
        interval: Duration::from_secs(config.maintenance.store_rankings_interval_secs),
    };
    let mut runner = Runner::new(clock.clone());
    for job in upkeep::jobs(db, config.maintenance.upkeep_settings()) {
        runner = runner.with(job);
    }
    Ok(runner
        .with(Arc::new(delivery))
        .with(Arc::new(history))
        .with(Arc::new(expiry))
        .with(Arc::new(idempotency))
        .with(Arc::new(recovery))
        .with(Arc::new(rollup))
        .with(Arc::new(rankings)))
}

/// `worker`: runs start-up upkeep, then only the jobs, until SIGTERM or Ctrl-C; the batches
/// in flight then finish (within the shutdown grace period). With `metrics_listen` it serves
/// `GET /metrics` (the job metrics) on that address for Prometheus.
pub async fn run_worker(config: Config, metrics_listen: Option<String>) -> anyhow::Result<()> {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let db = database::open(&config).await?;
    let cipher = admin::cipher(&config)?;
    let metrics = match metrics_listen {
        Some(addr) => Some(serve_metrics(&config, &addr).await?),
        None => None,
    };
    let report = maintenance::run_once(db.as_ref(), clock.as_ref(), &config.maintenance)
        .await
        .context("start-up maintenance failed")?;
    tracing::info!(?report, "start-up maintenance done");
    let runner = runner(&config, db, cipher, clock, config.wallet.processors())?;
    tracing::info!(jobs = ?runner.job_names(), "worker running");
    let handle = runner.spawn();
    crate::serve::wait_for_signal().await;
    tracing::info!("shutting down; letting job batches in flight finish");
    let grace = Duration::from_secs(config.shutdown_grace_secs);
    if tokio::time::timeout(grace, handle.stop()).await.is_err() {
        tracing::warn!("grace period over; unfinished claims are retried when their leases expire");
    }
    if let Some(server) = metrics {
        server.stop().await?;
    }
    Ok(())
}

async fn serve_metrics(config: &Config, addr: &str) -> anyhow::Result<crate::serve::RunningServer> {
    let metrics = tmcp_http::metrics::Metrics::install();
    let app = axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let metrics = metrics.clone();
            async move { metrics.render() }
        }),
    );
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr} for metrics"))?;
    let server = crate::serve::spawn_http(listener, app, config.http.connection_limits())?;
    tracing::info!(addr = %server.addr, "worker metrics on /metrics");
    Ok(server)
}
