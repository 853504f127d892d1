//! Conflicts opened by the `manual` sync strategy: list them, resolve one.

use super::{present, EntryResponse, Pagination};
use crate::auth::TepPrincipal;
use crate::error::{ApiError, ErrorEnvelope};
use crate::extract::parse_body;
use crate::services::storage::{
    admit, respond, rfc3339, stored_value_json, Caller, RouteClass, ValueInput, SCOPE_READ,
    SCOPE_WRITE,
};
use crate::AppState;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::Value;
use tmcp_domain::storage::sync::SyncOpKind;
use tmcp_repository::ConflictRecord;
use tmcp_usecases::storage::conflicts::{
    list_conflicts, resolve_conflict, ConflictListInput, ConflictRef, ResolveInput,
};
use utoipa::{IntoParams, ToSchema};

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ConflictParams {
    #[param(schema_with = crate::schema_constraints::conflict_status)]
    pub status: Option<String>,
    /// Conflicts per page (default 100).
    #[param(value_type = Option<i64>, minimum = 1, maximum = 100)]
    pub limit: Option<String>,
    pub cursor: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ConflictItem {
    pub id: String,
    pub key: String,
    /// `pending`, `resolved` or `ignored`.
    pub status: String,
    pub strategy: Option<String>,
    /// The client's operation: `set` or `delete`.
    pub operation: &'static str,
    pub op_id: Option<String>,
    /// The client's value `{value | value_base64, content_type}` (`null` for a delete).
    #[schema(value_type = Option<Object>)]
    pub local: Option<Value>,
    /// The server's value when the conflict was opened (`null`: the key did not exist).
    #[schema(value_type = Option<Object>)]
    pub remote: Option<Value>,
    pub remote_version: Option<i64>,
    /// `local`, `remote` or `value` once resolved.
    pub resolution: Option<String>,
    /// The value kept by the resolution (`null`: the key was deleted or absent).
    #[schema(value_type = Option<Object>)]
    pub resolved: Option<Value>,
    pub created_at: String,
    pub resolved_at: Option<String>,
}

impl From<ConflictRecord> for ConflictItem {
    fn from(c: ConflictRecord) -> Self {
        Self {
            id: c.id.to_string(),
            key: c.key,
            status: c.status,
            strategy: c.strategy,
            operation: match c.operation {
                SyncOpKind::Set => "set",
                SyncOpKind::Delete => "delete",
            },
            op_id: c.op_id,
            local: c.local.as_ref().map(stored_value_json),
            remote: c.remote.as_ref().map(stored_value_json),
            remote_version: c.remote_version,
            resolution: c.resolution,
            resolved: c.resolved.as_ref().map(stored_value_json),
            created_at: rfc3339(c.created_at),
            resolved_at: c.resolved_at.map(rfc3339),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct ConflictList {
    pub conflicts: Vec<ConflictItem>,
    pub pagination: Pagination,
}

/// Lists conflicts in the order they were opened.
#[utoipa::path(get, path = "/api/v1/storage/conflicts", tag = "storage", params(ConflictParams),
    security(("tep" = ["storage:read"])),
    responses(
        (status = 200, description = "one page of conflicts", body = ConflictList),
        (status = 400, description = "invalid cursor", body = ErrorEnvelope),
        (status = 403, description = "storage:read missing", body = ErrorEnvelope),
        (status = 422, description = "invalid status or limit", body = ErrorEnvelope),
        (status = 429, description = "rate limited", body = ErrorEnvelope)))]
pub async fn list(
    State(state): State<AppState>,
    principal: TepPrincipal,
    Query(params): Query<ConflictParams>,
) -> Response {
    match admit(&state, &principal, SCOPE_READ, RouteClass::Single).await {
        Err(e) => e.into_response(),
        Ok((caller, decision)) => respond(&decision, list_page(&state, &caller, params).await),
    }
}

async fn list_page(
    state: &AppState,
    caller: &Caller,
    params: ConflictParams,
) -> Result<Response, ApiError> {
    let input = ConflictListInput {
        status: params.status.as_deref(),
        limit: params.limit.as_deref(),
        cursor: params.cursor.as_deref(),
    };
    let page = list_conflicts(state.db.as_ref(), caller, input).await?;
    let pagination = Pagination::of(&page);
    Ok(Json(ConflictList {
        conflicts: page.items.into_iter().map(ConflictItem::from).collect(),
        pagination,
    })
    .into_response())
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResolveRequest {
    /// `local` (apply the client's operation), `remote` (keep the server's state) or
    /// `value` (store the value given here).
    #[schema(schema_with = crate::schema_constraints::conflict_resolution)]
    pub resolution: String,
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
}

#[derive(Serialize, ToSchema)]
pub struct ResolveResponse {
    pub conflict: ConflictItem,
    /// The key afterwards; `null` when it does not exist.
    pub entry: Option<EntryResponse>,
}

/// Resolves a pending conflict and completes the operation that opened it.
#[utoipa::path(post, path = "/api/v1/storage/conflicts/{id}/resolve", tag = "storage",
    params(("id" = String, Path, format = Uuid, description = "conflict id")),
    request_body = ResolveRequest, security(("tep" = ["storage:write"])),
    responses(
        (status = 200, description = "resolved", body = ResolveResponse),
        (status = 403, description = "storage:write missing", body = ErrorEnvelope),
        (status = 404, description = "NOT_FOUND", body = ErrorEnvelope),
        (status = 409, description = "INVALID_STATE_TRANSITION: already resolved", body = ErrorEnvelope),
        (status = 413, description = "STORAGE_QUOTA_EXCEEDED or PAYLOAD_TOO_LARGE", body = ErrorEnvelope),
        (status = 422, description = "VALIDATION_FAILED", body = ErrorEnvelope),
        (status = 429, description = "rate limited", body = ErrorEnvelope)))]
pub async fn resolve(
    State(state): State<AppState>,
    principal: TepPrincipal,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match admit(&state, &principal, SCOPE_WRITE, RouteClass::Single).await {
        Err(e) => e.into_response(),
        Ok((caller, decision)) => respond(
            &decision,
            resolve_one(&state, &caller, &id, &headers, &body).await,
        ),
    }
}

async fn resolve_one(
    state: &AppState,
    caller: &Caller,
    raw_id: &str,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<Response, ApiError> {
    // An id that names no conflict is answered before the body is looked at.
    let conflict = ConflictRef::parse(raw_id)?;
    let request: ResolveRequest = parse_body(headers, body)?;
    let input = ResolveInput {
        resolution: &request.resolution,
        value: ValueInput {
            value: request.value.as_deref(),
            value_base64: request.value_base64.as_deref(),
            content_type: request.content_type.as_deref(),
        },
        ttl: request.ttl,
        metadata: request.metadata,
    };
    let resolved = resolve_conflict(
        state.db.as_ref(),
        state.clock.as_ref(),
        &state.settings.storage,
        caller,
        &conflict,
        input,
    )
    .await?;
    Ok(Json(ResolveResponse {
        conflict: ConflictItem::from(*resolved.conflict),
        entry: resolved.entry.as_deref().map(EntryResponse::from),
    })
    .into_response())
}
