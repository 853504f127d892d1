//! `POST /api/v1/auth/logout`.

use crate::auth::SessionPrincipal;
use crate::error::{ApiError, ErrorEnvelope};
use crate::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use tmcp_usecases::accounts::sessions::log_out;

/// Ends the calling session; its tokens (and TEPs minted from it) stop working.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "accounts",
    security(("session" = [])),
    responses(
        (status = 204, description = "session ended"),
        (status = 401, description = "`INVALID_TOKEN`", body = ErrorEnvelope)))]
pub async fn logout(
    State(state): State<AppState>,
    principal: SessionPrincipal,
) -> Result<StatusCode, ApiError> {
    log_out(
        state.account_ports(),
        principal.user_id,
        principal.session_id,
    )
    .await?;
    // TEPs minted from this session stop at once in this process (others: within the
    // liveness cache's few seconds).
    state.tep.forget_all();
    Ok(StatusCode::NO_CONTENT)
}
