//! The error envelope of the TMCP protocol §0. Every non-OAuth error answers
//! `{"error":{"code","message","details","timestamp","request_id"}}`.

use crate::middleware::request_id::current_request_id;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;
use tmcp_repository::RepoError;
use utoipa::ToSchema;

/// `Retry-After` (seconds) of a 503 for an unreachable dependency: about the time a
/// restarting database or a failover needs, so a client's next try has a fair chance.
pub const UNAVAILABLE_RETRY_AFTER_SECS: u64 = 5;

/// An error answer: status, stable code, human message and optional details.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub details: Value,
    /// Extra response headers (e.g. `Retry-After` on 429).
    pub headers: Vec<(&'static str, String)>,
}

/// Wire shape of the error envelope (for the OpenAPI document).
#[derive(Serialize, ToSchema)]
pub struct ErrorEnvelope {
    pub error: ErrorBody,
}

#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    /// Stable UPPER_SNAKE code, e.g. `VALIDATION_FAILED`.
    pub code: String,
    pub message: String,
    #[schema(value_type = Object)]
    pub details: Value,
    /// RFC 3339 UTC time of the answer.
    pub timestamp: String,
    /// Same value as the `X-Request-Id` header.
    pub request_id: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            details: json!({}),
            headers: Vec::new(),
        }
    }

    pub fn with_details(mut self, details: Value) -> Self {
        self.details = details;
        self
    }

    pub fn invalid_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "INVALID_REQUEST", message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "NOT_FOUND", message)
    }

    pub fn payload_too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "PAYLOAD_TOO_LARGE",
            "request body is too large",
        )
        .with_details(json!({ "limit_bytes": limit }))
    }

    pub fn service_unavailable(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "SERVICE_UNAVAILABLE",
            message,
        )
    }

    /// 503 for a dependency (`database`, `redis`) that cannot be reached right now, with
    /// `Retry-After` so clients back off instead of hammering a recovering service.
    pub fn dependency_unavailable(dependency: &str) -> Self {
        let mut error = Self::service_unavailable(format!(
            "the {dependency} is temporarily unavailable; try again later"
        ))
        .with_details(json!({ "dependency": dependency }));
        error
            .headers
            .push(("retry-after", UNAVAILABLE_RETRY_AFTER_SECS.to_string()));
        error
    }

    /// A failure that is ours, not the client's. The cause is logged with the request id and
    /// never sent to the client.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(request_id = %current_request_id(), error = %cause, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "INTERNAL_ERROR",
            "internal server error",
        )
    }

    /// The JSON body for this error, stamped with the current request id.
    pub fn body(&self, timestamp: time::OffsetDateTime) -> Value {
        self.body_for(timestamp, &current_request_id())
    }

    /// The JSON body for this error with an explicit request id (for answers written outside
    /// a request's task, such as the connection layer's).
    pub fn body_for(&self, timestamp: time::OffsetDateTime, request_id: &str) -> Value {
        json!({
            "error": {
                "code": self.code,
                "message": self.message,
                "details": self.details,
                "timestamp": timestamp.format(&Rfc3339).unwrap_or_default(),
                "request_id": request_id,
            }
        })
    }
}

impl From<RepoError> for ApiError {
    fn from(error: RepoError) -> Self {
        match error {
            RepoError::Conflict { constraint } => Self::new(
                StatusCode::CONFLICT,
                "CONFLICT",
                "the resource already exists",
            )
            .with_details(json!({ "constraint": constraint })),
            RepoError::Unavailable(cause) => {
                // Expected during an outage: a warning per request, not an internal error.
                tracing::warn!(request_id = %current_request_id(), error = %cause, "database unavailable");
                Self::dependency_unavailable("database")
            }
            other => Self::internal(other),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        // The envelope's timestamp is informational; the wall clock is fine here.
        #[allow(clippy::disallowed_methods)]
        let now = time::OffsetDateTime::now_utc();
        let mut response = (self.status, axum::Json(self.body(now))).into_response();
        for (name, value) in &self.headers {
            if let Ok(value) = HeaderValue::from_str(value) {
                response.headers_mut().insert(*name, value);
            }
        }
        if self.status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

mod accounts;
mod analytics;
pub mod oauth;
pub mod payments;
mod storage;
mod store;
mod wallet;
pub use accounts::{field_errors, login_error};
