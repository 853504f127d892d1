//! Store administration (admins only): the review queue and decisions, flags, the
//! `app_summary` figures, review moderation and categories.

use super::caller;
use super::views::{AppList, AppView, CategoryView, ReviewView};
use crate::auth::SessionPrincipal;
use crate::error::{ApiError, ErrorEnvelope};
use crate::extract::ApiJson;
use crate::AppState;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use tmcp_domain::store::AppAction;
use tmcp_domain::AppId;
use tmcp_usecases::store::apps::require_admin;
use tmcp_usecases::store::categories::{self, CategoryInput};
use tmcp_usecases::store::{review, reviews, StoreError};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// 1–100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    /// 0–10000.
    #[param(minimum = 0, maximum = 10000)]
    pub offset: Option<u32>,
}

/// The page a listing asks for, within the store's page limit (`StoreSettings::max_page`,
/// 100 by default).
pub(crate) fn page(query: &PageQuery, max_page: i64) -> Result<(i64, i64), ApiError> {
    let limit = i64::from(query.limit.unwrap_or(20));
    let offset = query.offset.unwrap_or(0);
    if !(1..=max_page).contains(&limit) || offset > 10_000 {
        return Err(ApiError::invalid_request(format!(
            "limit must be 1-{max_page} and offset 0-10000"
        )));
    }
    Ok((limit, i64::from(offset)))
}

/// Apps waiting for review, oldest submission first.
#[utoipa::path(get, path = "/api/v1/admin/apps/review-queue", tag = "store-admin",
    security(("session" = [])),
    params(PageQuery),
    responses(
        (status = 200, description = "pending apps with a submitted version", body = AppList),
        (status = 400, description = "`INVALID_REQUEST`: limit or offset out of range", body = ErrorEnvelope),
        (status = 403, description = "`INSUFFICIENT_PERMISSIONS`: not an admin", body = ErrorEnvelope)))]
pub async fn queue(
    State(state): State<AppState>,
    principal: SessionPrincipal,
    Query(query): Query<PageQuery>,
) -> Result<Json<AppList>, ApiError> {
    let (limit, offset) = page(&query, state.settings.store.max_page)?;
    let apps = review::queue(state.db.as_ref(), caller(&principal), limit, offset).await?;
    Ok(Json(AppList {
        apps: apps.iter().map(AppView::from).collect(),
    }))
}

/// Approves the submitted version: the app becomes `active` with it (or a deprecated app
/// is reinstated). Sends `app.approved` to the app's webhook.
#[utoipa::path(post, path = "/api/v1/admin/apps/{app_id}/approve", tag = "store-admin",
    security(("session" = [])),
    params(("app_id" = String, Path, max_length = 255)),
    responses(
        (status = 200, description = "approved", body = AppView),
        (status = 403, description = "`INSUFFICIENT_PERMISSIONS`: not an admin", body = ErrorEnvelope),
        (status = 404, description = "`APP_NOT_FOUND`", body = ErrorEnvelope),
        (status = 409, description = "`INVALID_STATE_TRANSITION`: nothing submitted, or the app's status does not allow it", body = ErrorEnvelope)))]
