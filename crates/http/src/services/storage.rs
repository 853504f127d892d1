//! The storage service: what sits between the wire (the TMCP protocol §3) and `StorageRepository`.
//! Who may call (TEP scopes, user and app only from the token), rate limits, parsing and
//! validating keys and values, rendering stored values, and mapping repository outcomes to
//! the error codes of the TMCP protocol §0. Handlers in `routes::storage` stay thin.

use crate::auth::TepPrincipal;
use crate::error::ApiError;
use crate::ratelimit::RateDecision;
use crate::AppState;
use axum::body::Bytes;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use tmcp_domain::storage::value::{
    check_content_type, check_metadata, check_ttl, check_value_size, decode_base64, encode_base64,
    InvalidValue, StoredValue, ValueEncoding,
};
use tmcp_domain::storage::{InvalidStorageKey, StorageKey};
use tmcp_domain::{AppId, UserId};
use tmcp_repository::{RepoError, WriteContext};

pub use tmcp_usecases::storage::{StorageSettings, SCOPE_READ, SCOPE_WRITE};

/// The (user, app) a storage call acts for: taken from the TEP only.
#[derive(Debug, Clone)]
pub struct Caller {
    pub user: UserId,
    pub app: AppId,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteClass {
    Single,
    Batch,
}

/// Checks the scope, that the token speaks for a user and a mini-app, and takes one request
/// from the (user, app)'s bucket of the route class.
pub async fn admit(
    state: &AppState,
    principal: &TepPrincipal,
    scope: &str,
    class: RouteClass,
) -> Result<(Caller, RateDecision), ApiError> {
    principal.require_scope(scope)?;
    let user = principal.require_user()?;
    let app = principal.app_id()?;
    let settings = &state.settings.storage;
    let rule = match class {
        RouteClass::Single => &settings.rate,
        RouteClass::Batch => &settings.batch_rate,
    };
    let decision = state.limiter.check(rule, &format!("{user}:{app}")).await?;
    Ok((Caller { user, app }, decision))
}

/// Answers with the rate-limit headers, success or error alike.
pub fn respond(decision: &RateDecision, result: Result<Response, ApiError>) -> Response {
    let mut response = result.unwrap_or_else(IntoResponse::into_response);
    decision.apply_headers(response.headers_mut());
    response
}

/// The clock and the configured limits of the caller's app.
pub fn context(state: &AppState, app: &AppId) -> WriteContext {
    WriteContext {
        now: state.clock.now(),
        limits: state.settings.storage.quotas.for_app(app),
    }
}

/// Repository errors in API terms.
pub fn repo_error(error: RepoError) -> ApiError {
    match error {
        RepoError::QuotaExceeded(usage) => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "STORAGE_QUOTA_EXCEEDED",
            "the write would exceed this app's storage quota",
        )
        .with_details(json!({
            "used_bytes": usage.used_bytes,
            "total_bytes": usage.total_bytes,
            "used_keys": usage.used_keys,
            "total_keys": usage.total_keys,
        })),
        other => ApiError::from(other),
    }
}

pub fn version_conflict(key: &str, current_version: Option<i64>) -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "VERSION_CONFLICT",
        "the stored version does not match the precondition",
    )
    .with_details(json!({ "key": key, "current_version": current_version }))
}

pub fn key_not_found(key: &str) -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "KEY_NOT_FOUND", "no such key").with_details(json!({
        "key": key
    }))
}

/// Field errors collected while validating a request; 422 `VALIDATION_FAILED`.
#[derive(Debug, Default)]
pub struct FieldErrors(BTreeMap<String, String>);

impl FieldErrors {
    pub fn add(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.entry(field.into()).or_insert_with(|| message.into());
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `Ok` if nothing was collected, else the 422 answer.
    pub fn check(self) -> Result<(), ApiError> {
        if self.0.is_empty() {
            return Ok(());
        }
        Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "VALIDATION_FAILED",
            "the request has invalid fields",
        )
        .with_details(json!({ "fields": self.0 })))
    }
}

