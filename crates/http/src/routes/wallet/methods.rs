//! `GET/POST /wallet/v1/payment-methods`, `DELETE /wallet/v1/payment-methods/{id}`,
//! `POST /wallet/v1/payment-methods/{id}/default`: the caller's own methods only; another
//! user's id answers 404 like an unknown one.

use super::views::{PaymentMethodList, PaymentMethodView};
use crate::auth::SessionPrincipal;
use crate::error::{ApiError, ErrorEnvelope};
use crate::extract::ApiJson;
use crate::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::Value;
use tmcp_usecases::wallet::methods::{self, AddMethod};
use utoipa::ToSchema;
use uuid::Uuid;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddMethodRequest {
    #[serde(rename = "type")]
    #[schema(pattern = "^(card|bank_account|digital_wallet)$")]
    pub method_type: String,
    /// The processor that issued the token; this server knows `sandbox`.
    #[schema(pattern = "^sandbox$")]
    pub provider: String,
    /// The provider's token. Sandbox tokens: `pm_sandbox_ok`, `pm_sandbox_insufficient_funds`,
    /// `pm_sandbox_card_declined`, `pm_sandbox_slow`, `pm_sandbox_timeout`, each optionally
    /// followed by `-<anything>` (tokens are unique across users).
    #[schema(min_length = 1, max_length = 255, pattern = "^[!-~]+$")]
    pub provider_method_id: String,
    /// Display data only: a flat object of at most 16 short fields (brand, last4, exp_month,
    /// exp_year, …). Card numbers and security codes are refused with 422.
    #[schema(value_type = Option<Object>)]
    pub method_data: Option<Value>,
    /// Make it the default method (a user's first method becomes the default anyway).
    pub is_default: Option<bool>,
}

/// The caller's active payment methods, oldest first.
#[utoipa::path(get, path = "/wallet/v1/payment-methods", tag = "wallet",
    security(("session" = [])),
    responses((status = 200, description = "the caller's payment methods", body = PaymentMethodList)))]
pub async fn list(
    State(state): State<AppState>,
    principal: SessionPrincipal,
) -> Result<Json<PaymentMethodList>, ApiError> {
    let methods = methods::list_methods(state.wallet_ports(), principal.user_id).await?;
    Ok(Json(PaymentMethodList {
        payment_methods: methods.iter().map(PaymentMethodView::from).collect(),
    }))
}

/// Registers a tokenized payment method.
#[utoipa::path(post, path = "/wallet/v1/payment-methods", tag = "wallet",
    security(("session" = [])),
    request_body = AddMethodRequest,
    responses(
        (status = 201, description = "method added", body = PaymentMethodView),
        (status = 409, description = "`CONFLICT`: the (provider, provider_method_id) is registered already", body = ErrorEnvelope),
        (status = 422, description = "`VALIDATION_FAILED`: unknown type or provider, a token the provider does not issue, or `method_data` holding more than display data (`details.fields`)", body = ErrorEnvelope)))]
pub async fn add(
    State(state): State<AppState>,
    principal: SessionPrincipal,
    ApiJson(body): ApiJson<AddMethodRequest>,
) -> Result<(StatusCode, Json<PaymentMethodView>), ApiError> {
    let method = methods::add_method(
        state.wallet_ports(),
        AddMethod {
            user: principal.user_id,
            method_type: body.method_type,
            provider: body.provider,
            provider_method_id: body.provider_method_id,
            method_data: body
                .method_data
                .unwrap_or_else(|| Value::Object(Default::default())),
            make_default: body.is_default.unwrap_or(false),
        },
    )
    .await?;
    Ok((StatusCode::CREATED, Json(PaymentMethodView::from(&method))))
}

fn method_id(raw: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(raw).map_err(|_| ApiError::not_found("no such payment method"))
}

/// Removes one of the caller's methods (top-ups made with it keep referring to it).
#[utoipa::path(delete, path = "/wallet/v1/payment-methods/{id}", tag = "wallet",
    security(("session" = [])),
    params(("id" = String, Path, max_length = 64, description = "the method's id (UUID)")),
    responses(
        (status = 204, description = "removed"),
        (status = 404, description = "`NOT_FOUND`: no such method of the caller", body = ErrorEnvelope)))]
pub async fn remove(
    State(state): State<AppState>,
    principal: SessionPrincipal,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    methods::remove_method(state.wallet_ports(), principal.user_id, method_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Makes one of the caller's methods the default (and no other).
#[utoipa::path(post, path = "/wallet/v1/payment-methods/{id}/default", tag = "wallet",
    security(("session" = [])),
    params(("id" = String, Path, max_length = 64, description = "the method's id (UUID)")),
    responses(
        (status = 200, description = "the method, now the default", body = PaymentMethodView),
        (status = 404, description = "`NOT_FOUND`: no such method of the caller", body = ErrorEnvelope)))]
pub async fn make_default(
    State(state): State<AppState>,
    principal: SessionPrincipal,
    Path(id): Path<String>,
) -> Result<Json<PaymentMethodView>, ApiError> {
    let method =
        methods::make_default(state.wallet_ports(), principal.user_id, method_id(&id)?).await?;
    Ok(Json(PaymentMethodView::from(&method)))
}
