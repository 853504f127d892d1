//! Conflicts opened by the `manual` sync strategy: list them, resolve one.

use super::entries::page_limit;
use super::{present, EntryResponse, Pagination};
use crate::auth::TepPrincipal;
use crate::error::{ApiError, ErrorEnvelope};
use crate::services::storage::{
    admit, context, parse_body, parse_metadata, parse_ttl, parse_value, repo_error, respond,
    rfc3339, stored_value_json, Caller, CheckFields, FieldErrors, RouteClass, ValueInput,
    SCOPE_READ, SCOPE_WRITE,
};
use crate::AppState;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{json, Value};
use tmcp_domain::storage::cursor::IdCursor;
use tmcp_domain::storage::sync::SyncOpKind;
use tmcp_domain::storage::DEFAULT_LIST_LIMIT;
use tmcp_repository::{ConflictRecord, ConflictResolution, ResolveOutcome};
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
    let mut errors = FieldErrors::default();
    let limit = page_limit(
        params.limit.as_deref(),
        DEFAULT_LIST_LIMIT,
        100,
        &mut errors,
    );
    let status = match params.status.as_deref() {
        None | Some("pending") => Some("pending"),
        Some("resolved") => Some("resolved"),
        Some("ignored") => Some("ignored"),
        Some("all") => None,
        Some(_) => {
            errors.add("status", "status must be pending, resolved, ignored or all");
            None
        }
    };
    errors.check()?;
    let after = match params.cursor.as_deref().filter(|c| !c.is_empty()) {
        None => None,
        Some(text) => Some(
            IdCursor::decode(text)
                .ok_or_else(|| ApiError::invalid_request("cursor is not valid"))?
                .0,
        ),
    };
    let mut found = state
        .db
        .list_conflicts(caller.user, &caller.app, status, after, limit + 1)
        .await
        .map_err(repo_error)?;
    let has_more = found.len() > usize::try_from(limit).unwrap_or(usize::MAX);
    found.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    let next_cursor = has_more
        .then(|| found.last().map(|c| IdCursor(c.id).encode()))
        .flatten();
    Ok(Json(ConflictList {
        conflicts: found.into_iter().map(ConflictItem::from).collect(),
        pagination: Pagination {
            limit,
            next_cursor,
            has_more,
        },
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
    let not_found =
        || ApiError::not_found("no such conflict").with_details(json!({ "conflict_id": raw_id }));
    let id = uuid::Uuid::parse_str(raw_id).map_err(|_| not_found())?;
    let request: ResolveRequest = parse_body(headers, body)?;
    let mut errors = FieldErrors::default();
    let has_value = request.value.is_some() || request.value_base64.is_some();
    let resolution = match request.resolution.as_str() {
        "local" | "remote" => {
            if has_value || request.ttl.is_some() || request.metadata.is_some() {
                errors.add("value", "a value is only given with resolution \"value\"");
            }
            if request.resolution == "local" {
                Some(ConflictResolution::Local)
            } else {
                Some(ConflictResolution::Remote)
            }
        }
        "value" => {
            let input = ValueInput {
                value: request.value.as_deref(),
                value_base64: request.value_base64.as_deref(),
                content_type: request.content_type.as_deref(),
            };
            let value = parse_value(&input, "", &mut errors)?;
            let ttl = parse_ttl(request.ttl, "ttl", &mut errors);
            let metadata = parse_metadata(request.metadata, "metadata", &mut errors);
            value.map(|v| ConflictResolution::Value {
                value: v.bytes,
                encoding: v.encoding,
                content_type: v.content_type,
                ttl_seconds: ttl,
                metadata,
            })
        }
        _ => {
            errors.add("resolution", "resolution must be local, remote or value");
            None
        }
    };
    errors.check()?;
    let resolution = resolution.ok_or_else(|| ApiError::internal("resolution lost"))?;
    let outcome = state
        .db
        .resolve_conflict(
            caller.user,
            &caller.app,
            id,
            resolution,
            &context(state, &caller.app),
        )
        .await
        .map_err(repo_error)?;
    match outcome {
        ResolveOutcome::NotFound => Err(not_found()),
        ResolveOutcome::NotPending { status } => Err(ApiError::new(
            StatusCode::CONFLICT,
            "INVALID_STATE_TRANSITION",
            "only pending conflicts can be resolved",
        )
        .with_details(json!({ "status": status }))),
        ResolveOutcome::Resolved { conflict, entry } => Ok(Json(ResolveResponse {
            conflict: ConflictItem::from(*conflict),
            entry: entry.as_deref().map(EntryResponse::from),
        })
        .into_response()),
    }
}
