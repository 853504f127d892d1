//! The HTTP layer: router, cross-cutting middleware, the error envelope and the handlers.
//! It knows repositories only through `tmcp_repository::Database`; the binary picks the engine.

pub mod auth;
pub mod error;
pub mod extract;
pub mod metrics;
pub mod middleware;
pub mod openapi;
pub mod ratelimit;
pub mod redis_link;
pub mod routes;
pub mod schema_constraints;
pub mod services;
mod state;
pub mod testing;
pub mod transport;

pub use error::ApiError;
pub use state::{AccountsState, AppState, HttpSettings, ReplicaWatch, Shared};

use axum::extract::DefaultBodyLimit;
use axum::http::{header, StatusCode};
use axum::Router;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;
use tower_http::timeout::TimeoutLayer;

/// Builds the complete application with every cross-cutting layer applied.
pub fn router(state: AppState) -> Router {
    let bench = state.settings.bench_routes;
    let mut routes = routes::meta::routes()
        .merge(openapi::routes())
        .merge(routes::wellknown::routes())
        .merge(routes::accounts::routes())
        .merge(routes::devices::routes())
        .merge(routes::mfa::routes())
        .merge(routes::oauth::routes())
        .merge(routes::storage::routes())
        .merge(routes::payments::routes())
        .merge(routes::wallet::routes())
        .merge(routes::store::routes())
        .merge(routes::analytics::routes());
    if bench {
        routes = routes.merge(routes::bench::layered());
    }
    let app = with_layers(routes, state);
    if bench {
        app.merge(routes::bench::raw())
    } else {
        app
    }
}

/// Wraps `routes` in the fallbacks and cross-cutting layers every route gets. Public so tests
/// can exercise the layers with routes of their own.
pub fn with_layers(routes: Router<AppState>, state: AppState) -> Router {
    let settings = state.settings.clone();
    let edge_state = state.clone();
    // On matched routes only (unknown paths stay 404): every route's text passes the same
    // check before its handler parses anything.
    let routes = routes
        .route_layer(axum::middleware::from_fn(middleware::boundary::check))
        .fallback(routes::meta::not_found)
        .method_not_allowed_fallback(routes::meta::method_not_allowed)
        .with_state(state);
    // Each `layer` wraps everything added before it, so the last one is outermost. The edge
    // (request id, log line, size and rate limits, envelope, metrics: `middleware::edge`)
    // sees every answer, timeouts, body limits and panics included.
    routes
        .layer(DefaultBodyLimit::max(settings.body_limit_bytes))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            settings.request_timeout,
        ))
        .layer(CatchPanicLayer::custom(
            middleware::envelope::panic_response,
        ))
        .layer(axum::middleware::from_fn_with_state(
            edge_state,
            middleware::edge::edge,
        ))
        .layer(SetSensitiveRequestHeadersLayer::new([
            header::AUTHORIZATION,
            header::COOKIE,
        ]))
}
