//! The envelope that replaces hyper's own answer to a request head it refuses.
//!
//! When hyper cannot parse a head (malformed: 400; target over its fixed 65,534-byte cap:
//! 414; head larger than the read buffer or more than 100 header fields: 431) it writes a
//! bare status line with an empty body and closes the connection; no application code runs.
//! The stream wrapper recognises that write (no application response is pending) and sends
//! this instead, so these answers carry the envelope and an `X-Request-Id` like any other.

use crate::error::ApiError;
use crate::middleware::head_limits::{headers_too_large, uri_too_long};
use axum::http::StatusCode;

/// The status of an HTTP/1.x response head at the start of `written`.
fn status_of(written: &[u8]) -> Option<StatusCode> {
    let rest = written.strip_prefix(b"HTTP/1.")?;
    let code = rest.get(2..5)?;
    if rest.get(1) != Some(&b' ') || !code.iter().all(u8::is_ascii_digit) {
        return None;
    }
    StatusCode::from_bytes(code).ok()
}

fn error_for(status: StatusCode) -> Option<ApiError> {
    match status {
        StatusCode::BAD_REQUEST => Some(ApiError::invalid_request("malformed HTTP request")),
        StatusCode::URI_TOO_LONG => Some(uri_too_long(None)),
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE => Some(headers_too_large(None)),
        _ => None,
    }
}

/// Our answer in place of one of hyper's refusals.
pub(super) struct Replacement {
    pub(super) status: StatusCode,
    pub(super) request_id: String,
    /// The complete response: head and envelope.
    pub(super) bytes: Vec<u8>,
}

/// The response to send instead of hyper's `written` head; `None` when `written` is not
/// one of hyper's refusals.
pub(super) fn replacement(written: &[u8]) -> Option<Replacement> {
    let status = status_of(written)?;
    let error = error_for(status)?;
    let request_id = crate::middleware::request_id::generate();
    // Informational timestamp, as in every envelope.
    #[allow(clippy::disallowed_methods)]
    let now = time::OffsetDateTime::now_utc();
    let body = error.body_for(now, &request_id).to_string();
    let head = format!(
        "HTTP/1.1 {} {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
         x-request-id: {request_id}\r\nconnection: close\r\n\r\n",
        status.as_u16(),
        status.canonical_reason().unwrap_or(""),
        body.len(),
    );
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(body.as_bytes());
    Some(Replacement {
        status,
        request_id,
        bytes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_hyper_refusals_are_replaced() {
        let hyper_head = b"HTTP/1.1 414 URI Too Long\r\ncontent-length: 0\r\n\r\n";
        let refusal = replacement(hyper_head).expect("replaced");
        assert_eq!(refusal.status, StatusCode::URI_TOO_LONG);
        let id = refusal.request_id;
        let text = String::from_utf8(refusal.bytes).expect("utf-8");
        assert!(text.starts_with("HTTP/1.1 414 URI Too Long\r\n"), "{text}");
        assert!(text.contains(&format!("x-request-id: {id}\r\n")), "{text}");
        let (_, body) = text.split_once("\r\n\r\n").expect("head and body");
        let json: serde_json::Value = serde_json::from_str(body).expect("json body");
        assert_eq!(json["error"]["code"], "URI_TOO_LONG");
        assert_eq!(json["error"]["request_id"], id.as_str());
        assert!(text.contains(&format!("content-length: {}\r\n", body.len())));

        assert!(replacement(b"HTTP/1.1 431 Request Header Fields Too Large\r\n\r\n").is_some());
        assert!(replacement(b"HTTP/1.0 400 Bad Request\r\n\r\n").is_some());
        assert!(replacement(b"HTTP/1.1 200 OK\r\n\r\n").is_none());
        assert!(replacement(b"HTTP/1.1 41").is_none());
        assert!(replacement(b"{\"a\":1}").is_none());
    }
}