/// A key from the URL or a body: 1–256 bytes of UTF-8 without control characters.
pub fn parse_key(raw: &str, field: &str, errors: &mut FieldErrors) -> Option<StorageKey> {
    collect_key(StorageKey::parse(raw), field, errors)
}

/// A key a write stores (PUT, batch set, sync push set): also refuses the reserved first
/// segments (`quota`, `batch`, `sync`, `conflicts`), naming them in the field error.
pub fn parse_writable_key(raw: &str, field: &str, errors: &mut FieldErrors) -> Option<StorageKey> {
    collect_key(StorageKey::parse_writable(raw), field, errors)
}

fn collect_key(
    parsed: Result<StorageKey, InvalidStorageKey>,
    field: &str,
    errors: &mut FieldErrors,
) -> Option<StorageKey> {
    match parsed {
        Ok(key) => Some(key),
        Err(e) => {
            errors.add(field, e.to_string());
            None
        }
    }
}

/// A key alone (URL path): 422 with `details.fields.key` when invalid.
pub fn path_key(raw: &str) -> Result<StorageKey, ApiError> {
    let mut errors = FieldErrors::default();
    let key = parse_key(raw, "key", &mut errors);
    errors.check()?;
    key.ok_or_else(|| ApiError::internal("key parse produced nothing"))
}

/// A validated value ready to store.
#[derive(Debug, Clone)]
pub struct ParsedValue {
    pub bytes: Vec<u8>,
    pub encoding: ValueEncoding,
    pub content_type: String,
}

/// The value fields of a request (`value` or `value_base64`, `content_type`).
pub struct ValueInput<'a> {
    pub value: Option<&'a RawValue>,
    pub value_base64: Option<&'a str>,
    pub content_type: Option<&'a str>,
}

/// Turns the value fields into bytes: a JSON string becomes its UTF-8 text, any other JSON
/// value its JSON text exactly as sent, `value_base64` its decoded bytes. Field problems go
/// to `errors` (prefixed with `prefix`, e.g. `items[3].`); a value over 1 MiB is 413
/// `PAYLOAD_TOO_LARGE`.
pub fn parse_value(
    input: &ValueInput<'_>,
    prefix: &str,
    errors: &mut FieldErrors,
) -> Result<Option<ParsedValue>, ApiError> {
    let parsed = match (input.value, input.value_base64) {
        (Some(_), Some(_)) => {
            errors.add(
                format!("{prefix}value"),
                "give either value or value_base64, not both",
            );
            None
        }
        (None, None) => {
            errors.add(
                format!("{prefix}value"),
                "value or value_base64 is required",
            );
            None
        }
        (Some(raw), None) => {
            let text = raw.get();
            if text.starts_with('"') {
                match serde_json::from_str::<String>(text) {
                    Ok(s) => Some((s.into_bytes(), ValueEncoding::Text)),
                    Err(_) => {
                        errors.add(format!("{prefix}value"), "invalid JSON string");
                        None
                    }
                }
            } else {
                Some((text.as_bytes().to_vec(), ValueEncoding::Json))
            }
        }
        (None, Some(encoded)) => match decode_base64(encoded) {
            Some(bytes) => Some((bytes, ValueEncoding::Binary)),
            None => {
                errors.add(
                    format!("{prefix}value_base64"),
                    "must be standard base64 with padding",
                );
                None
            }
        },
    };
    if let Some(content_type) = input.content_type {
        if let Err(message) = check_content_type(content_type) {
            errors.add(format!("{prefix}content_type"), message);
        }
    }
    let Some((bytes, encoding)) = parsed else {
        return Ok(None);
    };
    match check_value_size(&bytes) {
        Ok(()) => {}
        Err(InvalidValue::Empty) => {
            errors.add(
                format!("{prefix}value"),
                "value must not be empty (at least 1 byte)",
            );
            return Ok(None);
        }
        Err(InvalidValue::TooLarge { size, max }) => {
            let field = if encoding == ValueEncoding::Binary {
                "value_base64"
            } else {
                "value"
            };
            return Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "PAYLOAD_TOO_LARGE",
                format!("the value is {size} bytes; at most {max} are allowed"),
            )
            .with_details(json!({
                "field": format!("{prefix}{field}"),
                "size": size,
                "max_bytes": max,
            })));
        }
    }
    let content_type = input
        .content_type
        .map_or_else(|| encoding.default_content_type().to_owned(), str::to_owned);
    Ok(Some(ParsedValue {
        bytes,
        encoding,
        content_type,
    }))
}

