//! One key at a time (`GET`/`PUT`/`DELETE /api/v1/storage/{key}`) and the key listing.

use super::{present, EntryResponse, Pagination, WriteResult};
use crate::auth::TepPrincipal;
use crate::error::{ApiError, ErrorEnvelope};
use crate::extract::parse_body;
use crate::services::storage::{
    admit, path_key, respond, rfc3339, Caller, RouteClass, ValueInput, SCOPE_READ, SCOPE_WRITE,
};
use crate::AppState;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::Value;
use tmcp_domain::storage::value::{etag, ExpectedVersion};
use tmcp_usecases::storage::entries::{delete_entry, read_entry, write_entry, EntryInput, Written};
use tmcp_usecases::storage::list::{list_keys, ListInput};
use utoipa::{IntoParams, ToSchema};

/// `PUT /api/v1/storage/{key}` body. Exactly one of `value` and `value_base64`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PutRequest {
    /// Any JSON value. A string is stored as its UTF-8 text (`text/plain`); anything else
    /// as its JSON text exactly as sent (`application/json`).
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<Value>)]
    pub value: Option<Box<RawValue>>,
    /// Binary value, standard base64 with padding (`application/octet-stream` unless
    /// `content_type` says otherwise).
    #[schema(schema_with = crate::schema_constraints::value_base64)]
    pub value_base64: Option<String>,
    /// Media type recorded with the value (1–100 printable ASCII characters).
    #[schema(schema_with = crate::schema_constraints::content_type)]
    pub content_type: Option<String>,
    /// Seconds until the key expires.
    #[schema(minimum = 60, maximum = 2592000)]
    pub ttl: Option<i64>,
    /// A JSON object of at most 4096 bytes.
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Value>,
    /// Unix seconds of the client's change, for last-write-wins.
    #[schema(value_type = Option<f64>, minimum = 0, maximum = 253402300799_i64)]
    pub client_timestamp: Option<serde_json::Number>,
}

#[derive(Serialize, ToSchema)]
pub struct DeleteResponse {
    pub key: String,
    /// Whether a live entry was removed.
    pub deleted: bool,
}

/// `If-Match` (`"<version>"`, `*`) or `If-None-Match: *`; malformed → 400.
pub(crate) fn precondition(headers: &HeaderMap) -> Result<Option<ExpectedVersion>, ApiError> {
    let text = |name: header::HeaderName| -> Result<Option<&str>, ApiError> {
        match headers.get(&name) {
            None => Ok(None),
            Some(v) => v
                .to_str()
                .map(Some)
                .map_err(|_| ApiError::invalid_request(format!("{name} is not valid"))),
        }
    };
    match (text(header::IF_MATCH)?, text(header::IF_NONE_MATCH)?) {
        (Some(_), Some(_)) => Err(ApiError::invalid_request(
            "send If-Match or If-None-Match, not both",
        )),
        (Some(raw), None) => ExpectedVersion::parse_if_match(raw)
            .map(Some)
            .ok_or_else(|| ApiError::invalid_request("If-Match must be \"<version>\" or *")),
        (None, Some(raw)) if raw.trim() == "*" => Ok(Some(ExpectedVersion::Absent)),
        (None, Some(_)) => Err(ApiError::invalid_request(
            "If-None-Match is only supported as * on writes",
        )),
        (None, None) => Ok(None),
    }
}

fn with_etag(mut response: Response, version: i64) -> Response {
    if let Ok(value) = HeaderValue::from_str(&etag(version)) {
        response.headers_mut().insert(header::ETAG, value);
    }
    response
}

/// Reads one live entry.
#[utoipa::path(get, path = "/api/v1/storage/{key}", tag = "storage",
    params(("key" = String, Path, min_length = 1, max_length = 256,
            pattern = r"^(?!(quota|batch|sync|conflicts)(/|$))[^\x00-\x1F\x7F-\x9F]+$",
            description = "1–256 bytes of UTF-8 without control characters, percent-encoded; \
                           not under the first segments `quota`, `batch`, `sync`, `conflicts`"),
           ("If-None-Match" = Option<String>, Header, description = "an ETag; 304 if it matches")),
    security(("tep" = ["storage:read"])),
    responses(
        (status = 200, description = "the entry, with `ETag: \"<version>\"`", body = EntryResponse),
        (status = 304, description = "the entry still has the version in If-None-Match"),
        (status = 401, description = "missing or invalid TEP", body = ErrorEnvelope),
        (status = 403, description = "storage:read missing", body = ErrorEnvelope),
        (status = 404, description = "KEY_NOT_FOUND (also once expired)", body = ErrorEnvelope),
        (status = 422, description = "invalid key", body = ErrorEnvelope),
        (status = 429, description = "rate limited", body = ErrorEnvelope)))]
