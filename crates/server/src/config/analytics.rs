//! `[analytics]` (`TMCP_ANALYTICS__*`): the rollup job. Raw events are kept
//! `maintenance.analytics_retention_days`.

use anyhow::bail;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct AnalyticsConfig {
    /// How often the rollup job looks for dirty buckets.
    pub rollup_interval_secs: u64,
    /// Dirty marks per rollup batch.
    pub rollup_batch_size: i64,
    /// How long hourly rollups are kept (the stats read them).
    pub rollup_retention_days: i64,
}

impl Default for AnalyticsConfig {
    fn default() -> Self {
        Self {
            rollup_interval_secs: 60,
            rollup_batch_size: 500,
            rollup_retention_days: 730,
        }
    }
}

impl AnalyticsConfig {
    pub fn settings(
        &self,
        raw_retention_days: i64,
    ) -> tmcp_usecases::analytics::rollup::RollupSettings {
        tmcp_usecases::analytics::rollup::RollupSettings {
            batch_size: self.rollup_batch_size,
            raw_retention: time::Duration::days(raw_retention_days),
            rollup_retention: time::Duration::days(self.rollup_retention_days),
        }
    }

    pub fn validate(&self, raw_retention_days: i64) -> anyhow::Result<()> {
        if !(1..=86_400).contains(&self.rollup_interval_secs) {
            bail!("analytics.rollup_interval_secs must be between 1 and 86400");
        }
        if !(1..=100_000).contains(&self.rollup_batch_size) {
            bail!("analytics.rollup_batch_size must be between 1 and 100000");
        }
        if self.rollup_retention_days < raw_retention_days || self.rollup_retention_days > 36_500 {
            bail!(
                "analytics.rollup_retention_days must be at least maintenance.analytics_retention_days and at most 36500"
            );
        }
        Ok(())
    }
}