pub fn parse_ttl(ttl: Option<i64>, field: &str, errors: &mut FieldErrors) -> Option<i64> {
    let ttl = ttl?;
    match check_ttl(ttl) {
        Ok(()) => Some(ttl),
        Err(message) => {
            errors.add(field, message);
            None
        }
    }
}

pub fn parse_metadata(metadata: Option<Value>, field: &str, errors: &mut FieldErrors) -> Value {
    match metadata {
        None => json!({}),
        Some(value) => match check_metadata(&value) {
            Ok(()) => value,
            Err(message) => {
                errors.add(field, message);
                json!({})
            }
        },
    }
}

/// Unix seconds (a JSON number, fraction allowed, microseconds kept) between 1970 and 9999.
pub fn parse_timestamp(
    raw: Option<&serde_json::Number>,
    field: &str,
    errors: &mut FieldErrors,
) -> Option<OffsetDateTime> {
    let raw = raw?;
    let micros = if let Some(whole) = raw.as_i64() {
        i128::from(whole).checked_mul(1_000_000)
    } else {
        raw.as_f64()
            .filter(|f| f.is_finite())
            // Bounded below before the cast, so the conversion cannot overflow.
            .filter(|f| (0.0..=253_402_300_799.0).contains(f))
            .map(|f| {
                #[allow(clippy::cast_possible_truncation)]
                let micros = (f * 1_000_000.0).round() as i128;
                micros
            })
    };
    let at = micros
        .filter(|m| (0..=253_402_300_799_000_000).contains(m))
        .and_then(|m| OffsetDateTime::from_unix_timestamp_nanos(m * 1000).ok());
    if at.is_none() {
        errors.add(
            field,
            "must be Unix seconds (a number) between 0 and 253402300799",
        );
    }
    at
}

/// A stored value on the wire: `value` for text and JSON, `value_base64` for binary.
pub struct RenderedValue {
    pub value: Option<Box<RawValue>>,
    pub value_base64: Option<String>,
}

pub fn render_value(encoding: ValueEncoding, bytes: &[u8]) -> RenderedValue {
    let as_value = match encoding {
        ValueEncoding::Text => std::str::from_utf8(bytes)
            .ok()
            .and_then(|s| serde_json::to_string(s).ok())
            .and_then(|quoted| RawValue::from_string(quoted).ok()),
        ValueEncoding::Json => String::from_utf8(bytes.to_vec())
            .ok()
            .and_then(|text| RawValue::from_string(text).ok()),
        ValueEncoding::Binary => None,
    };
    match as_value {
        Some(value) => RenderedValue {
            value: Some(value),
            value_base64: None,
        },
        // Binary, or (never expected) stored text that does not decode: base64 is exact.
        None => RenderedValue {
            value: None,
            value_base64: Some(encode_base64(bytes)),
        },
    }
}

/// A value recorded in a sync result or conflict, as a JSON object
/// `{value | value_base64, content_type}`.
pub fn stored_value_json(value: &StoredValue) -> Value {
    let rendered = render_value(value.encoding, &value.bytes);
    let mut object = serde_json::Map::new();
    if let Some(raw) = rendered.value {
        // A RawValue always holds valid JSON text.
        object.insert(
            "value".into(),
            serde_json::from_str(raw.get()).unwrap_or(Value::Null),
        );
    }
    if let Some(b64) = rendered.value_base64 {
        object.insert("value_base64".into(), Value::String(b64));
    }
    object.insert(
        "content_type".into(),
        Value::String(value.content_type.clone()),
    );
    Value::Object(object)
}

/// RFC 3339 UTC text.
pub fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&Rfc3339).unwrap_or_default()
}

