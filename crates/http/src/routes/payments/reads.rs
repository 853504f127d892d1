//! `GET /api/v1/payments/{id}` and `GET /api/v1/payments`: own rows only.

use super::authorize::payment_id;
use super::PaymentResponse;
use crate::auth::SessionOrTep;
use crate::error::{ApiError, ErrorEnvelope};
use crate::services::payments::{payment_reader, ports};
use crate::AppState;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use tmcp_usecases::payments::reads;
use utoipa::{IntoParams, ToSchema};

/// One payment of the caller's.
#[utoipa::path(get, path = "/api/v1/payments/{id}", tag = "payments",
    params(("id" = uuid::Uuid, Path, description = "the payment id")),
    security(("session" = []), ("tep" = ["wallet:pay"])),
    responses(
        (status = 200, description = "the payment (a request past its deadline shows as expired)", body = PaymentResponse),
        (status = 404, description = "PAYMENT_NOT_FOUND (also another user's or app's)", body = ErrorEnvelope)))]
pub async fn get(
    State(state): State<AppState>,
    caller: SessionOrTep,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let viewer = payment_reader(&caller)?;
    let payment = reads::payment(ports(&state), &viewer, payment_id(&id)?).await?;
    Ok(Json(PaymentResponse::load(&state, &payment).await?).into_response())
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Only payments of this wire status.
    #[param(schema_with = crate::schema_constraints::payment_status)]
    pub status: Option<String>,
    /// 1–100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    /// `pagination.next_cursor` of the previous page.
    #[param(max_length = 200)]
    pub cursor: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct PaymentPagination {
    pub limit: u32,
    pub next_cursor: Option<String>,
    pub has_more: bool,
}

#[derive(Serialize, ToSchema)]
pub struct PaymentList {
    pub payments: Vec<PaymentResponse>,
    pub pagination: PaymentPagination,
}

/// The caller's payments, newest first.
#[utoipa::path(get, path = "/api/v1/payments", tag = "payments",
    params(ListQuery),
    security(("session" = []), ("tep" = ["wallet:pay"])),
    responses(
        (status = 200, description = "a page of payments, newest first", body = PaymentList),
        (status = 400, description = "INVALID_REQUEST: unknown status, limit out of range, bad cursor", body = ErrorEnvelope)))]
pub async fn list(
    State(state): State<AppState>,
    caller: SessionOrTep,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let viewer = payment_reader(&caller)?;
    let Query(query) = query.map_err(|e| ApiError::invalid_request(e.body_text()))?;
    let page = reads::list(
        ports(&state),
        viewer,
        query.status.as_deref(),
        query.limit,
        query.cursor.as_deref(),
    )
    .await?;
    let mut payments = Vec::with_capacity(page.payments.len());
    for payment in &page.payments {
        payments.push(PaymentResponse::load(&state, payment).await?);
    }
    Ok(Json(PaymentList {
        payments,
        pagination: PaymentPagination {
            limit: page.limit,
            has_more: page.next_cursor.is_some(),
            next_cursor: page.next_cursor,
        },
    })
    .into_response())
}
