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
