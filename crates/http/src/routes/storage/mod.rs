//! Mini-app storage (the TMCP protocol §3): one module per operation group. User and app come only
//! from the TEP (`services::storage` admits the caller); each handler extracts, calls one use
//! case of `tmcp_usecases::storage` and renders its result here.

pub mod batch;
pub mod conflicts;
pub mod entries;
pub mod quota;
pub mod sync;

use crate::services::storage::{render_value, rfc3339};
use crate::AppState;
use axum::routing::{get, post};
use axum::Router;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::value::RawValue;
use serde_json::Value;
use tmcp_repository::StoredEntry;
use tmcp_usecases::storage::list::Page;
use utoipa::ToSchema;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/storage", get(entries::list))
        // A static segment wins over `{key}`. Keys under the first segments of these routes
        // are refused on writes (`tmcp_domain::storage::RESERVED_KEY_SEGMENTS`); PUT on the
        // fixed paths answers that 422 rather than 405, and DELETE removes a key of that name
        // stored before the rule.
        .route(
            "/api/v1/storage/quota",
            get(quota::quota)
                .put(entries::put_route_named_key)
                .delete(entries::delete_route_named_key),
        )
        .route("/api/v1/storage/batch/get", post(batch::get))
        .route("/api/v1/storage/batch/set", post(batch::set))
        .route("/api/v1/storage/batch/delete", post(batch::delete))
        .route("/api/v1/storage/sync/push", post(sync::push))
        .route("/api/v1/storage/sync/pull", post(sync::pull))
        .route("/api/v1/storage/sync/status", get(sync::status))
        .route(
            "/api/v1/storage/conflicts",
            get(conflicts::list)
                .put(entries::put_route_named_key)
                .delete(entries::delete_route_named_key),
        )
        .route(
            "/api/v1/storage/conflicts/{id}/resolve",
            post(conflicts::resolve),
        )
        .route(
            "/api/v1/storage/{key}",
            get(entries::get).put(entries::put).delete(entries::delete),
        )
}

/// Deserialises a field that is present (even as `null`) into `Some`.
pub(crate) fn present<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Box<RawValue>>, D::Error> {
    Box::<RawValue>::deserialize(deserializer).map(Some)
}

/// A stored entry with its value.
#[derive(Serialize, ToSchema)]
pub struct EntryResponse {
    pub key: String,
    /// The value when it was stored from `value` (a JSON string for text, the JSON as sent
    /// otherwise).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Value>)]
    pub value: Option<Box<RawValue>>,
    /// The bytes, base64, when stored from `value_base64`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value_base64: Option<String>,
    pub content_type: String,
    pub version: i64,
    /// Stored bytes.
    pub size: i64,
    /// SHA-256 of the stored bytes, lowercase hex.
    pub checksum: String,
    pub created_at: String,
    pub updated_at: String,
    pub expires_at: Option<String>,
    #[schema(value_type = Object)]
    pub metadata: Value,
}

impl From<&StoredEntry> for EntryResponse {
    fn from(entry: &StoredEntry) -> Self {
        let rendered = render_value(entry.encoding, &entry.value);
        Self {
            key: entry.key.clone(),
            value: rendered.value,
            value_base64: rendered.value_base64,
            content_type: entry.content_type.clone(),
            version: entry.version,
            size: entry.size,
            checksum: entry.checksum.clone(),
            created_at: rfc3339(entry.created_at),
            updated_at: rfc3339(entry.updated_at),
            expires_at: entry.expires_at.map(rfc3339),
            metadata: entry.metadata.clone(),
        }
    }
}

/// The outcome of one write: stored, or refused by last-write-wins.
#[derive(Serialize, ToSchema)]
pub struct WriteResult {
    pub key: String,
    /// The key's version after the request.
    pub version: i64,
    /// `true` when `client_timestamp` was older than the stored write; nothing changed.
    pub conflict_detected: bool,
    /// `server_wins` when a conflict was detected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolution: Option<&'static str>,
    /// The stored value the server kept (JSON), on a conflict.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Value>)]
    pub server_value: Option<Box<RawValue>>,
    /// The stored value the server kept (base64), on a conflict with a binary value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_value_base64: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checksum: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<String>,
    /// On success: the expiry, `null` without a TTL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<Option<String>>,
    /// On success: whether the key was created (201 on single writes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created: Option<bool>,
}

impl WriteResult {
    pub fn stored(entry: &StoredEntry, created: bool) -> Self {
        Self {
            key: entry.key.clone(),
            version: entry.version,
            conflict_detected: false,
            resolution: None,
            server_value: None,
            server_value_base64: None,
            size: Some(entry.size),
            checksum: Some(entry.checksum.clone()),
            updated_at: Some(rfc3339(entry.updated_at)),
            expires_at: Some(entry.expires_at.map(rfc3339)),
            created: Some(created),
        }
    }

    pub fn server_wins(current: &StoredEntry) -> Self {
        let rendered = render_value(current.encoding, &current.value);
        Self {
            key: current.key.clone(),
            version: current.version,
            conflict_detected: true,
            resolution: Some("server_wins"),
            server_value: rendered.value,
            server_value_base64: rendered.value_base64,
            size: None,
            checksum: None,
            updated_at: None,
            expires_at: None,
            created: None,
        }
    }
}

/// Usage of the caller's (user, app) quota.
#[derive(Serialize, ToSchema)]
pub struct QuotaResponse {
    pub total_bytes: i64,
    pub used_bytes: i64,
    pub available_bytes: i64,
    pub total_keys: i64,
    pub used_keys: i64,
    pub available_keys: i64,
    /// When usage last changed; `null` if nothing was ever stored.
    pub last_updated: Option<String>,
}

impl From<tmcp_repository::QuotaSnapshot> for QuotaResponse {
    fn from(snapshot: tmcp_repository::QuotaSnapshot) -> Self {
        let u = snapshot.usage;
        Self {
            total_bytes: u.total_bytes,
            used_bytes: u.used_bytes,
            available_bytes: (u.total_bytes - u.used_bytes).max(0),
            total_keys: u.total_keys,
            used_keys: u.used_keys,
            available_keys: (u.total_keys - u.used_keys).max(0),
            last_updated: snapshot.last_updated.map(rfc3339),
        }
    }
}

/// Cursor pagination of listings.
#[derive(Serialize, ToSchema)]
pub struct Pagination {
    pub limit: i64,
    pub next_cursor: Option<String>,
    pub has_more: bool,
}

impl Pagination {
    fn of<T>(page: &Page<T>) -> Self {
        Self {
            limit: page.limit,
            next_cursor: page.next_cursor.clone(),
            has_more: page.has_more,
        }
    }
}