pub async fn approve(
    State(state): State<AppState>,
    principal: SessionPrincipal,
    Path(app_id): Path<String>,
) -> Result<Json<AppView>, ApiError> {
    let app = review::approve(
        state.db.as_ref(),
        state.clock.as_ref(),
        caller(&principal),
        &app_id,
    )
    .await?;
    Ok(Json(AppView::from(&app)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RejectBody {
    /// Shown to the developer.
    #[schema(min_length = 1, max_length = 1000)]
    pub reason: String,
}

/// Rejects the submission with a reason the developer sees. Sends `app.rejected`.
#[utoipa::path(post, path = "/api/v1/admin/apps/{app_id}/reject", tag = "store-admin",
    security(("session" = [])),
    params(("app_id" = String, Path, max_length = 255)),
    request_body = RejectBody,
    responses(
        (status = 200, description = "rejected", body = AppView),
        (status = 403, description = "`INSUFFICIENT_PERMISSIONS`: not an admin", body = ErrorEnvelope),
        (status = 404, description = "`APP_NOT_FOUND`", body = ErrorEnvelope),
        (status = 409, description = "`INVALID_STATE_TRANSITION`: only pending apps can be rejected", body = ErrorEnvelope),
        (status = 422, description = "`VALIDATION_FAILED`: reason missing or too long", body = ErrorEnvelope)))]
pub async fn reject(
    State(state): State<AppState>,
    principal: SessionPrincipal,
    Path(app_id): Path<String>,
    ApiJson(body): ApiJson<RejectBody>,
) -> Result<Json<AppView>, ApiError> {
    let app = review::reject(
        state.db.as_ref(),
        state.clock.as_ref(),
        caller(&principal),
        &app_id,
        &body.reason,
    )
    .await?;
    Ok(Json(AppView::from(&app)))
}

/// Deprecates an active app: hidden from browse and search, still usable where installed.
#[utoipa::path(post, path = "/api/v1/admin/apps/{app_id}/deprecate", tag = "store-admin",
    security(("session" = [])),
    params(("app_id" = String, Path, max_length = 255)),
    responses(
        (status = 200, description = "deprecated", body = AppView),
        (status = 403, description = "`INSUFFICIENT_PERMISSIONS`: not an admin", body = ErrorEnvelope),
        (status = 404, description = "`APP_NOT_FOUND`", body = ErrorEnvelope),
        (status = 409, description = "`INVALID_STATE_TRANSITION`: only active apps", body = ErrorEnvelope)))]
pub async fn deprecate(
    State(state): State<AppState>,
    principal: SessionPrincipal,
    Path(app_id): Path<String>,
) -> Result<Json<AppView>, ApiError> {
    let app = review::retire(
        state.db.as_ref(),
        state.clock.as_ref(),
        caller(&principal),
        &app_id,
        AppAction::Deprecate,
    )
    .await?;
    Ok(Json(AppView::from(&app)))
}

/// Removes the app for good: not listed, not installable.
#[utoipa::path(post, path = "/api/v1/admin/apps/{app_id}/remove", tag = "store-admin",
    security(("session" = [])),
    params(("app_id" = String, Path, max_length = 255)),
    responses(
        (status = 200, description = "removed", body = AppView),
        (status = 403, description = "`INSUFFICIENT_PERMISSIONS`: not an admin", body = ErrorEnvelope),
        (status = 404, description = "`APP_NOT_FOUND`", body = ErrorEnvelope),
        (status = 409, description = "`INVALID_STATE_TRANSITION`: removed already", body = ErrorEnvelope)))]
pub async fn remove(
    State(state): State<AppState>,
    principal: SessionPrincipal,
    Path(app_id): Path<String>,
) -> Result<Json<AppView>, ApiError> {
    let app = review::retire(
        state.db.as_ref(),
        state.clock.as_ref(),
        caller(&principal),
        &app_id,
        AppAction::Remove,
    )
    .await?;
    Ok(Json(AppView::from(&app)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FlagsBody {
    /// Shown in `GET /api/v1/store/featured`.
    pub featured: Option<bool>,
    /// Users cannot uninstall it (official apps only).
    pub mandatory: Option<bool>,
    /// `official`, `verified`, `community` or `beta`.
    #[schema(pattern = "^(official|verified|community|beta)$")]
    pub classification: Option<String>,
}

/// Features an app, classifies it, or makes an official app mandatory.
#[utoipa::path(put, path = "/api/v1/admin/apps/{app_id}/flags", tag = "store-admin",
    security(("session" = [])),
    params(("app_id" = String, Path, max_length = 255)),
    request_body = FlagsBody,
    responses(
        (status = 200, description = "flags set", body = AppView),
        (status = 400, description = "`INVALID_REQUEST`: no flag given", body = ErrorEnvelope),
        (status = 403, description = "`INSUFFICIENT_PERMISSIONS`: not an admin", body = ErrorEnvelope),
        (status = 404, description = "`APP_NOT_FOUND`", body = ErrorEnvelope),
        (status = 422, description = "`VALIDATION_FAILED`: an unknown classification, or mandatory without official", body = ErrorEnvelope)))]
pub async fn flags(
    State(state): State<AppState>,
    principal: SessionPrincipal,
    Path(app_id): Path<String>,
    ApiJson(body): ApiJson<FlagsBody>,
) -> Result<Json<AppView>, ApiError> {
    let app = review::set_flags(
        state.db.as_ref(),
        state.clock.as_ref(),
        caller(&principal),
        &app_id,
        review::Flags {
            featured: body.featured,
            mandatory: body.mandatory,
            classification: body.classification,
        },
    )
    .await?;
    Ok(Json(AppView::from(&app)))
}

/// The `app_summary` figures: each counted once however many rows the other figures join.
#[derive(Debug, Serialize, ToSchema)]
pub struct SummaryView {
    pub miniapp_id: String,
    pub name: String,
    /// Users with a live installation.
    pub install_count: i64,
    /// Active reviews.
    pub review_count: i64,
    pub average_rating: f64,
    /// Completed payments to the app.
    pub purchase_count: i64,
    /// Their total, in minor units of their currencies added together.
    pub total_revenue: i64,
}

/// Exact install, review and payment figures of an app.
#[utoipa::path(get, path = "/api/v1/admin/apps/{app_id}/summary", tag = "store-admin",
    security(("session" = [])),
    params(("app_id" = String, Path, max_length = 255)),
    responses(
        (status = 200, description = "the app's figures", body = SummaryView),
        (status = 403, description = "`INSUFFICIENT_PERMISSIONS`: not an admin", body = ErrorEnvelope),
        (status = 404, description = "`APP_NOT_FOUND`", body = ErrorEnvelope)))]
