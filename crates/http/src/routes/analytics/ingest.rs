//! `POST /api/v1/lifecycle/events`, `/analytics` and `/metrics`: one item, or
//! `{"events": [item, …]}` with 1 to 100 items (the same key on all three). The app and the
//! user come from the TEP only. 202 `{accepted}`; a bad item answers 422 with its `index`
//! and nothing is stored. Counted in `tmcp_analytics_ingested_total{type}` and
//! `tmcp_analytics_rejected_total{type,reason}`.

use crate::auth::TepPrincipal;
use crate::error::{ApiError, ErrorEnvelope};
use crate::extract::ApiJson;
use crate::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::Value;
use tmcp_usecases::analytics::ingest::{self, Kind, Sender};
use tmcp_usecases::analytics::AnalyticsError;
use utoipa::ToSchema;

pub const INGESTED_TOTAL: &str = "tmcp_analytics_ingested_total";
pub const REJECTED_TOTAL: &str = "tmcp_analytics_rejected_total";

#[derive(Debug, Serialize, ToSchema)]
pub struct Accepted {
    /// Items stored.
    pub accepted: usize,
}

/// A lifecycle event. Send one, or `{"events": [...]}` with up to 100.
#[derive(Debug, Serialize, ToSchema)]
pub struct LifecycleEventItem {
    /// `installed`, `updated`, `uninstalled`, `launched` or `closed`.
    #[schema(pattern = "^(installed|updated|uninstalled|launched|closed)$")]
    pub event_type: String,
    #[schema(min_length = 1, max_length = 255)]
    pub device_id: Option<String>,
    /// A JSON object of at most 4096 bytes.
    #[schema(value_type = Option<Object>)]
    pub event_data: Option<Value>,
    /// RFC 3339; default now. At most 5 minutes ahead of the server, at most 7 days old.
    #[schema(format = DateTime)]
    pub timestamp: Option<String>,
}

/// A usage event of a session. Send one, or `{"events": [...]}` with up to 100.
#[derive(Debug, Serialize, ToSchema)]
pub struct UsageEventItem {
    #[schema(min_length = 1, max_length = 255)]
    pub session_id: String,
    /// `session_start`, `session_end` or `feature_used`.
    #[schema(pattern = "^(session_start|session_end|feature_used)$")]
    pub event_type: String,
    #[schema(min_length = 1, max_length = 255)]
    pub device_id: Option<String>,
    /// Client-reported; kept with the event (stats derive lengths from timestamps).
    #[schema(minimum = 0, maximum = 604800)]
    pub duration_seconds: Option<i64>,
    #[schema(value_type = Option<Object>)]
    pub event_data: Option<Value>,
    #[schema(format = DateTime)]
    pub timestamp: Option<String>,
}

/// A performance metric. Send one, or `{"events": [...]}` with up to 100.
#[derive(Debug, Serialize, ToSchema)]
pub struct MetricItem {
    #[schema(min_length = 1, max_length = 50)]
    pub version: String,
    /// `crash_rate` (one session: 0 clean, above 0 crashed; 0–1), `load_time` (ms,
    /// 0–600000), `memory_usage` (MiB, 0–1048576) or `cpu_usage` (percent, 0–10000).
    #[schema(pattern = "^(crash_rate|load_time|memory_usage|cpu_usage)$")]
    pub metric_type: String,
    pub metric_value: f64,
    /// A JSON object of at most 4096 bytes.
    #[schema(value_type = Option<Object>)]
    pub device_info: Option<Value>,
    #[schema(format = DateTime)]
    pub timestamp: Option<String>,
}

