//! Start-up upkeep (partitions, retention, TTL purge, sync history): the same run as the
//! periodic upkeep job of `tmcp_jobs::upkeep`, done once before serving.

use crate::config::MaintenanceConfig;
use tmcp_domain::Clock;
use tmcp_repository::{Database, RepoResult};

pub use tmcp_jobs::upkeep::UpkeepReport as MaintenanceReport;

pub async fn run_once(
    db: &dyn Database,
    clock: &dyn Clock,
    settings: &MaintenanceConfig,
) -> RepoResult<MaintenanceReport> {
    tmcp_jobs::upkeep::run_once(db, clock.now(), &settings.upkeep_settings()).await
}
