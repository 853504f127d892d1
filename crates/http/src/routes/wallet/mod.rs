//! The wallet API (the TMCP protocol §4, `/wallet/v1`): payment methods and top-ups with the
//! user's session; balance and history with the session or a TEP (`wallet:balance`,
//! `wallet:history`). Each handler extracts, calls one use case of
//! `tmcp_usecases::wallet` and renders.

pub mod methods;
pub mod reads;
pub mod top_up;
pub mod views;

use crate::AppState;
use axum::routing::{delete, get, post};
use axum::Router;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/wallet/v1/payment-methods",
            get(methods::list).post(methods::add),
        )
        .route("/wallet/v1/payment-methods/{id}", delete(methods::remove))
        .route(
            "/wallet/v1/payment-methods/{id}/default",
            post(methods::make_default),
        )
        .route("/wallet/v1/top-up", post(top_up::top_up))
        .route("/wallet/v1/balance", get(reads::balance))
        .route("/wallet/v1/transactions", get(reads::transactions))
}
