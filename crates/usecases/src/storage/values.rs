//! Stored values: turning a request's value fields into bytes (and refusing what the rules
//! do not allow), TTLs, metadata and client timestamps, and rendering stored bytes back.

use super::error::StorageError;
use crate::fields::FieldErrors;
use serde_json::value::RawValue;
use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use tmcp_domain::storage::value::{
    check_content_type, check_metadata, check_ttl, check_value_size, decode_base64, encode_base64,
    InvalidValue, StoredValue, ValueEncoding,
};

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
) -> Result<Option<ParsedValue>, StorageError> {
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
            return Err(StorageError::ValueTooLarge {
                field: format!("{prefix}{field}"),
                size,
                max,
            });
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

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(text: &str) -> Box<RawValue> {
        RawValue::from_string(text.to_owned()).expect("valid JSON")
    }

    fn value(text: &str) -> (Result<Option<ParsedValue>, StorageError>, FieldErrors) {
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
