//! The developer's own apps: `GET /api/v1/developer/apps`, `GET|PATCH
//! /api/v1/developer/apps/{app_id}`, `POST …/submit` and the app's audit trail. Another
//! developer's app answers 404 `APP_NOT_FOUND`, like an unknown one.

use super::caller;
use super::views::{AppList, AppView};
use crate::auth::SessionPrincipal;
use crate::error::{ApiError, ErrorEnvelope};
use crate::extract::ApiJson;
use crate::AppState;
use axum::extract::{Path, State};
use axum::Json;
use serde::{Deserialize, Serialize};
use tmcp_usecases::store::apps::{self, require_developer, ListingEdit};
use tmcp_usecases::store::review;
use utoipa::ToSchema;

/// The caller's apps, newest first.
#[utoipa::path(get, path = "/api/v1/developer/apps", tag = "store",
    security(("session" = [])),
    responses(
        (status = 200, description = "the caller's apps", body = AppList),
        (status = 403, description = "`INSUFFICIENT_PERMISSIONS`: not a developer", body = ErrorEnvelope)))]
pub async fn list(
    State(state): State<AppState>,
    principal: SessionPrincipal,
) -> Result<Json<AppList>, ApiError> {
    let caller = caller(&principal);
    require_developer(caller).map_err(ApiError::from)?;
    let apps = state
        .db
        .developer_apps(caller.user)
        .await
        .map_err(ApiError::from)?;
    Ok(Json(AppList {
        apps: apps.iter().map(AppView::from).collect(),
    }))
}

/// One of the caller's apps.
#[utoipa::path(get, path = "/api/v1/developer/apps/{app_id}", tag = "store",
    security(("session" = [])),
    params(("app_id" = String, Path, max_length = 255)),
    responses(
        (status = 200, description = "the app", body = AppView),
        (status = 404, description = "`APP_NOT_FOUND`", body = ErrorEnvelope)))]
