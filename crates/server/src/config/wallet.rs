//! `[wallet]` (`TMCP_WALLET__*`): payment methods, top-ups and their processor.

use anyhow::bail;
use serde::{Deserialize, Serialize};
use std::time::Duration;

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct WalletConfig {
    /// How long one processor call may take before the top-up fails (504
    /// `PROCESSOR_TIMEOUT`).
    pub processor_timeout_seconds: u64,
    /// How long idempotency keys of money-moving requests are kept, then purged by the
    /// `idempotency_expiry` job.
    pub idempotency_retention_hours: i64,
    /// How long a duplicate request (same key, first one still running) waits for the first
    /// one's answer before 409 `DUPLICATE_TRANSACTION`.
    pub duplicate_wait_seconds: u64,
    /// A top-up still processing `processor_timeout_seconds` + this long after it was made is
    /// finished by the `top_up_recovery` job.
    pub recovery_margin_seconds: u64,
    /// Keys purged / top-ups recovered per job batch.
    pub batch_size: u32,
    /// How often the two wallet jobs run.
    pub job_interval_seconds: u64,
    /// Offers the built-in `sandbox` processor (card test mode). No real processor ships
    /// with this server yet; turn it off where test tokens must not fund wallets.
    pub sandbox_enabled: bool,
}

impl Default for WalletConfig {
    fn default() -> Self {
        Self {
            processor_timeout_seconds: 10,
            idempotency_retention_hours: 72,
            duplicate_wait_seconds: 5,
            recovery_margin_seconds: 60,
            batch_size: 500,
            job_interval_seconds: 60,
            sandbox_enabled: true,
        }
    }
}

impl WalletConfig {
    pub fn settings(&self) -> tmcp_usecases::wallet::WalletSettings {
        tmcp_usecases::wallet::WalletSettings {
            processor_timeout: Duration::from_secs(self.processor_timeout_seconds),
            idempotency_retention: time::Duration::hours(self.idempotency_retention_hours),
            duplicate_wait: Duration::from_secs(self.duplicate_wait_seconds),
            recovery_margin: Duration::from_secs(self.recovery_margin_seconds),
            batch_size: self.batch_size,
        }
    }

    /// The processors this configuration offers.
    pub fn processors(&self) -> tmcp_usecases::wallet::Processors {
        let processors = tmcp_usecases::wallet::Processors::new();
        if self.sandbox_enabled {
            processors.with(std::sync::Arc::new(
                tmcp_usecases::wallet::SandboxProcessor::default(),
            ))
        } else {
            processors
        }
    }

    pub fn validate(&self) -> anyhow::Result<()> {
        if !(1..=120).contains(&self.processor_timeout_seconds) {
            bail!("wallet.processor_timeout_seconds must be between 1 and 120");
        }
        if !(1..=24 * 365).contains(&self.idempotency_retention_hours) {
            bail!("wallet.idempotency_retention_hours must be between 1 and 8760");
        }
        if self.duplicate_wait_seconds > 60 {
            bail!("wallet.duplicate_wait_seconds must be at most 60");
        }
        if !(1..=86_400).contains(&self.recovery_margin_seconds) {
            bail!("wallet.recovery_margin_seconds must be between 1 and 86400");
        }
        if !(1..=10_000).contains(&self.batch_size) {
            bail!("wallet.batch_size must be between 1 and 10000");
        }
        if !(1..=86_400).contains(&self.job_interval_seconds) {
            bail!("wallet.job_interval_seconds must be between 1 and 86400");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_bad_values_are_named() {
        assert!(WalletConfig::default().validate().is_ok());
        let slow = WalletConfig {
            processor_timeout_seconds: 0,
            ..WalletConfig::default()
        };
        let error = slow.validate().expect_err("refused").to_string();
        assert!(
            error.contains("wallet.processor_timeout_seconds"),
            "{error}"
        );
        let forever = WalletConfig {
            idempotency_retention_hours: 0,
            ..WalletConfig::default()
        };
        assert!(forever.validate().is_err());
        assert_eq!(
            WalletConfig::default().processors().providers(),
            ["sandbox"]
        );
        let off = WalletConfig {
            sandbox_enabled: false,
            ..WalletConfig::default()
        };
        assert!(off.processors().providers().is_empty());
    }
}
