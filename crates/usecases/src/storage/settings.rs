//! Storage configuration: quotas and rate limits. (The tombstone retention is the
//! maintenance job's setting.)

use crate::limits::LimitRule;
use tmcp_domain::storage::QuotaPolicy;

#[derive(Debug, Clone)]
pub struct StorageSettings {
    pub quotas: QuotaPolicy,
    /// Single-key routes, listing, quota, pull, status and conflicts, per (user, app).
    pub rate: LimitRule,
    /// Batch routes and sync push, per (user, app).
    pub batch_rate: LimitRule,
}

impl Default for StorageSettings {
    fn default() -> Self {
        Self {
            quotas: QuotaPolicy::default(),
            rate: LimitRule::per_minute("storage", 100, 20),
            batch_rate: LimitRule::per_minute("storage_batch", 10, 10),
        }
    }
}
