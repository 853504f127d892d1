//! Offline sync: push a queue of operations (idempotent per `op_id`), pull the changes since
//! a cursor (sets and deletions), and the sync status.

use super::present;
use crate::auth::TepPrincipal;
use crate::error::{ApiError, ErrorEnvelope};
use crate::extract::parse_body;
use crate::services::storage::{
    admit, render_value, respond, rfc3339, Caller, RouteClass, SCOPE_READ, SCOPE_WRITE,
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
use tmcp_domain::storage::sync::{SyncOpResult, SyncOpStatus};
use tmcp_repository::ChangeKind;
use tmcp_usecases::storage::sync::{self, Pushed};
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

impl PushOperation {
    fn into_use_case(self) -> sync::PushOperation {
        sync::PushOperation {
            op_id: self.op_id,
            kind: self.kind,
            key: self.key,
            value: self.value,
            value_base64: self.value_base64,
            content_type: self.content_type,
            ttl: self.ttl,
            metadata: self.metadata,
            client_timestamp: self.client_timestamp,
            base_version: self.base_version,
        }
    }
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

async fn push_ops(
    state: &AppState,
    caller: &Caller,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<Response, ApiError> {
    let request: PushRequest = parse_body(headers, body)?;
    let operations = request
        .operations
        .into_iter()
        .map(PushOperation::into_use_case)
        .collect();
    let pushed = sync::push(
        state.db.as_ref(),
        state.clock.as_ref(),
        &state.settings.storage,
        caller,
        request.strategy.as_deref(),
        operations,
    )
    .await?;
    let results = pushed
        .into_iter()
        .map(|outcome| match outcome {
            Pushed::Recorded(applied) => PushResult::from_result(applied.result, applied.replayed),
            Pushed::Rejected { op_id, key, error } => {
                PushResult::rejected(op_id, key, ApiError::from(error))
            }
        })
        .collect();
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
    let page = sync::pull(
        state.db.as_ref(),
        state.clock.as_ref(),
        &state.settings.storage,
        caller,
        request.cursor.as_deref(),
        request.limit,
    )
    .await?;
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
    let status = sync::status(state.db.as_ref(), caller).await?;
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
