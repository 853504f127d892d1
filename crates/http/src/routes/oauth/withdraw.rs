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
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::json;
use time::format_description::well_known::Rfc3339;
use tmcp_domain::ids::uuid_v7_at;
use tmcp_domain::scope::rules;
use tmcp_repository::ConsentWithdrawal;
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

fn invalid(field: &str, message: &str) -> ApiError {
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "VALIDATION_FAILED",
        "request body has invalid fields",
    )
    .with_details(json!({ "fields": { field: message } }))
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
    if body.client_id.is_empty() || body.client_id.len() > 255 {
        return Err(invalid("client_id", "1 to 255 characters"));
    }
    let scopes = match body.scopes {
        Some(scopes)
            if scopes.is_empty()
                || scopes.len() > 20
                || scopes.iter().any(|s| rules(s).is_none()) =>
        {
            return Err(invalid("scopes", "1 to 20 known scopes"));
        }
        other => other,
    };
    let client = state
        .db
        .find_client(&body.client_id)
        .await?
        .ok_or_else(|| ApiError::not_found("no client with this id"))?;
    let now = state.clock.now();
    let revoked_at = now.format(&Rfc3339).map_err(ApiError::internal)?;
    let app_id = client
        .app_id
        .clone()
        .unwrap_or_else(|| client.client_id.clone());
    let withdrawn = state
        .db
        .withdraw_consent(ConsentWithdrawal {
            user: principal.user_id,
            client_id: client.client_id.clone(),
            scopes,
            at: now,
            event_id: uuid_v7_at(now),
            app_id,
        })
        .await?;
    // Cached liveness answers of this process go now; other instances follow within the
    // liveness cache time.
    state.tep.forget_all();
    Ok(Json(WithdrawGrantResponse {
        client_id: client.client_id,
        revoked_scopes: withdrawn.revoked_scopes,
        remaining_scopes: withdrawn.remaining_scopes,
        tokens_revoked: withdrawn.tokens_revoked,
        refresh_tokens_revoked: withdrawn.refresh_tokens_revoked,
        revoked_at,
    }))
}
