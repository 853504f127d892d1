//! One rule for all request text, applied before any handler runs: text must be UTF-8 and
//! must not contain U+0000. PostgreSQL cannot store NUL in `text`, `varchar` or `jsonb`
//! ("invalid byte sequence for encoding UTF8: 0x00"), so a NUL that reached a query would
//! answer 500 on one engine and 4xx on the other; lossy decoders (query strings, forms)
//! would otherwise turn invalid UTF-8 into U+FFFD silently.
//!
//! The rule is checked wherever text can hide in a request:
//! - the URL path and query string, after percent-decoding;
//! - every body as sent (UTF-8, no NUL byte), including NUL written as the JSON escape
//!   `\u0000` — whatever a handler later parses the body as;
//! - form bodies (`application/x-www-form-urlencoded`) also after percent-decoding.
//!
//! Header values cannot carry NUL (the HTTP parser refuses control bytes) and handlers read
//! them with `HeaderValue::to_str` (visible ASCII only). The one header whose content is
//! decoded into text, `Authorization: Basic` on the OAuth endpoints, checks [`clean_text`]
//! itself.
//!
//! Routes that stream their body ([`STREAMED_BODY_ROUTES`]: package uploads, whose files are
//! binary) are not buffered here; they check their own text fields.
//!
//! A refusal is 400: `INVALID_REQUEST` in the envelope with `details.location` (`path`,
//! `query` or `body`), or RFC 6749 `invalid_request` on `/oauth2/*`.

use crate::error::oauth::OAuthError;
use crate::error::ApiError;
use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{FromRequest, Request};
use axum::http::{header, HeaderMap, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use percent_encoding::percent_decode;
use serde_json::json;
use std::borrow::Cow;

/// Where the offending text was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Location {
    Path,
    Query,
    Body,
}

impl Location {
    fn as_str(self) -> &'static str {
        match self {
            Self::Path => "path",
            Self::Query => "query",
            Self::Body => "body",
        }
    }
}

/// Decoded text the server accepts: no NUL.
pub fn clean_text(text: &str) -> bool {
    !text.contains('\0')
}

/// Raw bytes the server accepts as text: UTF-8 without NUL.
fn clean_bytes(bytes: &[u8]) -> bool {
    !bytes.contains(&0) && std::str::from_utf8(bytes).is_ok()
}

/// Percent-encoded text (path, query, form): clean once decoded. Decoding the whole string
/// at once is exact: separators (`/`, `&`, `=`) are ASCII and never part of a multi-byte
/// sequence, so the whole is valid UTF-8 exactly when every decoded piece is.
fn clean_percent_encoded(raw: &[u8]) -> bool {
    let decoded: Cow<'_, [u8]> = percent_decode(raw).into();
    clean_bytes(&decoded)
}

/// True when `bytes` contain the JSON escape `\u0000`. A backslash always starts a two-byte
/// escape, so skipping the escaped byte keeps `\\u0000` (an escaped backslash followed by
/// the text `u0000`) from counting.
fn has_nul_escape(bytes: &[u8]) -> bool {
    let mut at = 0;
    while let Some(found) = bytes.get(at..).and_then(|rest| memchr::memchr(b'\\', rest)) {
        let slash = at + found;
        if bytes.get(slash + 1..slash + 6) == Some(b"u0000".as_slice()) {
            return true;
        }
        at = slash + 2;
    }
    false
}

fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|mime| {
            mime.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
}

/// The first place in the URL that breaks the rule.
pub fn check_uri(uri: &Uri) -> Result<(), Location> {
    if !clean_percent_encoded(uri.path().as_bytes()) {
        return Err(Location::Path);
    }
    if !uri
        .query()
        .is_none_or(|q| clean_percent_encoded(q.as_bytes()))
    {
        return Err(Location::Query);
    }
    Ok(())
}

/// Whether a body breaks the rule.
pub fn check_body(bytes: &[u8], form: bool) -> Result<(), Location> {
    let clean =
        clean_bytes(bytes) && !has_nul_escape(bytes) && (!form || clean_percent_encoded(bytes));
    if clean {
        Ok(())
    } else {
        Err(Location::Body)
    }
}

/// Routes (as matched, for `POST`) whose bodies are streamed by their handler and never
/// buffered here: `multipart/form-data` uploads with a binary part. Their handlers check
/// each text field by the same rule.
pub const STREAMED_BODY_ROUTES: &[&str] = &["/api/v1/developer/apps/{app_id}/versions"];

fn streams_body(request: &Request) -> bool {
    request.method() == axum::http::Method::POST
        && request
            .extensions()
            .get::<axum::extract::MatchedPath>()
            .is_some_and(|path| STREAMED_BODY_ROUTES.contains(&path.as_str()))
}

fn is_oauth(uri: &Uri) -> bool {
    uri.path().starts_with("/oauth2/")
}

fn refusal_message(location: Location) -> String {
    format!(
        "request text must be UTF-8 without NUL characters (in the {})",
        location.as_str()
    )
}

