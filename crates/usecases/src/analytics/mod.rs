//! Lifecycle analytics (API §6, docs/analytics.md): ingestion of lifecycle events, usage
//! events and performance metrics from mini-apps (one item or a batch, all or nothing), the
//! hourly rollup run and the developer's stats. The rules (limits, sessions, percentiles)
//! are in `tmcp_domain::analytics`.

mod answer;
pub mod ingest;
pub mod periods;
pub mod rollup;
pub mod stats;

use crate::fields::FieldErrors;
use tmcp_repository::RepoError;

#[derive(Debug, thiserror::Error)]
pub enum AnalyticsError {
    /// An item (or the batch) breaks the rules (422 `VALIDATION_FAILED`, with the item's
    /// `index` in a batch). Nothing of the request was stored. `reason` labels the
    /// rejection metric.
    #[error("invalid item: {fields}")]
    InvalidItem {
        index: Option<usize>,
        reason: &'static str,
        fields: FieldErrors,
        /// Items in the refused request (for the rejection metric).
        items: usize,
    },
    /// Query parameters break their rules (422 `VALIDATION_FAILED`).
    #[error("invalid query: {0}")]
    InvalidQuery(FieldErrors),
    /// Lifecycle and usage events need a token issued to a user (403).
    #[error("events need a token issued to a user")]
    UserRequired,
    /// The token's client is not a registered app, or the caller may not see the app (404
    /// `APP_NOT_FOUND`).
    #[error("app not found")]
    AppNotFound,
    #[error(transparent)]
    Repository(#[from] RepoError),
}

impl From<crate::store::StoreError> for AnalyticsError {
    fn from(error: crate::store::StoreError) -> Self {
        match error {
            crate::store::StoreError::Repository(e) => Self::Repository(e),
            _ => Self::AppNotFound,
        }
    }
}
