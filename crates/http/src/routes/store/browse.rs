//! The store as users see it: the category tree, an app's detail, installs, the installed
//! list and reviews. Reads take a session or a TEP; installs and reviews the user's session.

use super::admin::{page, PageQuery};
use super::caller;
use super::views::{category_tree, CategoryTree, InstallationView, RatingView, ReviewView};
use crate::auth::{SessionOrTep, SessionPrincipal};
use crate::error::{ApiError, ErrorEnvelope};
use crate::extract::ApiJson;
use crate::AppState;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use tmcp_repository::InstallOutcome;
use tmcp_usecases::store::apps::icon_url;
use tmcp_usecases::store::reviews::{self, ReviewInput};
use tmcp_usecases::store::{categories, installs, StoreError};
use utoipa::ToSchema;
use uuid::Uuid;

/// Active categories as a tree, ordered by `sort_order` then name.
#[utoipa::path(get, path = "/api/v1/store/categories", tag = "store",
    security(("session" = []), ("tep" = [])),
    responses((status = 200, description = "the category tree", body = CategoryTree)))]
pub async fn category_list(
    State(state): State<AppState>,
    _caller: SessionOrTep,
) -> Result<Json<CategoryTree>, ApiError> {
    let all = categories::list(state.reads.as_ref(), false).await?;
    Ok(Json(CategoryTree {
        categories: category_tree(&all),
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AppDetail {
    pub miniapp_id: String,
    pub name: String,
    pub short_description: Option<String>,
    pub description: Option<String>,
    pub category: Option<String>,
    pub classification: String,
    /// `active`, or `deprecated` (no longer listed).
    pub status: String,
    pub developer_name: String,
    pub website: Option<String>,
    pub support_email: Option<String>,
    pub icon_url: Option<String>,
    pub featured: bool,
    /// Users cannot uninstall it.
    pub mandatory: bool,
    /// The published version.
    pub version: String,
    pub published_at: Option<String>,
    pub rating: RatingView,
    /// The calling user has it installed (false for a TEP without a user).
    pub installed: bool,
    /// The version the caller has installed.
    pub installed_version: Option<String>,
}

/// A published app: listing, current version, rating summary with histogram, `installed`.
#[utoipa::path(get, path = "/api/v1/store/apps/{app_id}", tag = "store",
    security(("session" = []), ("tep" = [])),
    params(("app_id" = String, Path, max_length = 255)),
    responses(
        (status = 200, description = "the app", body = AppDetail),
        (status = 404, description = "`APP_NOT_FOUND`: unknown, not yet published, or removed", body = ErrorEnvelope)))]
pub async fn detail(
    State(state): State<AppState>,
    caller: SessionOrTep,
    Path(app_id): Path<String>,
) -> Result<Json<AppDetail>, ApiError> {
    let not_found = || ApiError::from(StoreError::AppNotFound);
    if app_id.len() > 255 {
        return Err(not_found());
    }
    // The listing and its ratings may lag (the replica); the caller's own installation is
    // read from the primary, so an install shows here at once.
    let app = state
        .reads
        .find_store_app(&app_id)
        .await
        .map_err(ApiError::from)?
        .filter(|a| {
            a.published_at.is_some()
                && matches!(
                    a.status,
                    tmcp_domain::store::AppStatus::Active
                        | tmcp_domain::store::AppStatus::Deprecated
                )
        })
        .ok_or_else(not_found)?;
    let user = match &caller {
        SessionOrTep::Session(session) => Some(session.user_id),
        SessionOrTep::Tep(tep) => tep.user_id,
    };
    let installation = match user {
        Some(user) => state
            .db
            .installation(user, &app.app_id)
            .await
            .map_err(ApiError::from)?,
        None => None,
    };
    let rating = state
        .reads
        .rating_summary(&app.app_id)
        .await
        .map_err(ApiError::from)?;
    Ok(Json(AppDetail {
        miniapp_id: app.app_id.clone(),
        name: app.listing.name.clone(),
        short_description: app.listing.short_description.clone(),
        description: app.listing.description.clone(),
        category: app.listing.category.clone(),
        classification: app.classification.clone(),
        status: app.status.as_wire().to_owned(),
        developer_name: app.developer_name.clone(),
        website: app.listing.website.clone(),
        support_email: app.listing.support_email.clone(),
        icon_url: icon_url(&app.listing),
        featured: app.featured,
        mandatory: app.mandatory,
        version: app.version.clone(),
        published_at: app.published_at.map(super::views::rfc3339),
        rating: RatingView::from(&rating),
        installed: installation.is_some(),
        installed_version: installation.map(|i| i.version),
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct InstallResponse {
    pub installation: InstallationView,
    /// `installed`, `reactivated` or `already_installed`.
    pub outcome: String,
}

/// Installs a listed app for the caller (at its published version). Idempotent: a second
/// call answers 200 with the live installation; an earlier uninstalled one is reactivated.
#[utoipa::path(post, path = "/api/v1/store/apps/{app_id}/install", tag = "store",
    security(("session" = [])),
    params(("app_id" = String, Path, max_length = 255)),
    responses(
        (status = 201, description = "installed (or reactivated)", body = InstallResponse),
        (status = 200, description = "it was installed already", body = InstallResponse),
        (status = 404, description = "`APP_NOT_FOUND`", body = ErrorEnvelope),
        (status = 409, description = "`APP_NOT_INSTALLABLE`: deprecated or removed", body = ErrorEnvelope)))]
pub async fn install(
    State(state): State<AppState>,
    principal: SessionPrincipal,
    Path(app_id): Path<String>,
) -> Result<(StatusCode, Json<InstallResponse>), ApiError> {
    let (_, outcome) = installs::install(
        state.db.as_ref(),
        state.clock.as_ref(),
        principal.user_id,
        &app_id,
    )
    .await?;
    let (status, outcome, installation) = match outcome {
        InstallOutcome::Installed(i) => (StatusCode::CREATED, "installed", i),
        InstallOutcome::Reactivated(i) => (StatusCode::CREATED, "reactivated", i),
        InstallOutcome::AlreadyInstalled(i) => (StatusCode::OK, "already_installed", i),
    };
    Ok((
        status,
        Json(InstallResponse {
            installation: InstallationView::from(&installation),
            outcome: outcome.to_owned(),
        }),
    ))
}

/// Uninstalls: the app's grant is withdrawn (its TEPs stop at once) and the caller's storage
/// for the app is deleted.
#[utoipa::path(delete, path = "/api/v1/store/apps/{app_id}/install", tag = "store",
    security(("session" = [])),
    params(("app_id" = String, Path, max_length = 255)),
    responses(
        (status = 204, description = "uninstalled"),
        (status = 403, description = "`APP_NOT_REMOVABLE`: a mandatory official app", body = ErrorEnvelope),
        (status = 404, description = "`APP_NOT_FOUND`, or `NOT_FOUND` when it is not installed", body = ErrorEnvelope)))]
pub async fn uninstall(
    State(state): State<AppState>,
    principal: SessionPrincipal,
    Path(app_id): Path<String>,
) -> Result<StatusCode, ApiError> {
    installs::uninstall(
        state.db.as_ref(),
        state.clock.as_ref(),
        &state.settings.storage,
        principal.user_id,
        &app_id,
    )
    .await?;
    // The grant is withdrawn: cached liveness answers in this process must not outlive it.
    state.tep.forget_all();
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct InstalledList {
    pub installations: Vec<InstallationView>,
}

/// The caller's installed apps, newest first.
#[utoipa::path(get, path = "/api/v1/store/installed", tag = "store",
    security(("session" = [])),
    responses((status = 200, description = "live installations", body = InstalledList)))]
pub async fn installed(
    State(state): State<AppState>,
    principal: SessionPrincipal,
) -> Result<Json<InstalledList>, ApiError> {
    let list = installs::installed(state.db.as_ref(), caller(&principal)).await?;
    Ok(Json(InstalledList {
        installations: list.iter().map(InstallationView::from).collect(),
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReviewList {
    pub reviews: Vec<ReviewView>,
    pub rating: RatingView,
    pub limit: i64,
    pub offset: i64,
}

/// Visible reviews (most helpful, then newest first) and the rating summary.
#[utoipa::path(get, path = "/api/v1/store/apps/{app_id}/reviews", tag = "store",
    security(("session" = []), ("tep" = [])),
    params(("app_id" = String, Path, max_length = 255), PageQuery),
    responses(
        (status = 200, description = "reviews", body = ReviewList),
        (status = 400, description = "`INVALID_REQUEST`: limit or offset out of range", body = ErrorEnvelope),
        (status = 404, description = "`APP_NOT_FOUND`", body = ErrorEnvelope)))]
pub async fn list_reviews(
    State(state): State<AppState>,
    _caller: SessionOrTep,
    Path(app_id): Path<String>,
    Query(query): Query<PageQuery>,
) -> Result<Json<ReviewList>, ApiError> {
    let (limit, offset) = page(&query, state.settings.store.max_page)?;
    let (list, summary) = reviews::list(state.db.as_ref(), &app_id, limit, offset).await?;
    Ok(Json(ReviewList {
        reviews: list.iter().map(ReviewView::from).collect(),
        rating: RatingView::from(&summary),
        limit,
        offset,
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReviewBody {
    #[schema(minimum = 1, maximum = 5)]
    pub rating: i64,
    #[schema(max_length = 255)]
    pub title: Option<String>,
    #[schema(max_length = 5000)]
    pub comment: Option<String>,
}

/// Writes the caller's review; a second call updates it (one active review per user).
#[utoipa::path(post, path = "/api/v1/store/apps/{app_id}/reviews", tag = "store",
    security(("session" = [])),
    params(("app_id" = String, Path, max_length = 255)),
    request_body = ReviewBody,
    responses(
        (status = 201, description = "the caller's review", body = ReviewView),
        (status = 404, description = "`APP_NOT_FOUND`", body = ErrorEnvelope),
        (status = 422, description = "`VALIDATION_FAILED`: rating outside 1-5, text too long", body = ErrorEnvelope)))]
pub async fn write_review(
    State(state): State<AppState>,
    principal: SessionPrincipal,
    Path(app_id): Path<String>,
    ApiJson(body): ApiJson<ReviewBody>,
) -> Result<(StatusCode, Json<ReviewView>), ApiError> {
    let review = reviews::write(
        state.db.as_ref(),
        state.clock.as_ref(),
        caller(&principal),
        &app_id,
        ReviewInput {
            rating: body.rating,
            title: body.title,
            comment: body.comment,
        },
    )
    .await?;
    Ok((StatusCode::CREATED, Json(ReviewView::from(&review))))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HelpfulResponse {
    pub review: ReviewView,
    /// False when the caller had voted already.
    pub counted: bool,
}

/// One helpful vote per user on someone else's review.
#[utoipa::path(post, path = "/api/v1/store/apps/{app_id}/reviews/{review_id}/helpful", tag = "store",
    security(("session" = [])),
    params(("app_id" = String, Path, max_length = 255), ("review_id" = String, Path, format = "uuid")),
    responses(
        (status = 200, description = "the review with its count", body = HelpfulResponse),
        (status = 400, description = "`INVALID_REQUEST`: one's own review", body = ErrorEnvelope),
        (status = 404, description = "`NOT_FOUND`: no such visible review of this app", body = ErrorEnvelope)))]
pub async fn helpful(
    State(state): State<AppState>,
    principal: SessionPrincipal,
    Path((app_id, review_id)): Path<(String, String)>,
) -> Result<Json<HelpfulResponse>, ApiError> {
    let id = Uuid::parse_str(&review_id).map_err(|_| ApiError::from(StoreError::ReviewNotFound))?;
    let (review, counted) = reviews::vote_helpful(
        state.db.as_ref(),
        state.clock.as_ref(),
        caller(&principal),
        &app_id,
        id,
    )
    .await?;
    Ok(Json(HelpfulResponse {
        review: ReviewView::from(&review),
        counted,
    }))
}