pub async fn summary(
    State(state): State<AppState>,
    principal: SessionPrincipal,
    Path(app_id): Path<String>,
) -> Result<Json<SummaryView>, ApiError> {
    require_admin(caller(&principal))?;
    let app = AppId::parse(&app_id).map_err(|_| ApiError::from(StoreError::AppNotFound))?;
    let summary = state
        .db
        .app_summary(&app)
        .await
        .map_err(ApiError::from)?
        .ok_or_else(|| ApiError::from(StoreError::AppNotFound))?;
    Ok(Json(SummaryView {
        miniapp_id: summary.app_id,
        name: summary.name,
        install_count: summary.install_count,
        review_count: summary.review_count,
        average_rating: summary.average_rating,
        purchase_count: summary.purchase_count,
        total_revenue: summary.total_revenue,
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ModerateBody {
    /// `active`, `hidden` or `removed`.
    #[schema(pattern = "^(active|hidden|removed)$")]
    pub status: String,
}

/// Hides, removes or restores a review.
#[utoipa::path(put, path = "/api/v1/admin/reviews/{review_id}", tag = "store-admin",
    security(("session" = [])),
    params(("review_id" = String, Path, format = "uuid")),
    request_body = ModerateBody,
    responses(
        (status = 200, description = "the review", body = ReviewView),
        (status = 403, description = "`INSUFFICIENT_PERMISSIONS`: not an admin", body = ErrorEnvelope),
        (status = 404, description = "`NOT_FOUND`: no such review", body = ErrorEnvelope),
        (status = 409, description = "`CONFLICT`: the author has another active review", body = ErrorEnvelope),
        (status = 422, description = "`VALIDATION_FAILED`: unknown status", body = ErrorEnvelope)))]
pub async fn moderate(
    State(state): State<AppState>,
    principal: SessionPrincipal,
    Path(review_id): Path<String>,
    ApiJson(body): ApiJson<ModerateBody>,
) -> Result<Json<ReviewView>, ApiError> {
    let caller = caller(&principal);
    require_admin(caller)?;
    let id = Uuid::parse_str(&review_id).map_err(|_| ApiError::from(StoreError::ReviewNotFound))?;
    let review = reviews::moderate(
        state.db.as_ref(),
        state.clock.as_ref(),
        caller,
        id,
        &body.status,
    )
    .await?;
    Ok(Json(ReviewView::from(&review)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CategoryBody {
    /// Lower-case letters, digits, `_` and `-` (required on create).
    #[schema(max_length = 100, pattern = "^[a-z0-9_-]+$")]
    pub name: Option<String>,
    /// Required on create.
    #[schema(max_length = 255)]
    pub display_name: Option<String>,
    #[schema(max_length = 2000)]
    pub description: Option<String>,
    #[schema(max_length = 500)]
    pub icon_url: Option<String>,
    /// The parent category's id; `null` makes it a root.
    #[serde(default, with = "double_option")]
    #[schema(value_type = Option<String>, format = "uuid")]
    pub parent_id: Option<Option<Uuid>>,
    pub sort_order: Option<i64>,
    pub is_active: Option<bool>,
}

/// `absent` → None, `null` → Some(None), a value → Some(Some(v)).
mod double_option {
    use serde::{Deserialize, Deserializer};

    pub fn deserialize<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
    where
        D: Deserializer<'de>,
        T: Deserialize<'de>,
    {
        Option::<T>::deserialize(deserializer).map(Some)
    }
}

fn category_input(body: CategoryBody) -> CategoryInput {
    CategoryInput {
        name: body.name,
        display_name: body.display_name,
        description: body.description,
        icon_url: body.icon_url,
        parent_id: body.parent_id,
        sort_order: body.sort_order,
        is_active: body.is_active,
    }
}

/// Creates a category.
#[utoipa::path(post, path = "/api/v1/admin/categories", tag = "store-admin",
    security(("session" = [])),
    request_body = CategoryBody,
    responses(
        (status = 201, description = "created", body = CategoryView),
        (status = 403, description = "`INSUFFICIENT_PERMISSIONS`: not an admin", body = ErrorEnvelope),
        (status = 409, description = "`CONFLICT`: the name is taken", body = ErrorEnvelope),
        (status = 422, description = "`VALIDATION_FAILED` (`details.fields`)", body = ErrorEnvelope)))]
pub async fn create_category(
    State(state): State<AppState>,
    principal: SessionPrincipal,
    ApiJson(body): ApiJson<CategoryBody>,
) -> Result<(StatusCode, Json<CategoryView>), ApiError> {
    let category = categories::create(
        state.db.as_ref(),
        state.clock.as_ref(),
        caller(&principal),
        category_input(body),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(CategoryView::from(&category))))
}

fn category_id(text: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(text).map_err(|_| ApiError::from(StoreError::CategoryNotFound))
}

/// Changes a category (absent fields stay).
#[utoipa::path(patch, path = "/api/v1/admin/categories/{category_id}", tag = "store-admin",
    security(("session" = [])),
    params(("category_id" = String, Path, format = "uuid")),
    request_body = CategoryBody,
    responses(
        (status = 200, description = "updated", body = CategoryView),
        (status = 403, description = "`INSUFFICIENT_PERMISSIONS`: not an admin", body = ErrorEnvelope),
        (status = 404, description = "`NOT_FOUND`: no such category", body = ErrorEnvelope),
        (status = 409, description = "`CONFLICT`: the name is taken", body = ErrorEnvelope),
        (status = 422, description = "`VALIDATION_FAILED`: a field, or a parent that would make a loop", body = ErrorEnvelope)))]
