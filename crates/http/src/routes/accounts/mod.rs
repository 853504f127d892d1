//! Accounts and sessions (the TMCP protocol §1): registration, login, refresh, logout, sessions, the
//! caller's own account, account deletion and the admin summary. One module per operation.

pub mod delete;
pub mod login;
pub mod logout;
pub mod me;
pub mod refresh;
pub mod register;
pub mod sessions;
pub mod summary;
/// The field rules live with the accounts service.
pub use tmcp_usecases::accounts::validate;
pub mod views;

use crate::AppState;
use axum::routing::{delete as delete_route, get, post};
use axum::Router;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/auth/register", post(register::register))
        .route("/api/v1/auth/login", post(login::login))
        .route("/api/v1/auth/refresh", post(refresh::refresh))
        .route("/api/v1/auth/logout", post(logout::logout))
        .route("/api/v1/auth/sessions", get(sessions::list_sessions))
        .route(
            "/api/v1/auth/sessions/{id}",
            delete_route(sessions::end_session),
        )
        .route(
            "/api/v1/users/me",
            get(me::get_me)
                .patch(me::patch_me)
                .delete(delete::delete_me),
        )
        .route("/api/v1/users/{id}/summary", get(summary::user_summary))
}

/// Parses a path id; ids that are not UUIDs name nothing, so they answer 404.
pub(crate) fn path_uuid(raw: &str, what: &str) -> Result<uuid::Uuid, crate::ApiError> {
    uuid::Uuid::parse_str(raw).map_err(|_| crate::ApiError::not_found(format!("no such {what}")))
}