/// The envelope's refusal of text that breaks the rule, for handlers that check text the
/// middleware does not see (the text parts of a streamed multipart body).
pub fn text_refusal(location: Location) -> ApiError {
    ApiError::invalid_request(refusal_message(location))
        .with_details(json!({ "location": location.as_str() }))
}

/// Whether raw bytes are text the server accepts: UTF-8 without NUL.
pub fn is_clean_text(bytes: &[u8]) -> bool {
    clean_bytes(bytes)
}

fn refusal(oauth: bool, location: Location) -> Response {
    if oauth {
        OAuthError::invalid_request(refusal_message(location)).into_response()
    } else {
        text_refusal(location).into_response()
    }
}

fn body_unreadable(oauth: bool, status: StatusCode) -> Response {
    match (status == StatusCode::PAYLOAD_TOO_LARGE, oauth) {
        (true, true) => {
            OAuthError::new(status, "invalid_request", "request body is too large").into_response()
        }
        (true, false) => {
            ApiError::new(status, "PAYLOAD_TOO_LARGE", "request body is too large").into_response()
        }
        (false, true) => {
            OAuthError::invalid_request("request body could not be read").into_response()
        }
        (false, false) => {
            ApiError::invalid_request("request body could not be read").into_response()
        }
    }
}

/// The middleware: refuses a request whose text breaks the rule, otherwise passes it on
/// with its body buffered (handlers buffer bodies anyway; the configured body limit applies
/// here as it would in the handler's extractor).
pub async fn check(request: Request, next: Next) -> Response {
    let oauth = is_oauth(request.uri());
    if let Err(location) = check_uri(request.uri()) {
        return refusal(oauth, location);
    }
    if request.body().size_hint().exact() == Some(0) || streams_body(&request) {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    // The body limit (`DefaultBodyLimit`) travels in the request's extensions.
    let mut probe = Request::new(body);
    *probe.extensions_mut() = parts.extensions.clone();
    let bytes = match Bytes::from_request(probe, &()).await {
        Ok(bytes) => bytes,
        Err(rejection) => return body_unreadable(oauth, rejection.status()),
    };
    if let Err(location) = check_body(&bytes, is_form(&parts.headers)) {
        return refusal(oauth, location);
    }
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nul_escapes_are_found_but_escaped_backslashes_are_not() {
        assert!(has_nul_escape(br#"{"a":"\u0000"}"#));
        assert!(has_nul_escape(br#"{"a":"x\\\u0000"}"#));
        assert!(!has_nul_escape(br#"{"a":"\\u0000"}"#));
        assert!(!has_nul_escape(br"\u000"));
        assert!(!has_nul_escape(br#"{"a":"\u0001 \n \\"}"#));
        assert!(!has_nul_escape(b"\\"));
        assert!(!has_nul_escape(b""));
    }

    #[test]
    fn bodies_must_be_utf8_without_nul_in_any_spelling() {
        assert_eq!(check_body(br#"{"login":"alice"}"#, false), Ok(()));
        assert_eq!(
            check_body(br#"{"login":"al\u0000ice"}"#, false),
            Err(Location::Body)
        );
        assert_eq!(check_body(b"{\"a\":\"\0\"}", false), Err(Location::Body));
        assert_eq!(check_body(b"{\"a\":\"\xff\"}", false), Err(Location::Body));
        // A JSON body may contain percent signs: only forms are percent-decoded.
        assert_eq!(check_body(br#"{"v":"100%00 and %FF"}"#, false), Ok(()));
        assert_eq!(check_body(b"client_id=ma_x&scope=a+b", true), Ok(()));
        assert_eq!(check_body(b"client_id=ma%00x", true), Err(Location::Body));
        assert_eq!(check_body(b"client_id=ma%FFx", true), Err(Location::Body));
        assert_eq!(check_body(b"client_id=%C3%A9", true), Ok(()));
    }

    #[test]
    fn paths_and_queries_are_checked_after_decoding() {
        let uri = |s: &str| s.parse::<Uri>().expect("uri");
        assert_eq!(
            check_uri(&uri("/api/v1/storage/a%2Fb?prefix=%C3%A9")),
            Ok(())
        );
        assert_eq!(check_uri(&uri("/api/v1/devices/%00x")), Err(Location::Path));
        assert_eq!(check_uri(&uri("/api/v1/storage/%FF")), Err(Location::Path));
        assert_eq!(
            check_uri(&uri("/api/v1/storage?prefix=%00")),
            Err(Location::Query)
        );
        assert_eq!(
            check_uri(&uri("/api/v1/storage?prefix=%E9")),
            Err(Location::Query)
        );
        // A malformed escape is not a character; it stays literal text.
        assert_eq!(check_uri(&uri("/x?a=%zz")), Ok(()));
    }

    #[test]
    fn decoded_text_must_not_contain_nul() {
        assert!(clean_text("ma_app"));
        assert!(!clean_text("ma\0app"));
    }
}
