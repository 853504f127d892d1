//! No-op routes for load tests, served only with `bench_routes = true`: the same trivial
//! answer with and without TEP validation, so the difference is the cost of validation.
//! Not part of the API (and not in the OpenAPI document).

use crate::auth::TepPrincipal;
use crate::AppState;
use axum::routing::get;
use axum::Router;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/bench/open", get(open))
        .route("/bench/tep", get(protected))
}

async fn open() -> &'static str {
    "ok"
}

async fn protected(_principal: TepPrincipal) -> &'static str {
    "ok"
}
