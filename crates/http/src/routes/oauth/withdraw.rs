//! `POST /api/v1/auth/revoke`: the user cuts an app off — all of its grant, or some
//! scopes. Every token the app holds for the user dies at once (access and refresh), whatever
//! its scopes, including the pre-approved `storage:*` ones that were issued without a consent
//! row; a `scope.revoked` event is written to the webhook outbox in the same transaction when
//! anything was revoked.

use crate::auth::SessionPrincipal;
use crate::error::{ApiError, ErrorEnvelope};
use crate::extract::ApiJson;
use crate::AppState;
use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;
use tmcp_usecases::oauth::withdraw_grant as withdraw;
use utoipa::ToSchema;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WithdrawGrantRequest {
    #[schema(min_length = 1, max_length = 255)]
    pub client_id: String,
    /// Only these scopes (default: the whole grant). Either way every token of the app dies.
    #[schema(schema_with = crate::schema_constraints::scope_names)]
    pub scopes: Option<Vec<String>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WithdrawGrantResponse {
    pub client_id: String,
    /// What the app lost: approved scopes and those its live tokens carried (limited to the
    /// requested ones for a partial withdrawal). Empty when there was nothing to revoke.
    pub revoked_scopes: Vec<String>,
    /// Still approved; new tokens can be obtained for these.
    pub remaining_scopes: Vec<String>,
    /// Unexpired access tokens (TEPs) revoked.
    pub tokens_revoked: u64,
    /// Unexpired refresh tokens revoked.
    pub refresh_tokens_revoked: u64,
    /// RFC 3339; every token of the app issued at or before this instant is dead.
    pub revoked_at: String,
}

/// Withdraws an app's grant and ends its tokens.
///
/// Idempotent: an app the user never used, or one already withdrawn, answers 200 with nothing
/// revoked (and no webhook). This instance refuses the app's TEPs at once; other instances
/// within their TEP liveness cache time (2 s).
#[utoipa::path(post, path = "/api/v1/auth/revoke", tag = "oauth",
    request_body = WithdrawGrantRequest,
    security(("session" = [])),
    responses(
        (status = 200, description = "grant withdrawn; the app's tokens no longer work (counts may be 0 when there was nothing to revoke)", body = WithdrawGrantResponse),
        (status = 400, description = "`INVALID_REQUEST`: body is not JSON", body = ErrorEnvelope),
        (status = 401, description = "`INVALID_TOKEN`: no live session", body = ErrorEnvelope),
        (status = 403, description = "`ACCOUNT_SUSPENDED`", body = ErrorEnvelope),
        (status = 404, description = "`NOT_FOUND`: no client with this id", body = ErrorEnvelope),
        (status = 413, description = "`PAYLOAD_TOO_LARGE`", body = ErrorEnvelope),
        (status = 422, description = "`VALIDATION_FAILED`", body = ErrorEnvelope),
        (status = 500, description = "`INTERNAL_ERROR`; nothing was revoked", body = ErrorEnvelope)))]
pub async fn withdraw_grant(
    State(state): State<AppState>,
    principal: SessionPrincipal,
    ApiJson(body): ApiJson<WithdrawGrantRequest>,
) -> Result<Json<WithdrawGrantResponse>, ApiError> {
    let done = withdraw(
        state.db.as_ref(),
        state.clock.as_ref(),
        principal.user_id,
        &body.client_id,
        body.scopes,
    )
    .await?;
    let revoked_at = done
        .revoked_at
        .format(&Rfc3339)
        .map_err(ApiError::internal)?;
    // Cached liveness answers of this process go now; other instances follow within the
    // liveness cache time.
    state.tep.forget_all();
    Ok(Json(WithdrawGrantResponse {
        client_id: done.client_id,
        revoked_scopes: done.withdrawn.revoked_scopes,
        remaining_scopes: done.withdrawn.remaining_scopes,
        tokens_revoked: done.withdrawn.tokens_revoked,
        refresh_tokens_revoked: done.withdrawn.refresh_tokens_revoked,
        revoked_at,
    }))
}
