//! Offline sync: push a queue of operations (idempotent per `op_id`), pull the changes since
//! a cursor (sets and deletions), and the sync status.

use super::entries::page_limit;
use super::present;
use crate::auth::TepPrincipal;
use crate::error::{ApiError, ErrorEnvelope};
use crate::services::storage::{
    admit, context, parse_body, parse_key, parse_metadata, parse_timestamp, parse_ttl, parse_value,
    parse_writable_key, render_value, repo_error, respond, rfc3339, Caller, CheckFields,
    FieldErrors, RouteClass, ValueInput, SCOPE_READ, SCOPE_WRITE,
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
use tmcp_domain::storage::cursor::ChangeCursor;
use tmcp_domain::storage::sync::{SyncOpResult, SyncOpStatus, SyncStrategy};
use tmcp_domain::storage::value::checksum;
use tmcp_domain::storage::{DEFAULT_LIST_LIMIT, MAX_BATCH_ITEMS, MAX_OP_ID_BYTES, MAX_PULL_LIMIT};
use tmcp_repository::{ChangeKind, EntryWrite, SyncOp};
use utoipa::ToSchema;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PushRequest {
    #[schema(schema_with = crate::schema_constraints::sync_strategy)]
    pub strategy: Option<String>,
    /// 1–100 operations, applied in order.
    #[schema(min_items = 1, max_items = 100)]
    pub operations: Vec<PushOperation>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PushOperation {
    /// The client's id of the operation (1–128 bytes): pushing it again returns the first
    /// result.
    #[schema(
        min_length = 1,
        max_length = 128,
        pattern = r"^[^\x00-\x1F\x7F-\x9F]+$"
    )]
    pub op_id: String,
    #[serde(rename = "type")]
    #[schema(schema_with = crate::schema_constraints::sync_operation_type)]
    pub kind: String,
    /// A storage key; a `set` is rejected when its first segment is `quota`, `batch`, `sync`
    /// or `conflicts` (reserved for storage routes).
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
    /// Unix seconds when the client made the change.
    #[schema(value_type = f64, minimum = 0, maximum = 253402300799_i64)]
    pub client_timestamp: Option<serde_json::Number>,
    /// The version the client last saw (0: the key did not exist).
    #[schema(minimum = 0)]
    pub base_version: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct PushError {
    pub code: String,
    pub message: String,
    #[serde(skip_serializing_if = "Value::is_null")]
    #[schema(value_type = Object)]
    pub details: Value,
}

#[derive(Serialize, ToSchema)]
pub struct PushResult {
    pub op_id: String,
    pub key: String,
    /// `applied`, `conflict` or `rejected`.
    pub status: &'static str,
    /// The key's version after the operation (`null`: the key does not exist).
    pub version: Option<i64>,
    /// `server_wins` or `manual` on a conflict.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolution: Option<String>,
    /// The server's value on a conflict (JSON values).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Value>)]
    pub server_value: Option<Box<RawValue>>,
    /// The server's value on a conflict (binary values).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_value_base64: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_content_type: Option<String>,
    /// The conflict opened by the `manual` strategy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conflict_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<PushError>,
    /// The op id had been pushed before: this is its first result.
    pub replayed: bool,
}

impl PushResult {
    fn from_result(result: SyncOpResult, replayed: bool) -> Self {
        let status = match result.status {
            SyncOpStatus::Applied => "applied",
            SyncOpStatus::Conflict => "conflict",
            SyncOpStatus::Rejected => "rejected",
        };
        let (server_value, server_value_base64, server_content_type) = match &result.server_value {
            Some(v) => {
                let rendered = render_value(v.encoding, &v.bytes);
                (
                    rendered.value,
                    rendered.value_base64,
                    Some(v.content_type.clone()),
                )
            }
            None => (None, None, None),
        };
        Self {
            op_id: result.op_id,
            key: result.key,
            status,
            version: result.version,
            resolution: result.resolution,
            server_value,
            server_value_base64,
            server_content_type,
            conflict_id: result.conflict_id.map(|id| id.to_string()),
            error: result.error.map(|e| PushError {
                code: e.code,
                message: e.message,
                details: Value::Null,
            }),
            replayed,
        }
    }

    fn rejected(op_id: String, key: String, error: ApiError) -> Self {
        Self {
            op_id,
            key,
            status: "rejected",
            version: None,
            resolution: None,
            server_value: None,
            server_value_base64: None,
            server_content_type: None,
            conflict_id: None,
            error: Some(PushError {
                code: error.code.to_owned(),
                message: error.message,
                details: error.details,
            }),
            replayed: false,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct PushResponse {
    /// One result per operation, in request order.
    pub results: Vec<PushResult>,
}

/// Replays a client's offline queue.
#[utoipa::path(post, path = "/api/v1/storage/sync/push", tag = "storage",
    request_body = PushRequest, security(("tep" = ["storage:write"])),
    responses(
        (status = 200, description = "per-operation results (invalid operations are rejected one by one)", body = PushResponse),
        (status = 403, description = "storage:write missing", body = ErrorEnvelope),
        (status = 422, description = "VALIDATION_FAILED: unknown strategy, 0 or more than 100 operations, bad op_id", body = ErrorEnvelope),
        (status = 429, description = "rate limited (batch class)", body = ErrorEnvelope)))]
pub async fn push(
    State(state): State<AppState>,
    principal: TepPrincipal,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match admit(&state, &principal, SCOPE_WRITE, RouteClass::Batch).await {
        Err(e) => e.into_response(),
        Ok((caller, decision)) => {
            respond(&decision, push_ops(&state, &caller, &headers, &body).await)
        }
    }
}

fn valid_op_id(op_id: &str) -> bool {
    !op_id.is_empty() && op_id.len() <= MAX_OP_ID_BYTES && !op_id.chars().any(char::is_control)
}

/// Validates one operation; `Err` is the per-operation rejection.
fn sync_op(op: PushOperation, strategy: SyncStrategy) -> Result<SyncOp, ApiError> {
    let mut errors = FieldErrors::default();
    // A set must not create a key under a reserved segment; a delete may remove one stored
    // before that rule existed.
    let key = if op.kind == "set" {
        parse_writable_key(&op.key, "key", &mut errors)
    } else {
        parse_key(&op.key, "key", &mut errors)
    };
    let client_timestamp = match op.client_timestamp.as_ref() {
        None => {
            errors.add("client_timestamp", "client_timestamp is required");
            None
        }
        some => parse_timestamp(some, "client_timestamp", &mut errors),
    };
    if op.base_version.is_some_and(|v| v < 0) {
        errors.add("base_version", "base_version must be 0 or more");
    }
    let write = match op.kind.as_str() {
        "set" => {
            let input = ValueInput {
                value: op.value.as_deref(),
                value_base64: op.value_base64.as_deref(),
                content_type: op.content_type.as_deref(),
            };
            let value = parse_value(&input, "", &mut errors)?;
            let ttl = parse_ttl(op.ttl, "ttl", &mut errors);
            let metadata = parse_metadata(op.metadata, "metadata", &mut errors);
            match (key.clone(), value) {
                (Some(key), Some(value)) => Some(EntryWrite {
                    key,
                    checksum: checksum(&value.bytes),
                    value: value.bytes,
                    encoding: value.encoding,
                    content_type: value.content_type,
                    ttl_seconds: ttl,
                    metadata,
                    client_timestamp,
                    last_write_wins: false,
                    expected: None,
                }),
                _ => None,
            }
        }
        "delete" => {
            if op.value.is_some() || op.value_base64.is_some() || op.ttl.is_some() {
                errors.add("value", "a delete carries no value or ttl");
            }
            None
        }
        _ => {
            errors.add("type", "type must be set or delete");
            None
        }
    };
    errors.check()?;
    match (key, client_timestamp) {
        (Some(key), Some(client_timestamp)) => Ok(SyncOp {
            op_id: op.op_id,
            key,
            write,
            client_timestamp,
            base_version: op.base_version,
            strategy,
        }),
        _ => Err(ApiError::internal("validated operation lost a field")),
    }
}

async fn push_ops(
    state: &AppState,
    caller: &Caller,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<Response, ApiError> {
    let request: PushRequest = parse_body(headers, body)?;
    let mut errors = FieldErrors::default();
    let strategy = match request.strategy.as_deref() {
        None => SyncStrategy::default(),
        Some(raw) => SyncStrategy::parse(raw).unwrap_or_else(|| {
            errors.add(
                "strategy",
                "strategy must be last_write_wins, local_wins, remote_wins or manual",
            );
            SyncStrategy::default()
        }),
    };
    if request.operations.is_empty() || request.operations.len() > MAX_BATCH_ITEMS {
        errors.add(
            "operations",
            format!("between 1 and {MAX_BATCH_ITEMS} operations"),
        );
    }
    for (i, op) in request.operations.iter().enumerate() {
        if !valid_op_id(&op.op_id) {
            errors.add(
                format!("operations[{i}].op_id"),
                format!("op_id must be 1 to {MAX_OP_ID_BYTES} bytes without control characters"),
            );
        }
    }
    errors.check()?;
    let mut results = Vec::with_capacity(request.operations.len());
    for op in request.operations {
        let (op_id, key) = (op.op_id.clone(), op.key.clone());
        let op = match sync_op(op, strategy) {
            Ok(op) => op,
            Err(rejection) => {
                results.push(PushResult::rejected(op_id, key, rejection));
                continue;
            }
        };
        let applied = state
            .db
            .sync_apply(caller.user, &caller.app, op, &context(state, &caller.app))
            .await
            .map_err(repo_error)?;
        results.push(PushResult::from_result(applied.result, applied.replayed));
    }
    Ok(Json(PushResponse { results }).into_response())
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct PullRequest {
    /// `next_cursor` of the previous pull; absent for the first pull.
    pub cursor: Option<String>,
    /// Changes per page (default 100).
    #[schema(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct ChangeItem {
    pub key: String,
    /// `set` or `delete` (deletions include expiries).
    pub operation: &'static str,
    /// The version written, or the version the key had when it was deleted.
    pub version: i64,
    /// Position in the feed.
    pub seq: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Value>)]
    pub value: Option<Box<RawValue>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value_base64: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checksum: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deleted_at: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct PullResponse {
    /// At most one change per key (its latest state), in feed order.
    pub changes: Vec<ChangeItem>,
    pub next_cursor: String,
    pub has_more: bool,
    /// The client must replace its local copy with this feed (first pull, or a cursor older
    /// than the tombstone retention, or the app's data was deleted).
    pub full_resync: bool,
}

/// Changes since a cursor.
#[utoipa::path(post, path = "/api/v1/storage/sync/pull", tag = "storage",
    request_body = PullRequest, security(("tep" = ["storage:read"])),
    responses(
        (status = 200, description = "changes after the cursor", body = PullResponse),
        (status = 400, description = "invalid cursor", body = ErrorEnvelope),
        (status = 403, description = "storage:read missing", body = ErrorEnvelope),
        (status = 422, description = "invalid limit", body = ErrorEnvelope),
        (status = 429, description = "rate limited", body = ErrorEnvelope)))]
pub async fn pull(
    State(state): State<AppState>,
    principal: TepPrincipal,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match admit(&state, &principal, SCOPE_READ, RouteClass::Single).await {
        Err(e) => e.into_response(),
        Ok((caller, decision)) => respond(
            &decision,
            pull_changes(&state, &caller, &headers, &body).await,
        ),
    }
}

async fn pull_changes(
    state: &AppState,
    caller: &Caller,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<Response, ApiError> {
    let request: PullRequest = if body.iter().all(u8::is_ascii_whitespace) {
        PullRequest::default()
    } else {
        parse_body(headers, body)?
    };
    let mut errors = FieldErrors::default();
    let limit_text = request.limit.map(|l| l.to_string());
    let limit = page_limit(
        limit_text.as_deref(),
        DEFAULT_LIST_LIMIT,
        MAX_PULL_LIMIT,
        &mut errors,
    );
    errors.check()?;
    let cursor = match request.cursor.as_deref().filter(|c| !c.is_empty()) {
        None => None,
        Some(text) => Some(
            ChangeCursor::decode(text)
                .ok_or_else(|| ApiError::invalid_request("cursor is not valid"))?,
        ),
    };
    let page = state
        .db
        .pull_changes(
            caller.user,
            &caller.app,
            cursor,
            limit,
            &context(state, &caller.app),
        )
        .await
        .map_err(repo_error)?;
    let changes = page
        .changes
        .into_iter()
        .map(|change| match change.kind {
            ChangeKind::Set(entry) => {
                let rendered = render_value(entry.encoding, &entry.value);
                ChangeItem {
                    key: entry.key,
                    operation: "set",
                    version: entry.version,
                    seq: change.seq,
                    value: rendered.value,
                    value_base64: rendered.value_base64,
                    content_type: Some(entry.content_type),
                    size: Some(entry.size),
                    checksum: Some(entry.checksum),
                    updated_at: Some(rfc3339(entry.updated_at)),
                    expires_at: entry.expires_at.map(rfc3339),
                    metadata: Some(entry.metadata),
                    deleted_at: None,
                }
            }
            ChangeKind::Deleted {
                key,
                version,
                deleted_at,
            } => ChangeItem {
                key,
                operation: "delete",
                version,
                seq: change.seq,
                value: None,
                value_base64: None,
                content_type: None,
                size: None,
                checksum: None,
                updated_at: None,
                expires_at: None,
                metadata: None,
                deleted_at: Some(rfc3339(deleted_at)),
            },
        })
        .collect();
    Ok(Json(PullResponse {
        changes,
        next_cursor: page.next.encode(),
        has_more: page.has_more,
        full_resync: page.full_resync,
    })
    .into_response())
}

#[derive(Serialize, ToSchema)]
pub struct SyncStatusResponse {
    /// Operations waiting for a manual conflict resolution.
    pub pending_operations: i64,
    /// Operations refused (e.g. over quota).
    pub failed_operations: i64,
    pub completed_operations: i64,
    /// Conflicts waiting for a resolution.
    pub open_conflicts: i64,
    /// When the last operation was pushed (`null`: never).
    pub last_sync_at: Option<String>,
    /// The newest position of the change feed.
    pub change_seq: i64,
}

/// Sync state of the caller's (user, app).
#[utoipa::path(get, path = "/api/v1/storage/sync/status", tag = "storage",
    security(("tep" = ["storage:read"])),
    responses(
        (status = 200, description = "operation counts, open conflicts, last sync", body = SyncStatusResponse),
        (status = 403, description = "storage:read missing", body = ErrorEnvelope),
        (status = 429, description = "rate limited", body = ErrorEnvelope)))]
pub async fn status(State(state): State<AppState>, principal: TepPrincipal) -> Response {
    match admit(&state, &principal, SCOPE_READ, RouteClass::Single).await {
        Err(e) => e.into_response(),
        Ok((caller, decision)) => respond(&decision, sync_status(&state, &caller).await),
    }
}

async fn sync_status(state: &AppState, caller: &Caller) -> Result<Response, ApiError> {
    let status = state
        .db
        .sync_status(caller.user, &caller.app)
        .await
        .map_err(repo_error)?;
    Ok(Json(SyncStatusResponse {
        pending_operations: status.pending_ops,
        failed_operations: status.failed_ops,
        completed_operations: status.completed_ops,
        open_conflicts: status.open_conflicts,
        last_sync_at: status.last_push_at.map(rfc3339),
        change_seq: status.change_seq,
    })
    .into_response())
}
