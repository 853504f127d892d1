//! `[payments]` (`TMCP_PAYMENTS__*`): the MFA threshold per currency, the platform fee and
//! the payment rate limits.

use super::WalletConfig;
use anyhow::{bail, Context};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use tmcp_domain::Currency;
use tmcp_usecases::limits::LimitRule;
use tmcp_usecases::payments::settings::{threshold_minor, PaymentSettings};

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct PaymentsConfig {
    /// Per-currency MFA thresholds in major units, e.g. `[payments.mfa_threshold] USD =
    /// "100.00"` or `TMCP_PAYMENTS__MFA_THRESHOLD__USD=100.00`. An authorization at or
    /// above it needs a second factor.
    pub mfa_threshold: BTreeMap<String, String>,
    /// The threshold of currencies not listed, in major units (50.00).
    pub mfa_threshold_default: String,
    /// The platform's fee in basis points of each payment (0–10000; 0 = none).
    pub fee_basis_points: u32,
    /// Payment requests per minute per (user, app), and the burst.
    pub request_rate_per_minute: u32,
    pub request_rate_burst: u32,
    /// Authorizations per minute per user, and the burst (MFA verify and challenge are capped
    /// per payment instead: 3 attempts).
    pub authorize_rate_per_minute: u32,
    pub authorize_rate_burst: u32,
    /// How often the `payment_expiry` job looks for requests past their deadline, and how
    /// many it expires per batch.
    pub expiry_interval_secs: u64,
    pub expiry_batch_size: u32,
}

impl Default for PaymentsConfig {
    fn default() -> Self {
        Self {
            mfa_threshold: BTreeMap::new(),
            mfa_threshold_default: tmcp_usecases::payments::settings::DEFAULT_THRESHOLD_MAJOR
                .into(),
            fee_basis_points: 0,
            request_rate_per_minute: 5,
            request_rate_burst: 5,
            authorize_rate_per_minute: 3,
            authorize_rate_burst: 3,
            expiry_interval_secs: 30,
            expiry_batch_size: 100,
        }
    }
}

impl PaymentsConfig {
    /// The thresholds in minor units, keyed by currency code.
    fn thresholds(&self) -> anyhow::Result<BTreeMap<&'static str, i64>> {
        let mut out = BTreeMap::new();
        for (code, major) in &self.mfa_threshold {
            let currency = Currency::parse(&code.to_ascii_uppercase())
                .ok()
                .with_context(|| format!("payments.mfa_threshold: unknown currency {code:?}"))?;
            let minor = threshold_minor(major, currency).with_context(|| {
                format!("payments.mfa_threshold.{code}: {major:?} is not a positive amount")
            })?;
            out.insert(currency.code(), minor);
        }
        Ok(out)
    }

    /// The payment service's settings (validated by [`Self::validate`] at start-up). The
    /// idempotency keys of payments are kept and waited for like every money-moving
    /// request's: `wallet.idempotency_retention_hours`, `wallet.duplicate_wait_seconds`.
    pub fn settings(&self, wallet: &WalletConfig) -> PaymentSettings {
        let idempotency = wallet.settings();
        PaymentSettings {
            mfa_thresholds: self.thresholds().unwrap_or_default(),
            default_threshold_major: self.mfa_threshold_default.clone(),
            fee_basis_points: self.fee_basis_points,
            request_rate: LimitRule::per_minute(
                "payment_request",
                self.request_rate_per_minute,
                self.request_rate_burst,
            ),
            authorize_rate: LimitRule::per_minute(
                "payment_authorize",
                self.authorize_rate_per_minute,
                self.authorize_rate_burst,
            ),
            duplicate_wait: idempotency.duplicate_wait,
            key_retention: idempotency.idempotency_retention,
            ..PaymentSettings::default()
        }
    }

    pub fn validate(&self) -> anyhow::Result<()> {
        self.thresholds()?;
        let usd = Currency::parse("USD").ok().context("USD is known")?;
        if threshold_minor(&self.mfa_threshold_default, usd).is_none() {
            bail!("payments.mfa_threshold_default must be a positive amount in major units");
        }
        if self.fee_basis_points > 10_000 {
            bail!("payments.fee_basis_points must be between 0 and 10000");
        }
        let rates = [
            self.request_rate_per_minute,
            self.request_rate_burst,
            self.authorize_rate_per_minute,
            self.authorize_rate_burst,
        ];
        if !(1..=3600).contains(&self.expiry_interval_secs)
            || !(1..=10_000).contains(&self.expiry_batch_size)
        {
            bail!("payments.expiry_interval_secs must be 1–3600 and expiry_batch_size 1–10000");
        }
        if rates.iter().any(|r| !(1..=1_000_000).contains(r)) {
            bail!("payments rate limits and bursts must be between 1 and 1000000");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_fee_and_limits_are_validated() {
        let mut config = PaymentsConfig::default();
        assert!(config.validate().is_ok());
        config.mfa_threshold.insert("usd".into(), "100.00".into());
        config.mfa_threshold.insert("JPY".into(), "5000".into());
        assert!(config.validate().is_ok());
        let settings = config.settings(&WalletConfig::default());
        assert_eq!(settings.mfa_thresholds.get("USD"), Some(&10_000));
        assert_eq!(settings.mfa_thresholds.get("JPY"), Some(&5_000));
        assert_eq!(settings.request_rate.rate, 5);
        assert_eq!(settings.authorize_rate.burst, 3);

        let wallet = WalletConfig {
            idempotency_retention_hours: 24,
            duplicate_wait_seconds: 2,
            ..WalletConfig::default()
        };
        let settings = config.settings(&wallet);
        assert_eq!(settings.key_retention, time::Duration::hours(24));
        assert_eq!(settings.duplicate_wait, std::time::Duration::from_secs(2));

        let mut bad = PaymentsConfig::default();
        bad.mfa_threshold.insert("XXX".into(), "1".into());
        assert!(bad.validate().is_err());
        let mut bad = PaymentsConfig::default();
        bad.mfa_threshold.insert("USD".into(), "-1".into());
        assert!(bad.validate().is_err());
        let bad = PaymentsConfig {
            fee_basis_points: 10_001,
            ..PaymentsConfig::default()
        };
        assert!(bad.validate().is_err());
        let bad = PaymentsConfig {
            authorize_rate_burst: 0,
            ..PaymentsConfig::default()
        };
        assert!(bad.validate().is_err());
    }
}
