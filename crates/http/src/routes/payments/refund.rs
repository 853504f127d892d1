//! `POST /api/v1/payments/{id}/refund`: by the payment's app backend (its client-credentials
//! token) or an administrator's session.

use super::authorize::payment_id;
use super::PaymentResponse;
use crate::auth::SessionOrTep;
use crate::error::{ApiError, ErrorEnvelope};
use crate::extract::parse_body;
use crate::services::payments::ports;
use crate::AppState;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::Value;
use tmcp_domain::user::Role;
use tmcp_repository::{Payment, PaymentViewer, Refund};
use tmcp_usecases::idempotency::fingerprint;
use tmcp_usecases::payments::refund::{refund as refund_payment, RefundInput};
use utoipa::ToSchema;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefundBody {
    /// Major units like a request's `amount`; absent refunds everything still refundable.
    #[schema(value_type = Option<String>, example = "5.00")]
    pub amount: Option<Box<RawValue>>,
    #[schema(min_length = 1, max_length = 500)]
    pub reason: String,
    #[schema(min_length = 1, max_length = 255, pattern = r"^[!-~]+$")]
    pub idempotency_key: String,
}

#[derive(Serialize, ToSchema)]
pub struct RefundInfo {
    pub refund_id: String,
    pub amount: String,
    pub reason: String,
    pub created_at: String,
}

/// The payment after the refund, and the refund.
#[derive(Serialize, ToSchema)]
pub struct RefundResponse {
    pub payment: PaymentResponse,
    pub refund: RefundInfo,
}

fn render(payment: &Payment, refund: &Refund) -> String {
    let body = RefundResponse {
        // The merchant's name is not looked up inside the unit of work.
        payment: PaymentResponse::of(payment, ""),
        refund: RefundInfo {
            refund_id: refund.id.to_string(),
            amount: refund.amount.to_major_string(),
            reason: refund.reason.clone(),
            created_at: super::rfc3339(refund.created_at),
        },
    };
    serde_json::to_string(&body).unwrap_or_default()
}

/// Refunds all or part of a completed payment.
#[utoipa::path(post, path = "/api/v1/payments/{id}/refund", tag = "payments",
    params(("id" = uuid::Uuid, Path, description = "the payment id")),
    request_body = RefundBody,
    security(("tep" = []), ("session" = [])),
    responses(
        (status = 200, description = "refunded (`refunded` or `partially_refunded`); a replay of the key answers the same", body = RefundResponse),
        (status = 400, description = "INVALID_REQUEST: amount not a positive decimal of the currency, or above what is still refundable", body = ErrorEnvelope),
        (status = 402, description = "INSUFFICIENT_FUNDS: the merchant cannot pay it back (`details{required, available}`)", body = ErrorEnvelope),
        (status = 403, description = "not the app's backend token nor an administrator", body = ErrorEnvelope),
        (status = 404, description = "PAYMENT_NOT_FOUND (also another app's)", body = ErrorEnvelope),
        (status = 409, description = "INVALID_STATE_TRANSITION (not completed) or DUPLICATE_TRANSACTION", body = ErrorEnvelope)))]
pub async fn refund(
    State(state): State<AppState>,
    caller: SessionOrTep,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let (viewer, admin) = match &caller {
        SessionOrTep::Tep(tep) if tep.user_id.is_none() => {
            (PaymentViewer::App(tep.app_id()?), None)
        }
        SessionOrTep::Session(session) => {
            session.require_role(Role::Admin)?;
            (PaymentViewer::Admin, Some(session.user_id))
        }
        SessionOrTep::Tep(_) => {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "INSUFFICIENT_PERMISSIONS",
                "refunds need the app backend's client-credentials token or an administrator",
            ))
        }
    };
    let id = payment_id(&id)?;
    let raw: Value = parse_body(&headers, &body)?;
    let typed: RefundBody = parse_body(&headers, &body)?;
    let print = fingerprint("POST", &format!("/api/v1/payments/{id}/refund"), &raw);
    let input = RefundInput {
        amount: typed.amount.map(|a| a.get().to_owned()),
        reason: typed.reason,
        idempotency_key: typed.idempotency_key,
    };
    let reply = refund_payment(
        ports(&state),
        &state.settings.payments,
        &viewer,
        admin,
        id,
        &input,
        print,
        render,
    )
    .await?;
    let status = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::OK);
    Ok((
        status,
        [(header::CONTENT_TYPE, "application/json")],
        reply.body,
    )
        .into_response())
}
