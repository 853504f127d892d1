//! Operational routes: liveness, readiness, metrics, the OpenAPI document and its docs page.

use crate::error::{ApiError, ErrorEnvelope};
use crate::metrics::{
    DB_POOL_CONNECTIONS, DB_POOL_IDLE, DB_REPLICA_LAG, DB_REPLICA_SERVING, REDIS_BREAKER_OPEN,
};
use crate::redis_link::RedisHealth;
use crate::AppState;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use utoipa::ToSchema;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/health", get(health))
        .route("/ready", get(ready))
        .route("/metrics", get(metrics))
}

#[derive(Serialize, ToSchema)]
pub struct Health {
    /// Always `ok` while the process serves requests.
    status: &'static str,
}

/// Liveness: the process is up and serving.
#[utoipa::path(get, path = "/health", tag = "operations",
    responses((status = 200, description = "the process is alive", body = Health)))]
pub async fn health() -> Json<Health> {
    Json(Health { status: "ok" })
}

#[derive(Serialize, ToSchema)]
pub struct Readiness {
    /// `ready`
    status: &'static str,
    /// Database engine in use: `postgres` or `sqlite`.
    database: &'static str,
    /// `ok`, `not_configured`, or `degraded`: Redis is configured but unreachable, and rate
    /// limits are enforced per instance until it answers again.
    redis: &'static str,
    /// The read replica of lag-tolerant reads (`database_replica_url`): `not_configured`,
    /// `ok` (serving those reads), `lagging` (more than 30 s behind: the primary serves
    /// them), `down` (unreachable: the primary serves them) or `unknown` (not probed yet).
    /// Never makes the instance unready.
    replica: &'static str,
}

/// Readiness: the database answers within the timeout. Redis is reported but does not make
/// the instance unready: without it the instance still serves, with rate limits enforced
/// in-process (`"redis": "degraded"`), and taking every instance out of rotation for a
/// shared Redis outage would turn a degradation into a full outage. The read replica is
/// reported the same way: while it is down the primary serves its reads.
#[utoipa::path(get, path = "/ready", tag = "operations", responses(
    (status = 200, description = "serving (Redis may be degraded)", body = Readiness),
    (status = 503, description = "the database is unreachable (`Retry-After`)", body = ErrorEnvelope)))]
pub async fn ready(State(state): State<AppState>) -> Result<Json<Readiness>, ApiError> {
    let timeout = state.settings.readiness_timeout;
    match tokio::time::timeout(timeout, state.db.ping()).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "readiness: database check failed");
            return Err(ApiError::dependency_unavailable("database"));
        }
        Err(_) => return Err(ApiError::dependency_unavailable("database")),
    }
    let redis = match &state.redis {
        None => "not_configured",
        Some(link) => match link.health(timeout).await {
            RedisHealth::Ok => "ok",
            RedisHealth::Degraded => "degraded",
        },
    };
    let replica = match &state.replica {
        None => "not_configured",
        Some(watch) => watch.health.state().as_str(),
    };
    Ok(Json(Readiness {
        status: "ready",
        database: state.db.engine(),
        redis,
        replica,
    }))
}

/// Prometheus text exposition of request and pool metrics.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, description = "Prometheus text format", content_type = "text/plain")))]
pub async fn metrics(State(state): State<AppState>) -> Response {
    let (open, idle) = state.db.pool_stats();
    let engine = state.db.engine();
    metrics::gauge!(DB_POOL_CONNECTIONS, "engine" => engine).set(f64::from(open));
    metrics::gauge!(DB_POOL_IDLE, "engine" => engine).set(f64::from(idle));
    if let Some(link) = &state.redis {
        metrics::gauge!(REDIS_BREAKER_OPEN).set(if link.is_available() { 0.0 } else { 1.0 });
    }
    if let Some(watch) = &state.replica {
        metrics::gauge!(DB_REPLICA_LAG).set(watch.health.lag_seconds());
        let serving = if watch.health.serves_reads() {
            1.0
        } else {
            0.0
        };
        metrics::gauge!(DB_REPLICA_SERVING).set(serving);
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(),
    )
        .into_response()
}

pub async fn not_found() -> ApiError {
    ApiError::not_found("no such route")
}

pub async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "METHOD_NOT_ALLOWED",
        "method not allowed on this route",
    )
}
