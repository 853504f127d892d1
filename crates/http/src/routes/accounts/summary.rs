//! `GET /api/v1/users/{id}/summary` (admin).

use super::path_uuid;
use crate::auth::SessionPrincipal;
use crate::error::{ApiError, ErrorEnvelope};
use crate::AppState;
use axum::extract::{Path, State};
use axum::Json;
use serde::Serialize;
use tmcp_domain::user::Role;
use tmcp_domain::UserId;
use utoipa::ToSchema;

/// A row of the `user_summary` view.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserSummaryView {
    pub id: String,
    pub username: String,
    pub status: String,
    pub installed_apps_count: i64,
    pub payment_count: i64,
    /// Sum of completed payments, in minor units.
    pub total_spent: i64,
}

/// An account's activity summary (installed apps, completed payments). Admins only.
#[utoipa::path(get, path = "/api/v1/users/{id}/summary", tag = "accounts",
    security(("session" = [])),
    params(("id" = String, Path, format = Uuid, description = "user id (a UUID; anything else is 404)")),
    responses(
        (status = 200, description = "summary", body = UserSummaryView),
        (status = 401, description = "`INVALID_TOKEN`", body = ErrorEnvelope),
        (status = 403, description = "`INSUFFICIENT_PERMISSIONS` (admin role required)", body = ErrorEnvelope),
        (status = 404, description = "no such user", body = ErrorEnvelope)))]
pub async fn user_summary(
    State(state): State<AppState>,
    principal: SessionPrincipal,
    Path(id): Path<String>,
) -> Result<Json<UserSummaryView>, ApiError> {
    principal.require_role(Role::Admin)?;
    let id = UserId(path_uuid(&id, "user")?);
    let summary = state
        .db
        .user_summary(id)
        .await?
        .ok_or_else(|| ApiError::not_found("no such user"))?;
    Ok(Json(UserSummaryView {
        id: summary.id.to_string(),
        username: summary.username,
        status: summary.status.as_db().into(),
        installed_apps_count: summary.installed_apps_count,
        payment_count: summary.payment_count,
        total_spent: summary.total_spent,
    }))
}
