//! Devices with public keys (the TMCP protocol §1): register, list, remove.

pub mod list;
pub mod register;
pub mod remove;
pub mod views;

use crate::AppState;
use axum::routing::{delete, get};
use axum::Router;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/api/v1/devices",
            get(list::list_devices).post(register::register_device),
        )
        .route("/api/v1/devices/{device_id}", delete(remove::remove_device))
}