/// Parses a JSON body after the caller has been admitted (so a token without the scope
/// learns nothing from body validation): needs `Content-Type: application/json`; malformed
/// JSON → 400 `INVALID_REQUEST`; wrong shape → 422 `VALIDATION_FAILED`.
pub fn parse_body<T: DeserializeOwned>(headers: &HeaderMap, body: &Bytes) -> Result<T, ApiError> {
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|mime| {
            let mime = mime.trim();
            mime.eq_ignore_ascii_case("application/json")
                || (mime.starts_with("application/") && mime.ends_with("+json"))
        });
    if !is_json {
        return Err(ApiError::invalid_request(
            "expected Content-Type: application/json",
        ));
    }
    axum::Json::<T>::from_bytes(body)
        .map(|axum::Json(value)| value)
        .map_err(crate::extract::json_rejection)
}

/// Deletes all of a user's storage for an app and resets its quota (app uninstall, account
/// deletion). Returns how many live entries were deleted.
pub async fn delete_all_for_app(
    state: &AppState,
    user: UserId,
    app: &AppId,
) -> Result<u64, ApiError> {
    let ctx = context(state, app);
    state
        .db
        .delete_all_for_app(user, app, &ctx)
        .await
        .map_err(repo_error)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(text: &str) -> Box<RawValue> {
        RawValue::from_string(text.to_owned()).expect("valid JSON")
    }

    fn value(text: &str) -> (Result<Option<ParsedValue>, ApiError>, FieldErrors) {
        let raw = raw(text);
        let mut errors = FieldErrors::default();
        let input = ValueInput {
            value: Some(&raw),
            value_base64: None,
            content_type: None,
        };
        (parse_value(&input, "", &mut errors), errors)
    }

    #[test]
    fn json_strings_are_stored_as_text_and_other_values_as_sent() {
        let (parsed, errors) = value(r#""h\u00e9llo""#);
        let parsed = parsed.expect("ok").expect("value");
        assert!(errors.is_empty());
        assert_eq!(parsed.bytes, "héllo".as_bytes());
        assert_eq!(
            (parsed.encoding, parsed.content_type.as_str()),
            (ValueEncoding::Text, "text/plain")
        );
        let (parsed, _) = value(r#"{"b": 1, "a": [true, null]}"#);
        let parsed = parsed.expect("ok").expect("value");
        assert_eq!(parsed.bytes, br#"{"b": 1, "a": [true, null]}"#);
        assert_eq!(parsed.content_type, "application/json");
        let rendered = render_value(parsed.encoding, &parsed.bytes);
        assert_eq!(
            rendered.value.map(|v| v.get().to_owned()),
            Some(r#"{"b": 1, "a": [true, null]}"#.to_owned())
        );
        let rendered = render_value(ValueEncoding::Text, "a\"b\n".as_bytes());
        assert_eq!(
            rendered.value.map(|v| v.get().to_owned()),
            Some(r#""a\"b\n""#.to_owned())
        );
        let (parsed, errors) = value(r#""""#);
        assert!(parsed.expect("ok").is_none());
        assert!(!errors.is_empty(), "empty values are refused");
    }

    #[test]
    fn timestamps_are_unix_seconds() {
        let mut errors = FieldErrors::default();
        let n = serde_json::Number::from(1_764_064_800_i64);
        let at = parse_timestamp(Some(&n), "t", &mut errors).expect("valid");
        assert_eq!(at.unix_timestamp(), 1_764_064_800);
        let n = serde_json::Number::from_f64(1.5).expect("finite");
        let at = parse_timestamp(Some(&n), "t", &mut errors).expect("valid");
        assert_eq!(at.unix_timestamp_nanos(), 1_500_000_000);
        assert!(errors.is_empty());
        let n = serde_json::Number::from(-1);
        assert!(parse_timestamp(Some(&n), "t", &mut errors).is_none());
        let n = serde_json::Number::from(i64::MAX);
        assert!(parse_timestamp(Some(&n), "t2", &mut errors).is_none());
        assert!(!errors.is_empty());
    }
}
