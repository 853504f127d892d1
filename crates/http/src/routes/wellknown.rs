//! Public key discovery for TEP verification.

use crate::AppState;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};

pub fn routes() -> Router<AppState> {
    Router::new().route("/.well-known/jwks.json", get(jwks))
}

/// Every public key that can verify a live TEP (RFC 7517 key set).
#[utoipa::path(get, path = "/.well-known/jwks.json", tag = "oauth",
    responses((status = 200, description = "JSON Web Key Set", body = Object)))]
pub async fn jwks(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(header::CACHE_CONTROL, "public, max-age=300")],
        Json(state.tep.jwks()),
    )
}
