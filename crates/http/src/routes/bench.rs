//! Routes that exist only for benchmarks (`bench_routes = true`), never on by default. They
//! give load generators baselines measured in the same run as the real routes.

use crate::auth::TepPrincipal;
use crate::error::ApiError;
use crate::AppState;
use axum::extract::State;
use axum::routing::get;
use axum::Router;

/// Inside the middleware stack: no-op, TEP-protected no-op, and one `SELECT 1`.
pub fn layered() -> Router<AppState> {
    Router::new()
        .route("/bench/noop", get(|| async { "ok" }))
        .route("/bench/tep", get(|_principal: TepPrincipal| async { "ok" }))
        .route("/bench/select1", get(select_one))
}

/// Outside every layer: the cost of axum itself, the floor for every ratio.
pub fn raw() -> Router {
    Router::new().route("/bench/raw", get(|| async { "ok" }))
}

async fn select_one(State(state): State<AppState>) -> Result<&'static str, ApiError> {
    state.db.ping().await?;
    Ok("ok")
}
