//! `GET /api/v1/storage/quota`: usage of live entries, exact at the time of the request.

use super::QuotaResponse;
use crate::auth::TepPrincipal;
use crate::error::{ApiError, ErrorEnvelope};
use crate::services::storage::{admit, respond, Caller, RouteClass, SCOPE_READ};
use crate::AppState;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use tmcp_usecases::storage::quota::quota as read_quota;

/// The caller's quota. Entries that expired but were not purged yet are purged first, so
/// the numbers always equal the sum over live entries.
#[utoipa::path(get, path = "/api/v1/storage/quota", tag = "storage",
    security(("tep" = ["storage:read"])),
    responses(
        (status = 200, description = "usage and limits of this (user, app)", body = QuotaResponse),
        (status = 403, description = "storage:read missing", body = ErrorEnvelope),
        (status = 429, description = "rate limited", body = ErrorEnvelope)))]
pub async fn quota(State(state): State<AppState>, principal: TepPrincipal) -> Response {
    match admit(&state, &principal, SCOPE_READ, RouteClass::Single).await {
        Err(e) => e.into_response(),
        Ok((caller, decision)) => respond(&decision, report(&state, &caller).await),
    }
}

async fn report(state: &AppState, caller: &Caller) -> Result<Response, ApiError> {
    let snapshot = read_quota(
        state.db.as_ref(),
        state.clock.as_ref(),
        &state.settings.storage,
        caller,
    )
    .await?;
    Ok(Json(QuotaResponse::from(snapshot)).into_response())
}