pub async fn get(
    State(state): State<AppState>,
    principal: SessionPrincipal,
    Path(app_id): Path<String>,
) -> Result<Json<AppView>, ApiError> {
    let app = apps::owned_app(state.db.as_ref(), caller(&principal), &app_id).await?;
    Ok(Json(AppView::from(&app)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ListingPatch {
    #[schema(min_length = 1, max_length = 255)]
    pub name: Option<String>,
    /// Empty clears.
    #[schema(max_length = 500)]
    pub short_description: Option<String>,
    #[schema(max_length = 10000)]
    pub description: Option<String>,
    /// The `name` of an active category; empty clears.
    pub category: Option<String>,
    #[schema(max_length = 500)]
    pub website: Option<String>,
    #[schema(max_length = 255)]
    pub support_email: Option<String>,
    #[schema(max_length = 500)]
    pub icon_url: Option<String>,
    #[schema(pattern = "^#[0-9a-fA-F]{6}$")]
    pub primary_color: Option<String>,
    #[schema(max_length = 500)]
    pub entry_url: Option<String>,
}

/// Edits the listing (absent fields stay). The change is in the audit trail.
#[utoipa::path(patch, path = "/api/v1/developer/apps/{app_id}", tag = "store",
    security(("session" = [])),
    params(("app_id" = String, Path, max_length = 255)),
    request_body = ListingPatch,
    responses(
        (status = 200, description = "the updated app", body = AppView),
        (status = 403, description = "`INSUFFICIENT_PERMISSIONS`: not a developer", body = ErrorEnvelope),
        (status = 404, description = "`APP_NOT_FOUND`", body = ErrorEnvelope),
        (status = 422, description = "`VALIDATION_FAILED` (`details.fields`)", body = ErrorEnvelope)))]
pub async fn patch(
    State(state): State<AppState>,
    principal: SessionPrincipal,
    Path(app_id): Path<String>,
    ApiJson(body): ApiJson<ListingPatch>,
) -> Result<Json<AppView>, ApiError> {
    let app = apps::update_listing(
        state.db.as_ref(),
        state.clock.as_ref(),
        caller(&principal),
        &app_id,
        ListingEdit {
            name: body.name,
            short_description: body.short_description,
            description: body.description,
            category: body.category,
            website: body.website,
            support_email: body.support_email,
            icon_url: body.icon_url,
            primary_color: body.primary_color,
            entry_url: body.entry_url,
        },
    )
    .await?;
    Ok(Json(AppView::from(&app)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubmitBody {
    /// An uploaded, not yet submitted version.
    #[schema(max_length = 50)]
    pub version: String,
}

/// Submits an uploaded version for review; the version can no longer change.
#[utoipa::path(post, path = "/api/v1/developer/apps/{app_id}/submit", tag = "store",
    security(("session" = [])),
    params(("app_id" = String, Path, max_length = 255)),
    request_body = SubmitBody,
    responses(
        (status = 200, description = "submitted; the app is pending review (or stays active with its current version)", body = AppView),
        (status = 403, description = "`INSUFFICIENT_PERMISSIONS`: not a developer", body = ErrorEnvelope),
        (status = 404, description = "`APP_NOT_FOUND` or `NOT_FOUND` (no such version)", body = ErrorEnvelope),
        (status = 409, description = "`CONFLICT`: the version was submitted already; `INVALID_STATE_TRANSITION`: the app is deprecated or removed, or the version has no package", body = ErrorEnvelope)))]
pub async fn submit(
    State(state): State<AppState>,
    principal: SessionPrincipal,
    Path(app_id): Path<String>,
    ApiJson(body): ApiJson<SubmitBody>,
) -> Result<Json<AppView>, ApiError> {
    let app = review::submit(
        state.db.as_ref(),
        state.clock.as_ref(),
        caller(&principal),
        &app_id,
        &body.version,
    )
    .await?;
    Ok(Json(AppView::from(&app)))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditView {
    pub id: String,
    pub actor_id: Option<String>,
    pub action: String,
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
    pub created_at: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditList {
    pub entries: Vec<AuditView>,
}

/// Who changed the app and how (newest first, at most 200).
#[utoipa::path(get, path = "/api/v1/developer/apps/{app_id}/audit", tag = "store",
    security(("session" = [])),
    params(("app_id" = String, Path, max_length = 255)),
    responses(
        (status = 200, description = "the app's audit trail", body = AuditList),
        (status = 404, description = "`APP_NOT_FOUND`", body = ErrorEnvelope)))]
pub async fn audit(
    State(state): State<AppState>,
    principal: SessionPrincipal,
    Path(app_id): Path<String>,
) -> Result<Json<AuditList>, ApiError> {
    let app = apps::owned_app(state.db.as_ref(), caller(&principal), &app_id).await?;
    let entries = state
        .db
        .audit_log(&app.app_id, 200)
        .await
        .map_err(ApiError::from)?;
    Ok(Json(AuditList {
        entries: entries
            .iter()
            .map(|e| AuditView {
                id: e.id.to_string(),
                actor_id: e.actor_id.map(|u| u.0.to_string()),
                action: e.action.clone(),
                detail: e.detail.clone(),
                created_at: super::views::rfc3339(e.created_at),
            })
            .collect(),
    }))
}

/// A webhook event of the app and where its delivery stands.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookEventView {
    pub event_id: String,
    /// `payment.completed`, `app.approved`, …
    pub event: String,
    /// `pending`, `delivered`, `failed` (the receiver refused it) or `dead` (retries
    /// exhausted; can be redelivered).
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: Option<String>,
    pub delivered_at: Option<String>,
    pub last_error: Option<String>,
}

impl From<&tmcp_repository::DeliveryState> for WebhookEventView {
    fn from(s: &tmcp_repository::DeliveryState) -> Self {
        Self {
            event_id: s.id.to_string(),
            event: s.event.clone(),
            status: s.status.as_str().to_owned(),
            attempts: s.attempts,
            next_attempt_at: s.next_attempt_at.map(super::views::rfc3339),
            delivered_at: s.delivered_at.map(super::views::rfc3339),
            last_error: s.last_error.clone(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookEventList {
    pub events: Vec<WebhookEventView>,
}

/// The app's 100 most recent webhook events.
#[utoipa::path(get, path = "/api/v1/developer/apps/{app_id}/webhooks/events", tag = "store",
    security(("session" = [])),
    params(("app_id" = String, Path, max_length = 255)),
    responses(
        (status = 200, description = "recent events, newest first", body = WebhookEventList),
        (status = 404, description = "`APP_NOT_FOUND`", body = ErrorEnvelope)))]
pub async fn webhook_events(
    State(state): State<AppState>,
    principal: SessionPrincipal,
    Path(app_id): Path<String>,
) -> Result<Json<WebhookEventList>, ApiError> {
    let app = apps::owned_app(state.db.as_ref(), caller(&principal), &app_id).await?;
    let events = state
        .db
        .app_events(&app.app_id, 100)
        .await
        .map_err(ApiError::from)?;
    Ok(Json(WebhookEventList {
        events: events.iter().map(WebhookEventView::from).collect(),
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryAttemptView {
    pub attempt: i32,
    /// The receiver's HTTP status, when it answered.
    pub status_code: Option<i32>,
    pub duration_ms: i64,
    pub error: Option<String>,
    pub attempted_at: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookEventLog {
    #[serde(flatten)]
    pub event: WebhookEventView,
    /// Every attempt, oldest first.
    pub log: Vec<DeliveryAttemptView>,
}

async fn own_event(
    state: &AppState,
    principal: &SessionPrincipal,
    app_id: &str,
    event_id: &str,
) -> Result<tmcp_repository::DeliveryState, ApiError> {
    let app = apps::owned_app(state.db.as_ref(), caller(principal), app_id).await?;
    let not_found = || ApiError::not_found("no such webhook event for this app");
    let id = uuid::Uuid::parse_str(event_id).map_err(|_| not_found())?;
    state
        .db
        .delivery_state(id)
        .await
        .map_err(ApiError::from)?
        .filter(|s| s.app_id == app.app_id)
        .ok_or_else(not_found)
}

/// One event's delivery log (status codes, durations, errors; never a response body).
#[utoipa::path(get, path = "/api/v1/developer/apps/{app_id}/webhooks/events/{event_id}", tag = "store",
    security(("session" = [])),
    params(("app_id" = String, Path, max_length = 255), ("event_id" = String, Path, format = "uuid")),
    responses(
        (status = 200, description = "the event and its attempts", body = WebhookEventLog),
        (status = 404, description = "`APP_NOT_FOUND`, or `NOT_FOUND`: no such event of this app", body = ErrorEnvelope)))]
pub async fn webhook_event(
    State(state): State<AppState>,
    principal: SessionPrincipal,
    Path((app_id, event_id)): Path<(String, String)>,
) -> Result<Json<WebhookEventLog>, ApiError> {
    let event = own_event(&state, &principal, &app_id, &event_id).await?;
    let attempts = state
        .db
        .delivery_attempts(event.id)
        .await
        .map_err(ApiError::from)?;
    Ok(Json(WebhookEventLog {
        event: WebhookEventView::from(&event),
        log: attempts
            .iter()
            .map(|a| DeliveryAttemptView {
                attempt: a.attempt,
                status_code: a.status_code,
                duration_ms: a.duration_ms,
                error: a.error.clone(),
                attempted_at: super::views::rfc3339(a.attempted_at),
            })
            .collect(),
    }))
}

/// Queues a dead-lettered or refused event for delivery again.
#[utoipa::path(post, path = "/api/v1/developer/apps/{app_id}/webhooks/events/{event_id}/redeliver", tag = "store",
    security(("session" = [])),
    params(("app_id" = String, Path, max_length = 255), ("event_id" = String, Path, format = "uuid")),
    responses(
        (status = 202, description = "queued; the worker delivers it"),
        (status = 404, description = "`APP_NOT_FOUND`, or `NOT_FOUND`: no such event of this app", body = ErrorEnvelope),
        (status = 409, description = "`INVALID_STATE_TRANSITION`: only `dead` or `failed` events can be redelivered", body = ErrorEnvelope)))]
pub async fn redeliver(
    State(state): State<AppState>,
    principal: SessionPrincipal,
    Path((app_id, event_id)): Path<(String, String)>,
) -> Result<axum::http::StatusCode, ApiError> {
    let event = own_event(&state, &principal, &app_id, &event_id).await?;
    match tmcp_usecases::webhooks::endpoints::redeliver(
        state.db.as_ref(),
        state.clock.as_ref(),
        event.id,
    )
    .await
    {
        Ok(()) => Ok(axum::http::StatusCode::ACCEPTED),
        Err(tmcp_usecases::webhooks::endpoints::EndpointError::Repository(e)) => Err(e.into()),
        Err(_) => Err(ApiError::new(
            axum::http::StatusCode::CONFLICT,
            "INVALID_STATE_TRANSITION",
            "only dead-lettered or refused events can be redelivered",
        )),
    }
}
