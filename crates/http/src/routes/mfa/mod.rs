//! Second-factor methods (the TMCP protocol §1): list, enrol (PIN, TOTP, biometric), confirm a TOTP,
//! remove with a second factor.

pub mod confirm;
pub mod enrol;
pub mod list;
pub mod remove;

use crate::AppState;
use axum::routing::{delete, get, post};
use axum::Router;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/api/v1/auth/mfa/methods",
            get(list::list_methods).post(enrol::enrol_method),
        )
        .route(
            "/api/v1/auth/mfa/methods/{id}/confirm",
            post(confirm::confirm_method),
        )
        .route(
            "/api/v1/auth/mfa/methods/{id}",
            delete(remove::remove_method),
        )
}
