//! Size limits of the request line and headers, answered with the envelope (414 / 431).
//!
//! The connection layer (`crate::transport`) lets hyper buffer request heads far larger
//! than these limits, so that realistic oversize requests reach this middleware and get a
//! proper answer (request id, logs, metrics) instead of hyper's bare status line.

use crate::error::ApiError;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// hyper refuses a request target longer than this itself (a constant it does not let us
/// raise); `transport` turns that refusal into the envelope too.
pub const HYPER_MAX_URI_BYTES: usize = 65_534;

/// hyper refuses more header fields than this (its default, kept).
pub const MAX_HEADER_COUNT: usize = 100;

/// Limits checked on every request before routing to a handler.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeadLimits {
    /// Longest accepted request target (path and query) in bytes.
    pub max_uri_bytes: usize,
    /// Largest accepted sum of header lines (`name: value\r\n`) in bytes.
    pub max_header_bytes: usize,
}

impl Default for HeadLimits {
    fn default() -> Self {
        Self {
            max_uri_bytes: 16 * 1024,
            max_header_bytes: 64 * 1024,
        }
    }
}

pub fn uri_too_long(limit: Option<usize>) -> ApiError {
    let error = ApiError::new(
        StatusCode::URI_TOO_LONG,
        "URI_TOO_LONG",
        "request URI is too long",
    );
    match limit {
        Some(limit) => error.with_details(json!({ "limit_bytes": limit })),
        None => error,
    }
}

pub fn headers_too_large(limit: Option<usize>) -> ApiError {
    let error = ApiError::new(
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
        "REQUEST_HEADERS_TOO_LARGE",
        "request headers are too large",
    );
    match limit {
        Some(limit) => {
            error.with_details(json!({ "limit_bytes": limit, "limit_headers": MAX_HEADER_COUNT }))
        }
        None => error,
    }
}

/// Length of the request target as it arrived (origin form, or absolute form with
/// scheme and authority).
fn target_len(request: &Request) -> usize {
    let uri = request.uri();
    let scheme = uri.scheme_str().map_or(0, |s| s.len() + "://".len());
    let authority = uri.authority().map_or(0, |a| a.as_str().len());
    let path = uri.path_and_query().map_or(0, |pq| pq.as_str().len());
    scheme + authority + path
}

fn header_bytes(request: &Request) -> usize {
    request
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + ": \r\n".len())
        .sum()
}

/// The answer for a request whose head breaks `limits`, if it does.
pub fn refusal(limits: &HeadLimits, request: &Request) -> Option<Response> {
    if target_len(request) > limits.max_uri_bytes {
        return Some(uri_too_long(Some(limits.max_uri_bytes)).into_response());
    }
    if header_bytes(request) > limits.max_header_bytes {
        return Some(headers_too_large(Some(limits.max_header_bytes)).into_response());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_measured_as_sent() {
        let request = Request::builder()
            .uri("/a/b?c=d")
            .header("x-one", "12345")
            .body(axum::body::Body::empty())
            .expect("request");
        assert_eq!(target_len(&request), 8);
        assert_eq!(header_bytes(&request), "x-one: 12345\r\n".len());
        let absolute = Request::builder()
            .uri("http://example.com/x")
            .body(axum::body::Body::empty())
            .expect("request");
        assert_eq!(target_len(&absolute), "http://example.com/x".len());
    }
}
