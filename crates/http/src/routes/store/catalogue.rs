//! Browse and search (`GET /api/v1/store/apps`) and the featured apps
//! (`GET /api/v1/store/featured`): listed apps only, with a session or a TEP (any scope).
//! How matching and ranking work: docs/store_search.md.

use crate::auth::SessionOrTep;
use crate::error::{ApiError, ErrorEnvelope};
use crate::AppState;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::Json;
use serde::{Deserialize, Serialize};
use tmcp_repository::CatalogueApp;
use tmcp_usecases::store::search::{self, SearchInput};
use utoipa::{IntoParams, ToSchema};

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CatalogueParams {
    /// Words to search for in any order (names weigh most, then short descriptions, then
    /// category and developer, then descriptions); the last word also matches as a prefix.
    /// At most 200 characters, no control characters. Without it the store is browsed.
    #[param(max_length = 200)]
    pub q: Option<String>,
    /// A category `name` (`GET /api/v1/store/categories`).
    #[param(max_length = 100)]
    pub category: Option<String>,
    /// `official`, `verified`, `community` or `beta`.
    pub classification: Option<String>,
    /// `popular`, `recent`, `rating` or `name`; default: best match with `q`, else
    /// `popular`.
    pub sort: Option<String>,
    /// 1–100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
    /// 0–10000 (default 0).
    #[param(minimum = 0, maximum = 10000)]
    pub offset: Option<i64>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FeaturedParams {
    /// 1–100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
}

/// The listing rating: the Bayesian average the store ranks by (pulled towards the mean of
/// all reviews while an app has few; 0 without reviews) and the number of active reviews,
/// both as of the last ranking refresh.
#[derive(Debug, Serialize, ToSchema)]
pub struct ListingRating {
    pub average: f64,
    pub count: i64,
}

/// A listed app.
#[derive(Debug, Serialize, ToSchema)]
pub struct CatalogueAppView {
    pub app_id: String,
    pub name: String,
    pub short_description: Option<String>,
    pub category: Option<String>,
    pub classification: String,
    pub developer_name: String,
    /// The published version.
    pub version: String,
    pub icon_url: Option<String>,
    pub featured: bool,
    /// Live installations as of the last ranking refresh.
    pub install_count: i64,
    pub rating: ListingRating,
}

impl From<CatalogueApp> for CatalogueAppView {
    fn from(app: CatalogueApp) -> Self {
        Self {
            app_id: app.app_id,
            name: app.name,
            short_description: app.short_description,
            category: app.category,
            classification: app.classification,
            developer_name: app.developer_name,
            version: app.version,
            icon_url: app.icon_url,
            featured: app.featured,
            install_count: app.install_count,
            rating: ListingRating {
                average: app.rating_mean,
                count: app.rating_count,
            },
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CatalogueList {
    pub apps: Vec<CatalogueAppView>,
    /// Listed apps matching in all; a search counts up to 1,000 (a query matching more
    /// reports 1,000).
    pub total: i64,
    pub limit: i64,
    pub offset: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FeaturedList {
    pub apps: Vec<CatalogueAppView>,
}

fn query_error(rejection: QueryRejection) -> ApiError {
    ApiError::invalid_request(format!("query: {}", rejection.body_text()))
}

/// Browse or search the listed apps. With `q`, misspelt words (one typo from 5 letters, two
/// from 9) are corrected when the query as typed finds nothing. Pages are stable while the
/// catalogue does not change (every order ends with the app id). Answers may be up to the
/// server's listing cache time old (`store.search_cache_ms`, default 2 s): a change to the
/// catalogue shows in listings within that time.
#[utoipa::path(get, path = "/api/v1/store/apps", tag = "store",
    security(("session" = []), ("tep" = [])),
    params(CatalogueParams),
    responses(
        (status = 200, description = "a page of listed apps", body = CatalogueList),
        (status = 400, description = "`INVALID_REQUEST`: a malformed query (a number that is not one)", body = ErrorEnvelope),
        (status = 422, description = "`VALIDATION_FAILED`: `q` too long or with control characters, `limit`/`offset` out of range, unknown `sort` or `classification` (`details.fields`)", body = ErrorEnvelope)))]
pub async fn list(
    State(state): State<AppState>,
    _caller: SessionOrTep,
    query: Result<Query<CatalogueParams>, QueryRejection>,
) -> Result<Json<CatalogueList>, ApiError> {
    let Query(params) = query.map_err(query_error)?;
    let result = search::search_apps(
        state.reads.as_ref(),
        &state.settings.store,
        &state.search_cache,
        state.clock.now(),
        SearchInput {
            q: params.q,
            category: params.category,
            classification: params.classification,
            sort: params.sort,
            limit: params.limit,
            offset: params.offset,
        },
    )
    .await?;
    Ok(Json(CatalogueList {
        apps: result.apps.iter().cloned().map(Into::into).collect(),
        total: result.total,
        limit: result.limit,
        offset: result.offset,
    }))
}

/// Listed apps the store features, most popular first.
#[utoipa::path(get, path = "/api/v1/store/featured", tag = "store",
    security(("session" = []), ("tep" = [])),
    params(FeaturedParams),
    responses(
        (status = 200, description = "featured listed apps", body = FeaturedList),
        (status = 400, description = "`INVALID_REQUEST`: a malformed query", body = ErrorEnvelope),
        (status = 422, description = "`VALIDATION_FAILED`: `limit` out of range", body = ErrorEnvelope)))]
pub async fn featured(
    State(state): State<AppState>,
    _caller: SessionOrTep,
    query: Result<Query<FeaturedParams>, QueryRejection>,
) -> Result<Json<FeaturedList>, ApiError> {
    let Query(params) = query.map_err(query_error)?;
    let apps = search::featured(state.reads.as_ref(), &state.settings.store, params.limit).await?;
    Ok(Json(FeaturedList {
        apps: apps.into_iter().map(Into::into).collect(),
    }))
}
