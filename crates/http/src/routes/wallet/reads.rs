//! `GET /wallet/v1/balance` and `GET /wallet/v1/transactions`: the caller's own wallets, with
//! the session or a TEP holding `wallet:balance` / `wallet:history`.

use super::views::{
    BalanceResponse, BalanceView, TransactionList, TransactionPagination, TransactionView,
};
use crate::auth::SessionOrTep;
use crate::error::{ApiError, ErrorEnvelope};
use crate::AppState;
use axum::extract::{Query, State};
use axum::Json;
use serde::Deserialize;
use tmcp_usecases::wallet::reads::{self, HistoryQuery};
use utoipa::IntoParams;

/// What a mini-app's TEP needs to read the balance / the history (a session needs nothing).
const SCOPE_BALANCE: &str = "wallet:balance";
const SCOPE_HISTORY: &str = "wallet:history";

/// The caller's balances, one per currency they hold.
#[utoipa::path(get, path = "/wallet/v1/balance", tag = "wallet",
    security(("session" = []), ("tep" = ["wallet:balance"])),
    responses(
        (status = 200, description = "balances per currency; amounts in major units as strings", body = BalanceResponse),
        (status = 403, description = "`INSUFFICIENT_PERMISSIONS`: a TEP without `wallet:balance`", body = ErrorEnvelope)))]
pub async fn balance(
    State(state): State<AppState>,
    caller: SessionOrTep,
) -> Result<Json<BalanceResponse>, ApiError> {
    let user = caller.user_with_scope(SCOPE_BALANCE)?;
    let balances = reads::balances(state.wallet_ports(), user).await?;
    Ok(Json(BalanceResponse {
        wallet_id: balances.wallet_id,
        balances: balances
            .balances
            .iter()
            .map(|b| BalanceView {
                currency: b.available.currency.code().to_owned(),
                account_id: b.account_id.clone(),
                available: b.available.to_major_string(),
                pending: b.pending.to_major_string(),
            })
            .collect(),
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TransactionsQuery {
    /// Page size, 1–100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    #[param(max_length = 200)]
    pub cursor: Option<String>,
    /// Only this currency.
    #[param(pattern = "^[A-Z]{3}$")]
    pub currency: Option<String>,
}

/// The caller's ledger entries, newest first.
#[utoipa::path(get, path = "/wallet/v1/transactions", tag = "wallet",
    security(("session" = []), ("tep" = ["wallet:history"])),
    params(TransactionsQuery),
    responses(
        (status = 200, description = "a page of entries", body = TransactionList),
        (status = 400, description = "`INVALID_REQUEST`: bad cursor, unknown currency or malformed query", body = ErrorEnvelope),
        (status = 403, description = "`INSUFFICIENT_PERMISSIONS`: a TEP without `wallet:history`", body = ErrorEnvelope),
        (status = 422, description = "`VALIDATION_FAILED`: limit outside 1–100", body = ErrorEnvelope)))]
pub async fn transactions(
    State(state): State<AppState>,
    caller: SessionOrTep,
    query: Result<Query<TransactionsQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<TransactionList>, ApiError> {
    // The scope before the query: a token without it learns nothing from query validation.
    let user = caller.user_with_scope(SCOPE_HISTORY)?;
    let Query(query) =
        query.map_err(|e| ApiError::invalid_request(format!("query: {}", e.body_text())))?;
    let page = reads::history(
        state.wallet_ports(),
        user,
        HistoryQuery {
            limit: query.limit,
            cursor: query.cursor,
            currency: query.currency,
        },
    )
    .await?;
    Ok(Json(TransactionList {
        transactions: page.entries.iter().map(TransactionView::from).collect(),
        pagination: TransactionPagination {
            limit: page.limit,
            has_more: page.next_cursor.is_some(),
            next_cursor: page.next_cursor,
        },
    }))
}