pub async fn update_category(
    State(state): State<AppState>,
    principal: SessionPrincipal,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<CategoryBody>,
) -> Result<Json<CategoryView>, ApiError> {
    let caller = caller(&principal);
    require_admin(caller)?;
    let category = categories::update(
        state.db.as_ref(),
        state.clock.as_ref(),
        caller,
        category_id(&id)?,
        category_input(body),
    )
    .await?;
    Ok(Json(CategoryView::from(&category)))
}

/// Deletes a category without subcategories (its apps keep their category text).
#[utoipa::path(delete, path = "/api/v1/admin/categories/{category_id}", tag = "store-admin",
    security(("session" = [])),
    params(("category_id" = String, Path, format = "uuid")),
    responses(
        (status = 204, description = "deleted"),
        (status = 403, description = "`INSUFFICIENT_PERMISSIONS`: not an admin", body = ErrorEnvelope),
        (status = 404, description = "`NOT_FOUND`: no such category", body = ErrorEnvelope),
        (status = 409, description = "`CONFLICT`: it has subcategories", body = ErrorEnvelope)))]
pub async fn delete_category(
    State(state): State<AppState>,
    principal: SessionPrincipal,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let caller = caller(&principal);
    require_admin(caller)?;
    categories::delete(
        state.db.as_ref(),
        state.clock.as_ref(),
        caller,
        category_id(&id)?,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}
