//! The key-value storage service (the TMCP protocol §3): its scopes, settings and limits,
//! the rules for keys and values, how stored values are rendered, its errors, and its
//! operations: single keys (`entries`), the key listing (`list`), batches (`batch`),
//! offline sync (`sync`), manual conflicts (`conflicts`) and the quota (`quota`). Who may
//! call (TEP scopes, rate limits) is decided by the HTTP layer before any of this runs.

pub mod batch;
pub mod conflicts;
pub mod entries;
pub mod error;
pub mod keys;
pub mod list;
pub mod quota;
pub mod settings;
pub mod sync;
pub mod values;

pub use error::{key_not_found, repo_error, version_conflict, CheckFields, StorageError};
pub use keys::{parse_key, parse_writable_key, path_key};
pub use settings::StorageSettings;
pub use values::{
    parse_metadata, parse_timestamp, parse_ttl, parse_value, render_value, rfc3339,
    stored_value_json, ParsedValue, RenderedValue, ValueInput,
};

use time::OffsetDateTime;
use tmcp_domain::{AppId, Clock, UserId};
use tmcp_repository::{Database, WriteContext};

pub const SCOPE_READ: &str = "storage:read";
pub const SCOPE_WRITE: &str = "storage:write";

/// The (user, app) a storage call acts for: taken from the TEP only.
#[derive(Debug, Clone)]
pub struct Caller {
    pub user: UserId,
    pub app: AppId,
}

/// The time of a write and the configured limits of the caller's app.
pub fn write_context(now: OffsetDateTime, settings: &StorageSettings, app: &AppId) -> WriteContext {
    WriteContext {
        now,
        limits: settings.quotas.for_app(app),
    }
}

/// Deletes all of a user's storage for an app and resets its quota (app uninstall, account
/// deletion). Returns how many live entries were deleted.
pub async fn delete_all_for_app(
    db: &dyn Database,
    clock: &dyn Clock,
    settings: &StorageSettings,
    user: UserId,
    app: &AppId,
) -> Result<u64, StorageError> {
    let context = write_context(clock.now(), settings, app);
    Ok(db.delete_all_for_app(user, app, &context).await?)
}
