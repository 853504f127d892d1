//! `DELETE /api/v1/users/me`.

use crate::auth::errors::invalid_token;
use crate::auth::SessionPrincipal;
use crate::error::{ApiError, ErrorEnvelope};
use crate::extract::ApiJson;
use crate::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use tmcp_repository::AccountTombstone;
use utoipa::ToSchema;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteAccountRequest {
    /// The account's current password.
    #[schema(max_length = 128)]
    pub password: String,
}

crate::auth::redacted_debug!(DeleteAccountRequest { ; password });

/// Deletes the caller's account: status `deleted`, personal fields erased, devices and MFA
/// methods removed, every session ended. Payments and ledger history are kept.
#[utoipa::path(delete, path = "/api/v1/users/me", tag = "accounts",
    security(("session" = [])),
    request_body = DeleteAccountRequest,
    responses(
        (status = 204, description = "account deleted"),
        (status = 401, description = "`INVALID_TOKEN` or `INVALID_CREDENTIALS`", body = ErrorEnvelope),
        (status = 429, description = "too many wrong passwords for this account (`Retry-After`)", body = ErrorEnvelope)))]
pub async fn delete_me(
    State(state): State<AppState>,
    principal: SessionPrincipal,
    ApiJson(body): ApiJson<DeleteAccountRequest>,
) -> Result<StatusCode, ApiError> {
    let user = state
        .db
        .find_user(principal.user_id)
        .await?
        .ok_or_else(invalid_token)?;
    crate::auth::throttle::reauthenticate(&state, &user, body.password).await?;
    let deleted = state
        .db
        .delete_account(
            principal.user_id,
            AccountTombstone::for_user(principal.user_id),
            state.clock.now(),
        )
        .await?;
    if !deleted {
        return Err(invalid_token());
    }
    state.tep.forget_all();
    tracing::info!(user_id = %principal.user_id, "account deleted");
    Ok(StatusCode::NO_CONTENT)
}
