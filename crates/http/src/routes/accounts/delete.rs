//! `DELETE /api/v1/users/me`.

use crate::auth::throttle::AccountBudget;
use crate::auth::SessionPrincipal;
use crate::error::{login_error, ApiError, ErrorEnvelope};
use crate::extract::ApiJson;
use crate::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use tmcp_usecases::accounts::deletion::delete_account;
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
    delete_account(
        state.account_ports(),
        &AccountBudget::new(&state),
        principal.user_id,
        body.password,
    )
    .await
    .map_err(login_error)?;
    // The account is gone; its apps go with it (grants withdrawn, storage wiped, lifecycle
    // events recorded). A failure here is logged by the use case, never undoes the deletion.
    if let Err(e) = tmcp_usecases::store::installs::uninstall_all(
        state.db.as_ref(),
        state.clock.as_ref(),
        &state.settings.storage,
        principal.user_id,
    )
    .await
    {
        tracing::warn!(user = %principal.user_id, error = %e, "uninstalling a deleted account's apps failed");
    }
    // Every session ended: TEPs minted from them stop at once in this process.
    state.tep.forget_all();
    Ok(StatusCode::NO_CONTENT)
}
