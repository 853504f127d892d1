//! `GET /api/v1/auth/sessions`, `DELETE /api/v1/auth/sessions/{id}`.

use super::path_uuid;
use super::views::SessionView;
use crate::auth::SessionPrincipal;
use crate::error::{ApiError, ErrorEnvelope};
use crate::{AccountsState, AppState};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Serialize;
use tmcp_domain::SessionId;
use tmcp_usecases::accounts::sessions::{end_session as end_session_of, live_sessions};
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
    State(accounts): State<AccountsState>,
    principal: SessionPrincipal,
) -> Result<Json<SessionList>, ApiError> {
    let sessions = live_sessions(accounts.ports(), principal.user_id).await?;
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
    end_session_of(
        state.account_ports(),
        principal.user_id,
        principal.session_id,
        id,
    )
    .await?;
    state.tep.forget_all();
    Ok(StatusCode::NO_CONTENT)
}
