//! Makes every error answer use the envelope, including the ones produced outside handlers
//! (timeouts, body limits, panics, axum's own rejections).

use crate::error::ApiError;
use axum::body::Body;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use std::any::Any;

/// Answers that already have a body meant for their client: JSON (the envelope, OAuth
/// errors) and the HTML pages of the OAuth flows.
fn is_json(response: &Response) -> bool {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json") || v.starts_with("text/html"))
}

/// An envelope for a bare error status.
fn envelope_for(status: StatusCode) -> ApiError {
    match status {
        StatusCode::NOT_FOUND => ApiError::not_found("no such route"),
        StatusCode::METHOD_NOT_ALLOWED => ApiError::new(
            status,
            "METHOD_NOT_ALLOWED",
            "method not allowed on this route",
        ),
        StatusCode::PAYLOAD_TOO_LARGE => {
            ApiError::new(status, "PAYLOAD_TOO_LARGE", "request body is too large")
        }
        StatusCode::REQUEST_TIMEOUT => {
            ApiError::new(status, "REQUEST_TIMEOUT", "request took too long")
        }
        StatusCode::URI_TOO_LONG => super::head_limits::uri_too_long(None),
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE => super::head_limits::headers_too_large(None),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => {
            ApiError::new(status, "INVALID_REQUEST", "unsupported content type")
        }
        s if s.is_server_error() => ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "INTERNAL_ERROR",
            "internal server error",
        ),
        s => ApiError::new(
            s,
            "INVALID_REQUEST",
            s.canonical_reason().unwrap_or("bad request"),
        ),
    }
}

/// A bare error answer (no JSON or HTML body: timeouts, body limits, axum's rejections)
/// rewritten as the envelope; every other answer unchanged.
pub fn wrap_bare_error(response: Response) -> Response {
    let status = response.status();
    if (status.is_client_error() || status.is_server_error()) && !is_json(&response) {
        let mut rewritten = envelope_for(status).into_response();
        // Keep headers such as Allow or Retry-After that explain the error.
        for (name, value) in response.headers() {
            if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
                rewritten
                    .headers_mut()
                    .entry(name.clone())
                    .or_insert(value.clone());
            }
        }
        return rewritten;
    }
    response
}

/// A panic in a handler answers 500 `INTERNAL_ERROR`; the panic text goes only to the log.
pub fn panic_response(payload: Box<dyn Any + Send + 'static>) -> Response<Body> {
    let detail = payload
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| payload.downcast_ref::<&str>().copied())
        .unwrap_or("unknown panic");
    ApiError::internal(format!("handler panicked: {detail}")).into_response()
}
