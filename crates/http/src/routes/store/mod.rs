//! The mini-app store and developer registry (`/api/v1/store`, `/mini-apps/v1`,
//! `/api/v1/developer`, `/api/v1/admin`, `/api/v1/client`; versions and packages in
//! [`packages`], docs/store_packages.md). Each handler extracts, calls one use case of
//! `tmcp_usecases::store` and renders; errors map in `crate::error::store`.

pub mod admin;
pub mod browse;
pub mod capabilities;
pub mod catalogue;
pub mod developer;
pub mod packages;
pub mod registration;
pub mod views;

use crate::auth::SessionPrincipal;
use crate::AppState;
use axum::routing::{get, post, put};
use axum::Router;
use tmcp_usecases::store::Caller;

pub(crate) fn caller(principal: &SessionPrincipal) -> Caller {
    Caller {
        user: principal.user_id,
        role: principal.role,
    }
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/mini-apps/v1/register", post(registration::register))
        .route(
            "/mini-apps/v1/{miniapp_id}/status",
            get(registration::status),
        )
        .route("/api/v1/developer/apps", get(developer::list))
        .route(
            "/api/v1/developer/apps/{app_id}",
            get(developer::get).patch(developer::patch),
        )
        .route(
            "/api/v1/developer/apps/{app_id}/submit",
            post(developer::submit),
        )
        .route(
            "/api/v1/developer/apps/{app_id}/audit",
            get(developer::audit),
        )
        .route(
            "/api/v1/developer/apps/{app_id}/webhooks/events",
            get(developer::webhook_events),
        )
        .route(
            "/api/v1/developer/apps/{app_id}/webhooks/events/{event_id}",
            get(developer::webhook_event),
        )
        .route(
            "/api/v1/developer/apps/{app_id}/webhooks/events/{event_id}/redeliver",
            post(developer::redeliver),
        )
        .route("/api/v1/admin/apps/review-queue", get(admin::queue))
        .route("/api/v1/admin/apps/{app_id}/approve", post(admin::approve))
        .route("/api/v1/admin/apps/{app_id}/reject", post(admin::reject))
        .route(
            "/api/v1/admin/apps/{app_id}/deprecate",
            post(admin::deprecate),
        )
        .route("/api/v1/admin/apps/{app_id}/remove", post(admin::remove))
        .route("/api/v1/admin/apps/{app_id}/flags", put(admin::flags))
        .route("/api/v1/admin/apps/{app_id}/summary", get(admin::summary))
        .route("/api/v1/admin/reviews/{review_id}", put(admin::moderate))
        .route("/api/v1/admin/categories", post(admin::create_category))
        .route(
            "/api/v1/admin/categories/{category_id}",
            axum::routing::patch(admin::update_category).delete(admin::delete_category),
        )
        .route("/api/v1/store/categories", get(browse::category_list))
        .route("/api/v1/store/apps", get(catalogue::list))
        .route("/api/v1/store/featured", get(catalogue::featured))
        .route("/api/v1/store/apps/{app_id}", get(browse::detail))
        .route(
            "/api/v1/store/apps/{app_id}/install",
            post(browse::install).delete(browse::uninstall),
        )
        .route("/api/v1/store/installed", get(browse::installed))
        .route(
            "/api/v1/store/apps/{app_id}/reviews",
            get(browse::list_reviews).post(browse::write_review),
        )
        .route(
            "/api/v1/store/apps/{app_id}/reviews/{review_id}/helpful",
            post(browse::helpful),
        )
        .route("/api/v1/capabilities", get(capabilities::capabilities))
        .merge(packages::routes())
}
