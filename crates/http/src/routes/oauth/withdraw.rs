//! `POST /api/v1/auth/revoke`: the user withdraws an app's grant (all of it, or some
//! scopes). Every token the app holds for the user dies at once (access and refresh), and a
//! `scope.revoked` event is written to the webhook outbox in the same transaction.

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
use tmcp_domain::scope::rules;
use tmcp_repository::{ConsentWithdrawal, OutboxEvent};
use utoipa::ToSchema;
use uuid::Uuid;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WithdrawGrantRequest {
    #[schema(min_length = 1, max_length = 255)]
    pub client_id: String,
    #[schema(schema_with = crate::openapi::constraints::scope_names)]
    pub scopes: Option<Vec<String>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WithdrawGrantResponse {
    pub client_id: String,
    pub revoked_scopes: Vec<String>,
    /// Still approved; new tokens can be obtained for these.
    pub remaining_scopes: Vec<String>,
    /// RFC 3339; every token issued before this instant is dead.
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

/// Withdraws an app's grant.
#[utoipa::path(post, path = "/api/v1/auth/revoke", tag = "oauth",
    request_body = WithdrawGrantRequest,
    security(("session" = [])),
    responses(
        (status = 200, description = "grant withdrawn; the app's tokens no longer work", body = WithdrawGrantResponse),
        (status = 401, description = "`INVALID_TOKEN`", body = ErrorEnvelope),
        (status = 404, description = "`NOT_FOUND`: the user never granted this client anything", body = ErrorEnvelope),
        (status = 422, description = "`VALIDATION_FAILED`", body = ErrorEnvelope)))]
pub async fn withdraw_grant(
    State(state): State<AppState>,
    principal: SessionPrincipal,
    ApiJson(body): ApiJson<WithdrawGrantRequest>,
) -> Result<Json<WithdrawGrantResponse>, ApiError> {
    if body.client_id.is_empty() || body.client_id.len() > 255 {
        return Err(invalid("client_id", "1 to 255 characters"));
    }
    if let Some(scopes) = &body.scopes {
        if scopes.is_empty() || scopes.len() > 20 || scopes.iter().any(|s| rules(s).is_none()) {
            return Err(invalid("scopes", "1 to 20 known scopes"));
        }
    }
    let not_found = || ApiError::not_found("no grant for this client");
    let client = state
        .db
        .find_client(&body.client_id)
        .await?
        .ok_or_else(not_found)?;
    let consent = state
        .db
        .find_consent(principal.user_id, &client.client_id)
        .await?
        .ok_or_else(not_found)?;
    let revoked: Vec<String> = match &body.scopes {
        None => consent.scopes.clone(),
        Some(scopes) => {
            let mut s = scopes.clone();
            s.sort();
            s.dedup();
            s
        }
    };
    let remaining: Vec<String> = match &body.scopes {
        None => Vec::new(),
        Some(_) => consent
            .scopes
            .iter()
            .filter(|s| !revoked.contains(s))
            .cloned()
            .collect(),
    };
    let now = state.clock.now();
    let revoked_at = now.format(&Rfc3339).map_err(ApiError::internal)?;
    let app_id = client
        .app_id
        .clone()
        .unwrap_or_else(|| client.client_id.clone());
    let event = OutboxEvent {
        id: Uuid::now_v7(),
        app_id,
        event: "scope.revoked".into(),
        payload: json!({
            "event": "scope.revoked",
            "user_id": principal.user_id.to_string(),
            "client_id": client.client_id,
            "scopes": revoked,
            "remaining_scopes": remaining,
            "revoked_at": revoked_at,
        }),
        created_at: now,
    };
    let withdrawn = state
        .db
        .withdraw_consent(ConsentWithdrawal {
            user: principal.user_id,
            client_id: client.client_id.clone(),
            scopes: body.scopes.clone(),
            at: now,
            event,
        })
        .await?;
    if !withdrawn {
        return Err(not_found());
    }
    // Cached liveness answers of this process go now; other instances follow within the
    // liveness cache time.
    state.tep.forget_all();
    Ok(Json(WithdrawGrantResponse {
        client_id: client.client_id,
        revoked_scopes: revoked,
        remaining_scopes: remaining,
        revoked_at,
    }))
}
