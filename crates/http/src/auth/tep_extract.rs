//! `TepPrincipal` as an extractor. Kept apart from the TEP service so `state.rs`, which
//! holds the service, imports no file that imports the state back.

use super::tep::{bearer, invalid, TepPrincipal};
use crate::error::ApiError;
use crate::AppState;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;

impl FromRequestParts<AppState> for TepPrincipal {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = bearer(parts).ok_or_else(|| invalid("a TEP bearer token is required"))?;
        if token.len() > 8192 {
            return Err(invalid("token too long"));
        }
        state
            .tep
            .validate(state.db.as_ref(), token, state.clock.now())
            .await
    }
}
