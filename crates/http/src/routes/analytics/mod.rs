//! Lifecycle analytics (API §6): ingestion from mini-apps (`/api/v1/lifecycle/…`, TEP) and
//! the developer's stats (`/api/v1/developer/apps/{app_id}/stats`, session). Each handler
//! calls one use case of `tmcp_usecases::analytics`; errors map in `crate::error::analytics`.

pub mod ingest;
pub mod stats;

use crate::AppState;
use axum::routing::{get, post};
use axum::Router;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/lifecycle/events", post(ingest::events))
        .route("/api/v1/lifecycle/analytics", post(ingest::analytics))
        .route("/api/v1/lifecycle/metrics", post(ingest::metrics))
        .route(
            "/api/v1/developer/apps/{app_id}/stats",
            get(stats::app_stats),
        )
}
