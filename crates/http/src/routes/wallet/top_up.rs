//! `POST /wallet/v1/top-up`: funds the caller's wallet from one of their payment methods
//! through its processor. The answer (201, or 402/502/504 for a failed top-up) is stored
//! with the top-up's final state and replayed byte for byte for the same key and body.

use crate::auth::SessionPrincipal;
use crate::error::{ApiError, ErrorEnvelope};
use crate::extract::parse_body;
use crate::middleware::request_id::current_request_id;
use crate::AppState;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;
use tmcp_usecases::fields::FieldErrors;
use tmcp_usecases::idempotency::{fingerprint, validate_key};
use tmcp_usecases::wallet::amounts::{parse_amount, parse_currency};
use tmcp_usecases::wallet::top_up::{top_up as run_top_up, TopUpRequest};
use utoipa::ToSchema;
use uuid::Uuid;

pub const PATH: &str = "/wallet/v1/top-up";

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TopUpBody {
    /// Major units, a string or a number, positive, at most the currency's decimals
    /// (`"12.50"`, `12.5`; `1250` for JPY); at most 10^12 minor units.
    #[schema(value_type = String, pattern = r"^[0-9]+(\.[0-9]+)?$", example = "12.50")]
    pub amount: Box<RawValue>,
    /// ISO 4217 code this server knows (e.g. `USD`, `EUR`, `JPY`).
    #[schema(pattern = "^[A-Z]{3}$")]
    pub currency: String,
    /// One of the caller's payment methods (UUID).
    #[schema(format = Uuid)]
    pub payment_method_id: String,
    /// 1–255 visible ASCII characters; the same key with the same body returns the first
    /// answer again, with a different body 409 `DUPLICATE_TRANSACTION`.
    #[schema(min_length = 1, max_length = 255, pattern = "^[!-~]+$")]
    pub idempotency_key: String,
}

/// Tops up the caller's wallet (session). Sandbox tokens: `pm_sandbox_ok` completes,
/// `pm_sandbox_insufficient_funds` and `pm_sandbox_card_declined` answer 402
/// `PAYMENT_DECLINED`, `pm_sandbox_slow` completes after 3 s, `pm_sandbox_timeout` answers
/// 504 `PROCESSOR_TIMEOUT` after `wallet.processor_timeout_seconds`.
#[utoipa::path(post, path = "/wallet/v1/top-up", tag = "wallet",
    security(("session" = [])),
    request_body = TopUpBody,
    responses(
        (status = 201, description = "completed (also the replay of a completed top-up)", body = super::views::TopUpView),
        (status = 400, description = "`INVALID_REQUEST`: amount not positive, more decimals than the currency has, too large, or an unknown currency (`details.field`)", body = ErrorEnvelope),
        (status = 402, description = "`PAYMENT_DECLINED`: the processor declined; the top-up failed (`details.top_up_id`, `details.reason`)", body = ErrorEnvelope),
        (status = 404, description = "`NOT_FOUND`: no such payment method of the caller", body = ErrorEnvelope),
        (status = 409, description = "`DUPLICATE_TRANSACTION`: the key was used with another body, or its first request is still processing (`details.in_flight`)", body = ErrorEnvelope),
        (status = 422, description = "`VALIDATION_FAILED`: missing or malformed fields, `idempotency_key` missing or not 1–255 visible ASCII (`details.fields`)", body = ErrorEnvelope),
        (status = 502, description = "`PROCESSOR_UNAVAILABLE`: the processor could not be reached; the top-up failed, nothing was charged", body = ErrorEnvelope),
        (status = 504, description = "`PROCESSOR_TIMEOUT`: the processor did not answer in time; the top-up failed, nothing was charged", body = ErrorEnvelope)))]
pub async fn top_up(
    State(state): State<AppState>,
    principal: SessionPrincipal,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let raw: Value = parse_body(&headers, &body)?;
    // Typed from the bytes, not from `raw`: the amount must stay the literal the client sent.
    let body: TopUpBody = serde_json::from_slice(&body).map_err(|e| {
        let mut errors = FieldErrors::new();
        errors.add("body", e.to_string());
        ApiError::from(errors)
    })?;
    let currency = parse_currency(&body.currency)?;
    let amount = parse_amount(body.amount.get(), currency)?;
    let mut errors = FieldErrors::new();
    let method = Uuid::parse_str(&body.payment_method_id).ok();
    if method.is_none() {
        errors.add("payment_method_id", "must be a UUID");
    }
    if let Err(invalid) = validate_key(&body.idempotency_key) {
        errors.add("idempotency_key", invalid.to_string());
    }
    let payment_method_id = match (errors.into_result(), method) {
        (Ok(()), Some(id)) => id,
        (Err(errors), _) => return Err(errors.into()),
        (Ok(()), None) => return Err(ApiError::internal("payment method id vanished")),
    };
    let reply = run_top_up(
        state.wallet_ports(),
        TopUpRequest {
            user: principal.user_id,
            amount,
            payment_method_id,
            idempotency_key: body.idempotency_key,
            fingerprint: fingerprint("POST", PATH, &raw),
            request_id: current_request_id(),
        },
    )
    .await?;
    let status = StatusCode::from_u16(reply.status)
        .map_err(|_| ApiError::internal(format!("stored status {}", reply.status)))?;
    Ok((
        status,
        [(header::CONTENT_TYPE, "application/json")],
        reply.body,
    )
        .into_response())
}
