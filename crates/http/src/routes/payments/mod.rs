//! Payments (the TMCP protocol §4): request, authorize, reads. Each handler admits the
//! caller (`services::payments`), calls one use case of `tmcp_usecases::payments` and
//! renders its result with the payment's wire shape defined here.

pub mod authorize;
pub mod cancel;
pub mod mfa;
pub mod reads;
pub mod refund;
pub mod request;

use crate::error::ApiError;
use crate::ratelimit::RateDecision;
use crate::AppState;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Serialize;
use serde_json::Value;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use tmcp_domain::Money;
use tmcp_repository::Payment;
use utoipa::ToSchema;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/payments", get(reads::list))
        .route("/api/v1/payments/request", post(request::request))
        .route("/api/v1/payments/{id}", get(reads::get))
        .route(
            "/api/v1/payments/{id}/authorize",
            post(authorize::authorize),
        )
        .route("/api/v1/payments/{id}/mfa/verify", post(mfa::verify))
        .route("/api/v1/payments/{id}/mfa/challenge", post(mfa::challenge))
        .route("/api/v1/payments/{id}/cancel", post(cancel::cancel))
        .route("/api/v1/payments/{id}/refund", post(refund::refund))
}

/// The mini-app the payment is to.
#[derive(Debug, Serialize, ToSchema)]
pub struct Merchant {
    pub app_id: String,
    pub name: String,
}

/// A payment as clients see it. Amounts are decimal strings in major units.
#[derive(Debug, Serialize, ToSchema)]
pub struct PaymentResponse {
    pub payment_id: String,
    /// `pending_authorization`, `mfa_required`, `processing`, `completed`, `failed`,
    /// `cancelled`, `expired`, `refunded` or `partially_refunded`.
    pub status: String,
    #[schema(example = "12.50")]
    pub amount: String,
    #[schema(example = "USD")]
    pub currency: String,
    pub description: Option<String>,
    pub merchant: Merchant,
    pub merchant_order_id: Option<String>,
    /// `[{item_id, name, quantity, unit_price}]`.
    #[schema(value_type = Vec<Object>)]
    pub items: Value,
    #[schema(value_type = Object)]
    pub metadata: Value,
    /// Whether authorizing it needs a second factor (at or above the MFA threshold).
    pub mfa_required: bool,
    /// Refunded so far, major units.
    pub refunded_amount: String,
    /// Why it failed (`insufficient_funds`, `expired`, …).
    pub failure_reason: Option<String>,
    pub created_at: String,
    /// When an unauthorized request expires.
    pub expires_at: Option<String>,
    pub completed_at: Option<String>,
}

pub(crate) fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&Rfc3339).unwrap_or_default()
}

impl PaymentResponse {
    pub fn of(payment: &Payment, merchant_name: &str) -> Self {
        let money = |minor| Money {
            minor,
            currency: payment.amount.currency,
        };
        Self {
            payment_id: payment.id.to_string(),
            status: payment.status().as_db().to_owned(),
            amount: payment.amount.to_major_string(),
            currency: payment.amount.currency.code().to_owned(),
            description: payment.description.clone(),
            merchant: Merchant {
                app_id: payment
                    .app_id
                    .as_ref()
                    .map(|a| a.as_str().to_owned())
                    .unwrap_or_default(),
                name: merchant_name.to_owned(),
            },
            merchant_order_id: payment.merchant_order_id.clone(),
            items: payment.items.clone(),
            metadata: payment.metadata.clone(),
            mfa_required: payment.mfa_required,
            refunded_amount: money(payment.refunded).to_major_string(),
            failure_reason: payment.failure_reason.clone(),
            created_at: rfc3339(payment.created_at),
            expires_at: payment.expires_at.map(rfc3339),
            completed_at: payment.completed_at.map(rfc3339),
        }
    }

    /// Renders the payment with its merchant's name (looked up).
    pub async fn load(state: &AppState, payment: &Payment) -> Result<Self, ApiError> {
        let name = match &payment.app_id {
            Some(app) => state.db.app_name(app).await?.unwrap_or_default(),
            None => String::new(),
        };
        Ok(Self::of(payment, &name))
    }
}

/// Answers with the rate-limit headers, success or error alike.
pub(crate) fn respond(decision: &RateDecision, result: Result<Response, ApiError>) -> Response {
    let mut response = result.unwrap_or_else(IntoResponse::into_response);
    decision.apply_headers(response.headers_mut());
    response
}
