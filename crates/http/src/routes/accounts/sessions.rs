//! `GET /api/v1/auth/sessions`, `DELETE /api/v1/auth/sessions/{id}`.

use super::path_uuid;
use super::views::SessionView;
use crate::auth::SessionPrincipal;
use crate::error::{ApiError, ErrorEnvelope};
use crate::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Serialize;
use tmcp_domain::SessionId;
use tmcp_repository::RevokeReason;
use utoipa::ToSchema;

#[derive(Debug, Serialize, ToSchema)]
pub struct SessionList {
    pub sessions: Vec<SessionView>,
}

/// The caller's live sessions, newest first.
#[utoipa::path(get, path = "/api/v1/auth/sessions", tag = "accounts",
    security(("session" = [])),
    responses(
        (status = 200, description = "live sessions", body = SessionList),
        (status = 401, description = "`INVALID_TOKEN`", body = ErrorEnvelope)))]
pub async fn list_sessions(
    State(state): State<AppState>,
    principal: SessionPrincipal,
) -> Result<Json<SessionList>, ApiError> {
    let sessions = state
        .db
        .list_live_sessions(principal.user_id, state.clock.now())
        .await?;
    Ok(Json(SessionList {
        sessions: sessions
            .iter()
            .map(|s| SessionView::build(s, s.id == principal.session_id))
            .collect(),
    }))
}

/// Ends one of the caller's sessions (another user's session id answers 404).
#[utoipa::path(delete, path = "/api/v1/auth/sessions/{id}", tag = "accounts",
    security(("session" = [])),
    params(("id" = String, Path, format = Uuid, description = "session id (a UUID; anything else is 404)")),
    responses(
        (status = 204, description = "session ended"),
        (status = 401, description = "`INVALID_TOKEN`", body = ErrorEnvelope),
        (status = 404, description = "no such live session of the caller", body = ErrorEnvelope)))]
pub async fn end_session(
    State(state): State<AppState>,
    principal: SessionPrincipal,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = SessionId(path_uuid(&id, "session")?);
    let reason = if id == principal.session_id {
        RevokeReason::Logout
    } else {
        RevokeReason::User
    };
    let ended = state
        .db
        .revoke_session(principal.user_id, id, state.clock.now(), reason)
        .await?;
    if ended {
        state.tep.forget_all();
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found("no such session"))
    }
}
