//! `[webhooks]` (`TMCP_WEBHOOKS__*`): webhook delivery.

use anyhow::bail;
use serde::{Deserialize, Serialize};
use std::time::Duration;

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebhooksConfig {
    /// Allows private, loopback and link-local targets, and plain `http`. Tests and local
    /// development only: in production it lets mini-app developers reach internal services.
    pub allow_private_targets: bool,
    /// After the fixed retries (1 s, 5 s, 30 s, 2 min, 5 min), keep retrying with jitter up
    /// to `max_age_hours` before dead-lettering.
    pub long_retries: bool,
    pub max_age_hours: u64,
    /// How long the previous secret keeps signing after `admin rotate-webhook-secret`.
    pub rotation_overlap_secs: u64,
    /// Seconds a receiver has to answer.
    pub timeout_secs: u64,
    /// How often a worker looks for due events.
    pub poll_interval_secs: u64,
    /// Events claimed per batch, and sent at once within a batch.
    pub batch_size: i64,
    pub concurrency: usize,
    /// How long a claim holds an event; after it a crashed worker's events are sent again.
    pub lease_secs: u64,
    /// Finished events (delivered, refused, dead-lettered) and their attempt logs are kept
    /// this long for the developer and for redelivery, then purged by the
    /// `webhook_history` job.
    pub history_retention_days: i64,
}

impl Default for WebhooksConfig {
    fn default() -> Self {
        Self {
            allow_private_targets: false,
            long_retries: true,
            max_age_hours: 72,
            rotation_overlap_secs: 24 * 3600,
            timeout_secs: 10,
            poll_interval_secs: 1,
            batch_size: 50,
            concurrency: 8,
            lease_secs: 120,
            history_retention_days: 30,
        }
    }
}

impl WebhooksConfig {
    pub fn settings(&self) -> tmcp_usecases::webhooks::WebhookSettings {
        tmcp_usecases::webhooks::WebhookSettings {
            allow_private_targets: self.allow_private_targets,
            long_retries: self.long_retries,
            max_age: Duration::from_secs(self.max_age_hours * 3600),
            rotation_overlap: Duration::from_secs(self.rotation_overlap_secs),
            batch_size: self.batch_size,
            concurrency: self.concurrency,
            lease: Duration::from_secs(self.lease_secs),
        }
    }

    pub fn validate(&self) -> anyhow::Result<()> {
        if !(1..=60).contains(&self.timeout_secs) {
            bail!("webhooks.timeout_secs must be between 1 and 60");
        }
        if !(1..=3600).contains(&self.poll_interval_secs) {
            bail!("webhooks.poll_interval_secs must be between 1 and 3600");
        }
        if !(1..=1000).contains(&self.batch_size) || !(1..=256).contains(&self.concurrency) {
            bail!("webhooks.batch_size must be 1-1000 and webhooks.concurrency 1-256");
        }
        // A batch sends batch_size / concurrency rounds of at most timeout_secs each; the
        // lease must outlast them or a live worker's events would be taken over.
        let rounds = (self.batch_size as u64).div_ceil(self.concurrency as u64);
        if self.lease_secs < rounds * self.timeout_secs + 30 {
            bail!("webhooks.lease_secs must exceed (batch_size / concurrency) x timeout_secs + 30");
        }
        if !(1..=720).contains(&self.max_age_hours) {
            bail!("webhooks.max_age_hours must be between 1 and 720");
        }
        if !(1..=3650).contains(&self.history_retention_days) {
            bail!("webhooks.history_retention_days must be between 1 and 3650");
        }
        if self.rotation_overlap_secs > 30 * 24 * 3600 {
            bail!("webhooks.rotation_overlap_secs must be at most 30 days");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_bad_values_are_named() {
        assert!(WebhooksConfig::default().validate().is_ok());
        let short_lease = WebhooksConfig {
            lease_secs: 20,
            ..WebhooksConfig::default()
        };
        let error = short_lease.validate().expect_err("refused").to_string();
        assert!(error.contains("webhooks.lease_secs"), "{error}");
        let slow = WebhooksConfig {
            timeout_secs: 0,
            ..WebhooksConfig::default()
        };
        assert!(slow.validate().is_err());
    }
}
