//! Batches of up to 100 keys: get, set (all or nothing, quota checked for the batch as a
//! whole) and delete (all in one transaction).

use super::entries::DeleteResponse;
use super::{present, EntryResponse, QuotaResponse, WriteResult};
use crate::auth::TepPrincipal;
use crate::error::{ApiError, ErrorEnvelope};
use crate::services::storage::{
    admit, context, parse_body, parse_key, parse_metadata, parse_timestamp, parse_ttl, parse_value,
    parse_writable_key, repo_error, respond, Caller, CheckFields, FieldErrors, RouteClass,
    ValueInput, SCOPE_READ, SCOPE_WRITE,
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
use std::collections::{BTreeSet, HashMap};
use tmcp_domain::storage::value::checksum;
use tmcp_domain::storage::{StorageKey, MAX_BATCH_ITEMS};
use tmcp_repository::{EntryDelete, EntryWrite, WriteOp, WriteOutcome};
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

/// Validates a list of 1–100 distinct keys.
fn parse_keys(field: &str, raw: &[String], errors: &mut FieldErrors) -> Vec<StorageKey> {
    if raw.is_empty() || raw.len() > MAX_BATCH_ITEMS {
        errors.add(field, format!("between 1 and {MAX_BATCH_ITEMS} keys"));
        return Vec::new();
    }
    let mut seen = BTreeSet::new();
    let mut keys = Vec::with_capacity(raw.len());
    for (i, text) in raw.iter().enumerate() {
        if let Some(key) = parse_key(text, &format!("{field}[{i}]"), errors) {
            if !seen.insert(key.clone()) {
                errors.add(field, "keys must be distinct");
            }
            keys.push(key);
        }
    }
    keys
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
    let mut errors = FieldErrors::default();
    let keys = parse_keys("keys", &request.keys, &mut errors);
    errors.check()?;
    let found = state
        .db
        .get_entries(caller.user, &caller.app, &keys, state.clock.now())
        .await
        .map_err(repo_error)?;
    let mut by_key: HashMap<String, _> = found.into_iter().map(|e| (e.key.clone(), e)).collect();
    let mut items = Vec::new();
    let mut missing = Vec::new();
    for key in keys {
        match by_key.remove(key.as_str()) {
            Some(entry) => items.push(EntryResponse::from(&entry)),
            None => missing.push(key.as_str().to_owned()),
        }
    }
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
    let request: BatchSetRequest = parse_body(headers, body)?;
    if request.items.is_empty() || request.items.len() > MAX_BATCH_ITEMS {
        let mut errors = FieldErrors::default();
        errors.add("items", format!("between 1 and {MAX_BATCH_ITEMS} items"));
        errors.check()?;
    }
    let mut errors = FieldErrors::default();
    let mut seen = BTreeSet::new();
    let mut ops = Vec::with_capacity(request.items.len());
    for (i, item) in request.items.into_iter().enumerate() {
        let prefix = format!("items[{i}].");
        let key = parse_writable_key(&item.key, &format!("{prefix}key"), &mut errors);
        if let Some(key) = &key {
            if !seen.insert(key.clone()) {
                errors.add("items", "keys must be distinct");
            }
        }
        let input = ValueInput {
            value: item.value.as_deref(),
            value_base64: item.value_base64.as_deref(),
            content_type: item.content_type.as_deref(),
        };
        let value = parse_value(&input, &prefix, &mut errors)?;
        let ttl = parse_ttl(item.ttl, &format!("{prefix}ttl"), &mut errors);
        let metadata = parse_metadata(item.metadata, &format!("{prefix}metadata"), &mut errors);
        let client_timestamp = parse_timestamp(
            item.client_timestamp.as_ref(),
            &format!("{prefix}client_timestamp"),
            &mut errors,
        );
        if let (Some(key), Some(value)) = (key, value) {
            ops.push(WriteOp::Put(EntryWrite {
                key,
                checksum: checksum(&value.bytes),
                value: value.bytes,
                encoding: value.encoding,
                content_type: value.content_type,
                ttl_seconds: ttl,
                metadata,
                client_timestamp,
                last_write_wins: client_timestamp.is_some(),
                expected: None,
            }));
        }
    }
    errors.check()?;
    let ctx = context(state, &caller.app);
    let outcomes = state
        .db
        .write_entries(caller.user, &caller.app, ops, &ctx)
        .await
        .map_err(repo_error)?;
    let mut results = Vec::with_capacity(outcomes.len());
    for outcome in outcomes {
        results.push(match outcome {
            WriteOutcome::Stored { entry, created } => WriteResult::stored(&entry, created),
            WriteOutcome::Stale { current } => WriteResult::server_wins(&current),
            _ => return Err(ApiError::internal("unexpected batch set outcome")),
        });
    }
    let quota = state
        .db
        .quota(caller.user, &caller.app, &context(state, &caller.app))
        .await
        .map_err(repo_error)?;
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
    let mut errors = FieldErrors::default();
    let keys = parse_keys("keys", &request.keys, &mut errors);
    errors.check()?;
    let ops = keys
        .iter()
        .map(|key| {
            WriteOp::Delete(EntryDelete {
                key: key.clone(),
                expected: None,
            })
        })
        .collect();
    let outcomes = state
        .db
        .write_entries(caller.user, &caller.app, ops, &context(state, &caller.app))
        .await
        .map_err(repo_error)?;
    let results = keys
        .iter()
        .zip(outcomes)
        .map(|(key, outcome)| DeleteResponse {
            key: key.as_str().to_owned(),
            deleted: matches!(outcome, WriteOutcome::Deleted { existed: true }),
        })
        .collect();
    Ok(Json(BatchDeleteResponse { results }).into_response())
}
