//! The caller's quota: usage of live entries against the app's limits.

use super::error::StorageError;
use super::{write_context, Caller, StorageSettings};
use tmcp_domain::Clock;
use tmcp_repository::{Database, QuotaSnapshot};

/// Usage and limits of the caller's (user, app). Entries that expired but were not purged
/// yet are purged first, so the numbers always equal the sum over live entries.
pub async fn quota(
    db: &dyn Database,
    clock: &dyn Clock,
    settings: &StorageSettings,
    caller: &Caller,
) -> Result<QuotaSnapshot, StorageError> {
    let context = write_context(clock.now(), settings, &caller.app);
    Ok(db.quota(caller.user, &caller.app, &context).await?)
}