pub async fn get(
    State(state): State<AppState>,
    principal: TepPrincipal,
    Path(key): Path<String>,
    headers: HeaderMap,
) -> Response {
    match admit(&state, &principal, SCOPE_READ, RouteClass::Single).await {
        Err(e) => e.into_response(),
        Ok((caller, decision)) => respond(&decision, read(&state, &caller, &key, &headers).await),
    }
}

async fn read(
    state: &AppState,
    caller: &Caller,
    raw_key: &str,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    let entry = read_entry(state.db.as_ref(), state.clock.as_ref(), caller, raw_key).await?;
    let tag = etag(entry.version);
    let unchanged = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .any(|t| t.trim().trim_start_matches("W/") == tag || t.trim() == "*")
        });
    if unchanged {
        return Ok(with_etag(
            StatusCode::NOT_MODIFIED.into_response(),
            entry.version,
        ));
    }
    Ok(with_etag(
        Json(EntryResponse::from(&entry)).into_response(),
        entry.version,
    ))
}

/// Stores a value (insert or replace; each write bumps the version).
#[utoipa::path(put, path = "/api/v1/storage/{key}", tag = "storage",
    params(("key" = String, Path, min_length = 1, max_length = 256,
            pattern = r"^(?!(quota|batch|sync|conflicts)(/|$))[^\x00-\x1F\x7F-\x9F]+$",
            description = "1–256 bytes of UTF-8 without control characters, percent-encoded; \
                           not under the first segments `quota`, `batch`, `sync`, `conflicts`"),
           ("If-Match" = Option<String>, Header, pattern = r#"^[ \t]*(\*|(W/)?"?[0-9]{1,18}"?)[ \t]*$"#,
            description = "\"<version>\" or *: compare-and-set (not with If-None-Match)"),
           ("If-None-Match" = Option<String>, Header, pattern = r"^[ \t]*\*[ \t]*$",
            description = "*: create only (not with If-Match)")),
    request_body = PutRequest,
    security(("tep" = ["storage:write"])),
    responses(
        (status = 200, description = "replaced, or `conflict_detected: true` when client_timestamp is older than the stored write (nothing changed)", body = WriteResult),
        (status = 201, description = "created", body = WriteResult),
        (status = 400, description = "malformed JSON or header", body = ErrorEnvelope),
        (status = 403, description = "storage:write missing", body = ErrorEnvelope),
        (status = 409, description = "VERSION_CONFLICT: the precondition failed", body = ErrorEnvelope),
        (status = 413, description = "PAYLOAD_TOO_LARGE (value over 1048576 bytes) or STORAGE_QUOTA_EXCEEDED", body = ErrorEnvelope),
        (status = 422, description = "VALIDATION_FAILED with details.fields, e.g. `fields.key` for an invalid key or one under a reserved first segment (`quota`, `batch`, `sync`, `conflicts`)", body = ErrorEnvelope),
        (status = 429, description = "rate limited", body = ErrorEnvelope)))]
pub async fn put(
    State(state): State<AppState>,
    principal: TepPrincipal,
    Path(key): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    put_key(state, principal, &key, headers, body).await
}

/// `PUT` on a fixed storage route such as `/api/v1/storage/quota`: the key named after the
/// route's last segment, so the write is refused like any key under a reserved segment
/// (422 naming them) instead of a bare 405.
pub async fn put_route_named_key(
    State(state): State<AppState>,
    principal: TepPrincipal,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    put_key(state, principal, last_segment(&uri), headers, body).await
}

fn last_segment(uri: &Uri) -> &str {
    uri.path().rsplit('/').next().unwrap_or_default()
}

async fn put_key(
    state: AppState,
    principal: TepPrincipal,
    key: &str,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match admit(&state, &principal, SCOPE_WRITE, RouteClass::Single).await {
        Err(e) => e.into_response(),
        Ok((caller, decision)) => respond(
            &decision,
            write(&state, &caller, key, &headers, &body).await,
        ),
    }
}

