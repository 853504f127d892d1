//! Payment configuration: the MFA threshold per currency, the platform fee, the request
//! lifetime and the rate limits (the binary fills it from `[payments]`).

use crate::limits::LimitRule;
use std::collections::BTreeMap;
use time::Duration;
use tmcp_domain::{Currency, Money};

/// The default MFA threshold, in major units, for currencies not listed.
pub const DEFAULT_THRESHOLD_MAJOR: &str = "50.00";

#[derive(Debug, Clone)]
pub struct PaymentSettings {
    /// Per-currency thresholds in minor units; an authorization at or above it needs MFA.
    pub mfa_thresholds: BTreeMap<&'static str, i64>,
    /// The threshold, in major units, of a currency not in `mfa_thresholds`.
    pub default_threshold_major: String,
    /// The platform's fee in basis points of each payment (0 = none).
    pub fee_basis_points: u32,
    /// How long a request waits for its authorization.
    pub request_ttl: Duration,
    /// How long an MFA challenge stays valid.
    pub challenge_ttl: Duration,
    /// Payment requests per (user, app).
    pub request_rate: LimitRule,
    /// Authorizations per user (MFA verify and challenge are capped per payment instead: 3 attempts).
    pub authorize_rate: LimitRule,
    /// How long a duplicate request waits for the first one with its key.
    pub duplicate_wait: std::time::Duration,
    /// How long idempotency keys are kept.
    pub key_retention: Duration,
}

impl Default for PaymentSettings {
    fn default() -> Self {
        Self {
            mfa_thresholds: BTreeMap::new(),
            default_threshold_major: DEFAULT_THRESHOLD_MAJOR.into(),
            fee_basis_points: 0,
            request_ttl: Duration::minutes(5),
            challenge_ttl: Duration::minutes(3),
            request_rate: LimitRule::per_minute("payment_request", 5, 5),
            authorize_rate: LimitRule::per_minute("payment_authorize", 3, 3),
            duplicate_wait: crate::idempotency::DEFAULT_WAIT,
            key_retention: crate::idempotency::DEFAULT_RETENTION,
        }
    }
}

impl PaymentSettings {
    /// The MFA threshold of `currency` in minor units. A default that does not fit the
    /// currency (more decimals than it has) is rounded down to what it can express.
    pub fn threshold(&self, currency: Currency) -> i64 {
        if let Some(minor) = self.mfa_thresholds.get(currency.code()) {
            return *minor;
        }
        threshold_minor(&self.default_threshold_major, currency).unwrap_or(i64::MAX)
    }

    /// Whether an authorization of `amount` needs a second factor.
    pub fn needs_mfa(&self, amount: Money) -> bool {
        amount.minor >= self.threshold(amount.currency)
    }
}

/// A major-unit threshold in minor units of `currency`; extra decimals are cut off (50.00
/// in JPY is 50).
pub fn threshold_minor(major: &str, currency: Currency) -> Option<i64> {
    let (whole, fraction) = major.split_once('.').unwrap_or((major, ""));
    let keep = usize::from(currency.exponent()).min(fraction.len());
    let text = if keep == 0 {
        whole.to_owned()
    } else {
        format!("{whole}.{}", &fraction[..keep])
    };
    Money::parse_major(&text, currency).ok().map(|m| m.minor)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn currency(code: &str) -> Currency {
        Currency::parse(code).expect("known")
    }

    #[test]
    fn thresholds_default_to_fifty_major_units() {
        let settings = PaymentSettings::default();
        assert_eq!(settings.threshold(currency("USD")), 5_000);
        assert_eq!(settings.threshold(currency("JPY")), 50);
        let mut custom = settings.clone();
        custom.mfa_thresholds.insert("USD", 10_000);
        assert_eq!(custom.threshold(currency("USD")), 10_000);
        assert!(custom.needs_mfa(Money {
            minor: 10_000,
            currency: currency("USD")
        }));
        assert!(!custom.needs_mfa(Money {
            minor: 9_999,
            currency: currency("USD")
        }));
    }
}
