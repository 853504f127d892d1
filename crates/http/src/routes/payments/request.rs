//! `POST /api/v1/payments/request`: a mini-app asks its user to pay.

use super::{respond, PaymentResponse};
use crate::auth::TepPrincipal;
use crate::error::{ApiError, ErrorEnvelope};
use crate::extract::parse_body;
use crate::services::payments::{admit_request, ports};
use crate::AppState;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;
use tmcp_domain::{AppId, UserId};
use tmcp_usecases::idempotency::fingerprint;
use tmcp_usecases::payments::input::{ItemInput, RequestInput};
use tmcp_usecases::payments::request::{request_payment, Requested};
use utoipa::ToSchema;

pub const PATH: &str = "/api/v1/payments/request";

/// One line of the order.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ItemBody {
    #[schema(min_length = 1, max_length = 255)]
    pub item_id: String,
    #[schema(min_length = 1, max_length = 255)]
    pub name: String,
    #[schema(minimum = 1, maximum = 1000000)]
    pub quantity: i64,
    /// Major units, as a string or a number, like `amount`.
    #[schema(value_type = String, example = "4.25")]
    pub unit_price: Box<RawValue>,
}

/// `POST /api/v1/payments/request` body.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PaymentRequestBody {
    /// Positive, in major units with at most the currency's decimals: `"12.50"` or
    /// `12.5` (`1250` for JPY). Parsed exactly.
    #[schema(value_type = String, example = "12.50")]
    pub amount: Box<RawValue>,
    /// ISO 4217 code.
    #[schema(example = "USD", min_length = 3, max_length = 3)]
    pub currency: String,
    #[schema(min_length = 1, max_length = 500)]
    pub description: String,
    #[schema(min_length = 1, max_length = 255)]
    pub merchant_order_id: Option<String>,
    #[schema(max_items = 100)]
    pub items: Option<Vec<ItemBody>>,
    /// A JSON object of at most 4096 bytes.
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Value>,
    /// An absolute http(s) URL, at most 2048 characters.
    #[schema(max_length = 2048)]
    pub callback_url: Option<String>,
    /// 1–255 visible ASCII characters; the same key and body answer the first reply again.
    #[schema(min_length = 1, max_length = 255, pattern = r"^[!-~]+$")]
    pub idempotency_key: String,
}

impl PaymentRequestBody {
    fn into_input(self) -> RequestInput {
        RequestInput {
            amount: self.amount.get().to_owned(),
            currency: self.currency,
            description: self.description,
            merchant_order_id: self.merchant_order_id,
            items: self.items.map(|items| {
                items
                    .into_iter()
                    .map(|i| ItemInput {
                        item_id: i.item_id,
                        name: i.name,
                        quantity: i.quantity,
                        unit_price: i.unit_price.get().to_owned(),
                    })
                    .collect()
            }),
            metadata: self.metadata,
            callback_url: self.callback_url,
            idempotency_key: self.idempotency_key,
        }
    }
}

/// Requests a payment from the token's user to the token's mini-app.
#[utoipa::path(post, path = "/api/v1/payments/request", tag = "payments",
    request_body = PaymentRequestBody, security(("tep" = ["wallet:pay"])),
    responses(
        (status = 201, description = "the payment, `pending_authorization`, expiring in 5 minutes", body = PaymentResponse),
        (status = 200, description = "a replay: the same idempotency_key and body answer the first reply's body again", body = PaymentResponse),
        (status = 400, description = "INVALID_REQUEST: amount not an exact positive decimal of the currency, unknown currency", body = ErrorEnvelope),
        (status = 403, description = "wallet:pay missing, or not a user token of a mini-app", body = ErrorEnvelope),
        (status = 409, description = "DUPLICATE_TRANSACTION: the key was used for a different request, or its request is still processing", body = ErrorEnvelope),
        (status = 422, description = "VALIDATION_FAILED: description, items, metadata, callback_url, idempotency_key", body = ErrorEnvelope),
        (status = 429, description = "rate limited: payments.request_rate_per_minute per (user, app)", body = ErrorEnvelope)))]
pub async fn request(
    State(state): State<AppState>,
    principal: TepPrincipal,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match admit_request(&state, &principal).await {
        Err(e) => e.into_response(),
        Ok((user, app, decision)) => {
            respond(&decision, create(&state, user, &app, &headers, &body).await)
        }
    }
}

async fn create(
    state: &AppState,
    user: UserId,
    app: &AppId,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<Response, ApiError> {
    let raw: Value = parse_body(headers, body)?;
    let typed: PaymentRequestBody = parse_body(headers, body)?;
    let print = fingerprint("POST", PATH, &raw);
    let render = |payment: &tmcp_repository::Payment, name: &str| {
        serde_json::to_string(&PaymentResponse::of(payment, name)).unwrap_or_default()
    };
    let requested = request_payment(
        ports(state),
        &state.settings.payments,
        user,
        app,
        &typed.into_input(),
        print,
        &render,
    )
    .await?;
    let (status, reply) = match requested {
        Requested::Created(reply) => (StatusCode::CREATED, reply),
        // API.md: a replayed request answers 200 with the stored body.
        Requested::Replayed(reply) => (StatusCode::OK, reply),
    };
    Ok((
        status,
        [(header::CONTENT_TYPE, "application/json")],
        reply.body,
    )
        .into_response())
}