async fn ingest(
    state: AppState,
    principal: TepPrincipal,
    kind: Kind,
    body: Box<RawValue>,
) -> Result<(StatusCode, Json<Accepted>), ApiError> {
    let sender = Sender {
        app_id: principal.client_id.clone(),
        user: principal.user_id,
    };
    match ingest::ingest(
        state.db.as_ref(),
        state.clock.as_ref(),
        kind,
        &sender,
        &body,
    )
    .await
    {
        Ok(accepted) => {
            metrics::counter!(INGESTED_TOTAL, "type" => kind.label())
                .increment(u64::try_from(accepted).unwrap_or(0));
            Ok((StatusCode::ACCEPTED, Json(Accepted { accepted })))
        }
        Err(error) => {
            let (reason, items) = match &error {
                AnalyticsError::InvalidItem { reason, items, .. } => (*reason, *items),
                AnalyticsError::UserRequired => ("user_required", 1),
                AnalyticsError::AppNotFound => ("unknown_app", 1),
                _ => ("unavailable", 1),
            };
            metrics::counter!(REJECTED_TOTAL, "type" => kind.label(), "reason" => reason)
                .increment(u64::try_from(items).unwrap_or(0));
            Err(error.into())
        }
    }
}

/// Records lifecycle events of the token's app and user.
#[utoipa::path(post, path = "/api/v1/lifecycle/events", tag = "analytics",
    security(("tep" = [])),
    request_body(content = LifecycleEventItem, description = "one event, or {\"events\": [event, …]} with 1 to 100 events"),
    responses(
        (status = 202, description = "stored", body = Accepted),
        (status = 403, description = "`INSUFFICIENT_PERMISSIONS`: the token has no user", body = ErrorEnvelope),
        (status = 404, description = "`APP_NOT_FOUND`: the token's client is not a registered app", body = ErrorEnvelope),
        (status = 422, description = "`VALIDATION_FAILED`: details name the item `index`, its `fields` and the `reason`; nothing stored", body = ErrorEnvelope)))]
pub async fn events(
    State(state): State<AppState>,
    principal: TepPrincipal,
    ApiJson(body): ApiJson<Box<RawValue>>,
) -> Result<(StatusCode, Json<Accepted>), ApiError> {
    ingest(state, principal, Kind::Lifecycle, body).await
}

/// Records usage events (sessions and features) of the token's app and user.
#[utoipa::path(post, path = "/api/v1/lifecycle/analytics", tag = "analytics",
    security(("tep" = [])),
    request_body(content = UsageEventItem, description = "one event, or {\"events\": [event, …]} with 1 to 100 events"),
    responses(
        (status = 202, description = "stored", body = Accepted),
        (status = 403, description = "`INSUFFICIENT_PERMISSIONS`: the token has no user", body = ErrorEnvelope),
        (status = 404, description = "`APP_NOT_FOUND`: the token's client is not a registered app", body = ErrorEnvelope),
        (status = 422, description = "`VALIDATION_FAILED`: details name the item `index`, its `fields` and the `reason`; nothing stored", body = ErrorEnvelope)))]
pub async fn analytics(
    State(state): State<AppState>,
    principal: TepPrincipal,
    ApiJson(body): ApiJson<Box<RawValue>>,
) -> Result<(StatusCode, Json<Accepted>), ApiError> {
    ingest(state, principal, Kind::Usage, body).await
}

/// Records performance metrics of the token's app.
#[utoipa::path(post, path = "/api/v1/lifecycle/metrics", tag = "analytics",
    security(("tep" = [])),
    request_body(content = MetricItem, description = "one metric, or {\"events\": [metric, …]} with 1 to 100 metrics"),
    responses(
        (status = 202, description = "stored", body = Accepted),
        (status = 404, description = "`APP_NOT_FOUND`: the token's client is not a registered app", body = ErrorEnvelope),
        (status = 422, description = "`VALIDATION_FAILED`: details name the item `index`, its `fields` and the `reason`; nothing stored", body = ErrorEnvelope)))]
pub async fn metrics(
    State(state): State<AppState>,
    principal: TepPrincipal,
    ApiJson(body): ApiJson<Box<RawValue>>,
) -> Result<(StatusCode, Json<Accepted>), ApiError> {
    ingest(state, principal, Kind::Metrics, body).await
}
