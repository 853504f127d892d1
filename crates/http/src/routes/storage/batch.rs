//! Batches of up to 100 keys: get, set (all or nothing, quota checked for the batch as a
//! whole) and delete (all in one transaction).

use super::entries::DeleteResponse;
use super::{present, EntryResponse, QuotaResponse, WriteResult};
use crate::auth::TepPrincipal;
use crate::error::{ApiError, ErrorEnvelope};
use crate::extract::parse_body;
use crate::services::storage::{
    admit, respond, Caller, RouteClass, ValueInput, SCOPE_READ, SCOPE_WRITE,
};
use crate::AppState;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::Value;
use tmcp_usecases::storage::batch::{delete_entries, get_entries, set_entries, BatchItem};
use tmcp_usecases::storage::entries::Written;
use utoipa::ToSchema;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct KeysRequest {
    #[schema(schema_with = crate::schema_constraints::storage_keys)]
    pub keys: Vec<String>,
}

#[derive(Serialize, ToSchema)]
pub struct BatchGetResponse {
    /// Live entries, in request order.
    pub items: Vec<EntryResponse>,
    /// Keys with no live entry.
    pub missing: Vec<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchSetItem {
    /// A storage key; its first segment must not be `quota`, `batch`, `sync` or `conflicts`
    /// (reserved for storage routes).
    #[schema(schema_with = crate::schema_constraints::storage_key_schema)]
    pub key: String,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<Value>)]
    pub value: Option<Box<RawValue>>,
    #[schema(schema_with = crate::schema_constraints::value_base64)]
    pub value_base64: Option<String>,
    #[schema(schema_with = crate::schema_constraints::content_type)]
    pub content_type: Option<String>,
    #[schema(minimum = 60, maximum = 2592000)]
    pub ttl: Option<i64>,
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Value>,
    #[schema(value_type = Option<f64>, minimum = 0, maximum = 253402300799_i64)]
    pub client_timestamp: Option<serde_json::Number>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchSetRequest {
    /// 1–100 items with distinct keys.
    #[schema(min_items = 1, max_items = 100)]
    pub items: Vec<BatchSetItem>,
}

#[derive(Serialize, ToSchema)]
pub struct BatchSetResponse {
    /// One result per item, in request order.
    pub results: Vec<WriteResult>,
    pub quota: QuotaResponse,
}

#[derive(Serialize, ToSchema)]
pub struct BatchDeleteResponse {
    pub results: Vec<DeleteResponse>,
}

/// Reads up to 100 keys at once.
#[utoipa::path(post, path = "/api/v1/storage/batch/get", tag = "storage",
    request_body = KeysRequest, security(("tep" = ["storage:read"])),
    responses(
        (status = 200, description = "found entries and missing keys", body = BatchGetResponse),
        (status = 403, description = "storage:read missing", body = ErrorEnvelope),
        (status = 422, description = "VALIDATION_FAILED (0 or more than 100 keys, duplicates, bad keys)", body = ErrorEnvelope),
        (status = 429, description = "rate limited (batch class)", body = ErrorEnvelope)))]
pub async fn get(
    State(state): State<AppState>,
    principal: TepPrincipal,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match admit(&state, &principal, SCOPE_READ, RouteClass::Batch).await {
        Err(e) => e.into_response(),
        Ok((caller, decision)) => {
            respond(&decision, get_many(&state, &caller, &headers, &body).await)
        }
    }
}

async fn get_many(
    state: &AppState,
    caller: &Caller,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<Response, ApiError> {
    let request: KeysRequest = parse_body(headers, body)?;
    let read = get_entries(
        state.db.as_ref(),
        state.clock.as_ref(),
        caller,
        &request.keys,
    )
    .await?;
    let items = read.found.iter().map(EntryResponse::from).collect();
    let missing = read.missing;
    Ok(Json(BatchGetResponse { items, missing }).into_response())
}

/// Stores up to 100 values atomically: all or none.
#[utoipa::path(post, path = "/api/v1/storage/batch/set", tag = "storage",
    request_body = BatchSetRequest, security(("tep" = ["storage:write"])),
    responses(
        (status = 200, description = "every item applied (or refused by last-write-wins, reported per item)", body = BatchSetResponse),
        (status = 403, description = "storage:write missing", body = ErrorEnvelope),
        (status = 413, description = "STORAGE_QUOTA_EXCEEDED for the batch as a whole, or PAYLOAD_TOO_LARGE for an item; nothing applied", body = ErrorEnvelope),
        (status = 422, description = "VALIDATION_FAILED; nothing applied", body = ErrorEnvelope),
        (status = 429, description = "rate limited (batch class)", body = ErrorEnvelope)))]
pub async fn set(
    State(state): State<AppState>,
    principal: TepPrincipal,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match admit(&state, &principal, SCOPE_WRITE, RouteClass::Batch).await {
        Err(e) => e.into_response(),
        Ok((caller, decision)) => {
            respond(&decision, set_many(&state, &caller, &headers, &body).await)
        }
    }
}

async fn set_many(
    state: &AppState,
    caller: &Caller,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<Response, ApiError> {
    let mut request: BatchSetRequest = parse_body(headers, body)?;
    let items = request
        .items
        .iter_mut()
        .map(|item| BatchItem {
            key: &item.key,
            value: ValueInput {
                value: item.value.as_deref(),
                value_base64: item.value_base64.as_deref(),
                content_type: item.content_type.as_deref(),
            },
            ttl: item.ttl,
            metadata: item.metadata.take(),
            client_timestamp: item.client_timestamp.as_ref(),
        })
        .collect();
    let written = set_entries(
        state.db.as_ref(),
        state.clock.as_ref(),
        &state.settings.storage,
        caller,
        items,
    )
    .await?;
    let results = written
        .results
        .iter()
        .map(|outcome| match outcome {
            Written::Stored { entry, created } => WriteResult::stored(entry, *created),
            Written::ServerWins { current } => WriteResult::server_wins(current),
        })
        .collect();
    let quota = written.quota;
    Ok(Json(BatchSetResponse {
        results,
        quota: quota.into(),
    })
    .into_response())
}

/// Deletes up to 100 keys in one transaction.
#[utoipa::path(post, path = "/api/v1/storage/batch/delete", tag = "storage",
    request_body = KeysRequest, security(("tep" = ["storage:write"])),
    responses(
        (status = 200, description = "one result per key, in request order", body = BatchDeleteResponse),
        (status = 403, description = "storage:write missing", body = ErrorEnvelope),
        (status = 422, description = "VALIDATION_FAILED", body = ErrorEnvelope),
        (status = 429, description = "rate limited (batch class)", body = ErrorEnvelope)))]
pub async fn delete(
    State(state): State<AppState>,
    principal: TepPrincipal,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match admit(&state, &principal, SCOPE_WRITE, RouteClass::Batch).await {
        Err(e) => e.into_response(),
        Ok((caller, decision)) => respond(
            &decision,
            delete_many(&state, &caller, &headers, &body).await,
        ),
    }
}

async fn delete_many(
    state: &AppState,
    caller: &Caller,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<Response, ApiError> {
    let request: KeysRequest = parse_body(headers, body)?;
    let removed = delete_entries(
        state.db.as_ref(),
        state.clock.as_ref(),
        &state.settings.storage,
        caller,
        &request.keys,
    )
    .await?;
    let results = removed
        .into_iter()
        .map(|(key, deleted)| DeleteResponse { key, deleted })
        .collect();
    Ok(Json(BatchDeleteResponse { results }).into_response())
}