async fn write(
    state: &AppState,
    caller: &Caller,
    raw_key: &str,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<Response, ApiError> {
    let request: PutRequest = parse_body(headers, body)?;
    let expected = precondition(headers)?;
    let input = EntryInput {
        value: ValueInput {
            value: request.value.as_deref(),
            value_base64: request.value_base64.as_deref(),
            content_type: request.content_type.as_deref(),
        },
        ttl: request.ttl,
        metadata: request.metadata,
        client_timestamp: request.client_timestamp.as_ref(),
        expected,
    };
    let written = write_entry(
        state.db.as_ref(),
        state.clock.as_ref(),
        &state.settings.storage,
        caller,
        raw_key,
        input,
    )
    .await?;
    match written {
        Written::Stored { entry, created } => {
            let status = if created {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            };
            let response = (status, Json(WriteResult::stored(&entry, created))).into_response();
            Ok(with_etag(response, entry.version))
        }
        Written::ServerWins { current } => Ok(with_etag(
            Json(WriteResult::server_wins(&current)).into_response(),
            current.version,
        )),
    }
}

/// Deletes a key (200 whether or not it existed).
#[utoipa::path(delete, path = "/api/v1/storage/{key}", tag = "storage",
    params(("key" = String, Path, min_length = 1, max_length = 256,
            pattern = r"^(?!(quota|batch|sync|conflicts)(/|$))[^\x00-\x1F\x7F-\x9F]+$",
            description = "1–256 bytes of UTF-8 without control characters, percent-encoded; \
                           not under the first segments `quota`, `batch`, `sync`, `conflicts`"),
           ("If-Match" = Option<String>, Header, pattern = r#"^[ \t]*(\*|(W/)?"?[0-9]{1,18}"?)[ \t]*$"#,
            description = "\"<version>\": delete only that version")),
    security(("tep" = ["storage:write"])),
    responses(
        (status = 200, description = "`deleted` says whether a live entry was removed", body = DeleteResponse),
        (status = 400, description = "malformed If-Match", body = ErrorEnvelope),
        (status = 403, description = "storage:write missing", body = ErrorEnvelope),
        (status = 409, description = "VERSION_CONFLICT", body = ErrorEnvelope),
        (status = 422, description = "invalid key", body = ErrorEnvelope),
        (status = 429, description = "rate limited", body = ErrorEnvelope)))]
pub async fn delete(
    State(state): State<AppState>,
    principal: TepPrincipal,
    Path(key): Path<String>,
    headers: HeaderMap,
) -> Response {
    delete_key(state, principal, &key, headers).await
}

/// `DELETE` on a fixed storage route such as `/api/v1/storage/quota`: removes a key of that
/// name stored before the reserved segments were refused.
pub async fn delete_route_named_key(
    State(state): State<AppState>,
    principal: TepPrincipal,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    delete_key(state, principal, last_segment(&uri), headers).await
}

async fn delete_key(
    state: AppState,
    principal: TepPrincipal,
    key: &str,
    headers: HeaderMap,
) -> Response {
    match admit(&state, &principal, SCOPE_WRITE, RouteClass::Single).await {
        Err(e) => e.into_response(),
        Ok((caller, decision)) => respond(&decision, remove(&state, &caller, key, &headers).await),
    }
}

async fn remove(
    state: &AppState,
    caller: &Caller,
    raw_key: &str,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    // The key is checked before the header, as it always was.
    path_key(raw_key)?;
    let expected = precondition(headers)?;
    let (key, deleted) = delete_entry(
        state.db.as_ref(),
        state.clock.as_ref(),
        &state.settings.storage,
        caller,
        raw_key,
        expected,
    )
    .await?;
    Ok(Json(DeleteResponse { key, deleted }).into_response())
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Only keys starting with these bytes.
    #[param(max_length = 256, pattern = r"^[^\x00-\x1F\x7F-\x9F]*$")]
    pub prefix: Option<String>,
    /// Keys per page (default 100).
    #[param(value_type = Option<i64>, minimum = 1, maximum = 1000)]
    pub limit: Option<String>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct KeySummary {
    pub key: String,
    pub size: i64,
    pub version: i64,
    pub content_type: String,
    pub updated_at: String,
    pub expires_at: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ListResponse {
    pub items: Vec<KeySummary>,
    pub pagination: Pagination,
}

/// Lists live keys in byte order.
#[utoipa::path(get, path = "/api/v1/storage", tag = "storage", params(ListParams),
    security(("tep" = ["storage:read"])),
    responses(
        (status = 200, description = "one page of keys (no values)", body = ListResponse),
        (status = 400, description = "invalid cursor", body = ErrorEnvelope),
        (status = 403, description = "storage:read missing", body = ErrorEnvelope),
        (status = 422, description = "invalid prefix or limit", body = ErrorEnvelope),
        (status = 429, description = "rate limited", body = ErrorEnvelope)))]
pub async fn list(
    State(state): State<AppState>,
    principal: TepPrincipal,
    Query(params): Query<ListParams>,
) -> Response {
    match admit(&state, &principal, SCOPE_READ, RouteClass::Single).await {
        Err(e) => e.into_response(),
        Ok((caller, decision)) => respond(&decision, list_page(&state, &caller, params).await),
    }
}

async fn list_page(
    state: &AppState,
    caller: &Caller,
    params: ListParams,
) -> Result<Response, ApiError> {
    let input = ListInput {
        prefix: params.prefix,
        limit: params.limit.as_deref(),
        cursor: params.cursor.as_deref(),
    };
    let page = list_keys(state.db.as_ref(), state.clock.as_ref(), caller, input).await?;
    let pagination = Pagination::of(&page);
    let items = page
        .items
        .into_iter()
        .map(|s| KeySummary {
            key: s.key,
            size: s.size,
            version: s.version,
            content_type: s.content_type,
            updated_at: rfc3339(s.updated_at),
            expires_at: s.expires_at.map(rfc3339),
        })
        .collect();
    Ok(Json(ListResponse { items, pagination }).into_response())
}
