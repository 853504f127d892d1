//! Stored values from request bodies: `value` (any JSON), `value_base64`, `content_type`
//! and client timestamps.
//!
//! Asserts: an accepted value is 1 byte to 1 MiB; a JSON string is stored as its text and
//! anything else exactly as sent; what is stored renders back to a value that parses to the
//! same bytes and encoding; accepted base64 is canonical (re-encodes to the same text); an
//! accepted timestamp lies between 1970 and 9999.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::value::RawValue;
use tmcp_domain::storage::value::{encode_base64, ValueEncoding};
use tmcp_domain::storage::MAX_VALUE_BYTES;
use tmcp_usecases::fields::FieldErrors;
use tmcp_usecases::storage::error::StorageError;
use tmcp_usecases::storage::values::{
    parse_timestamp, parse_value, render_value, ParsedValue, ValueInput,
};

fn parse(
    value: Option<&RawValue>,
    value_base64: Option<&str>,
    content_type: Option<&str>,
) -> (Result<Option<ParsedValue>, StorageError>, FieldErrors) {
    let mut errors = FieldErrors::default();
    let input = ValueInput {
        value,
        value_base64,
        content_type,
    };
    (parse_value(&input, "", &mut errors), errors)
}

fn check_size(parsed: &ParsedValue) {
    assert!(!parsed.bytes.is_empty());
    assert!(parsed.bytes.len() as i64 <= MAX_VALUE_BYTES);
}

/// Renders stored bytes and parses the rendering again: same bytes, same encoding.
fn check_round_trip(parsed: &ParsedValue) {
    let rendered = render_value(parsed.encoding, &parsed.bytes);
    let (again, _) = match (&rendered.value, &rendered.value_base64) {
        (Some(value), None) => parse(Some(value), None, None),
        (None, Some(b64)) => parse(None, Some(b64), None),
        other => panic!(
            "rendered both or neither: {other:?}",
            other = (other.0.is_some(), other.1.is_some())
        ),
    };
    let again = again
        .expect("a stored value re-parses")
        .expect("and is accepted");
    assert_eq!(again.bytes, parsed.bytes);
    assert_eq!(again.encoding, parsed.encoding);
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    match mode % 4 {
        // `value`: the JSON text of the field, as the body deserialiser hands it over.
        0 => {
            let Ok(raw) = serde_json::from_str::<Box<RawValue>>(text) else {
                return;
            };
            let (result, errors) = parse(Some(&raw), None, None);
            match result {
                Ok(Some(parsed)) => {
                    assert!(errors.is_empty());
                    check_size(&parsed);
                    if raw.get().starts_with('"') {
                        let s: String = serde_json::from_str(raw.get()).expect("a JSON string");
                        assert_eq!(parsed.encoding, ValueEncoding::Text);
                        assert_eq!(parsed.bytes, s.into_bytes());
                    } else {
                        assert_eq!(parsed.encoding, ValueEncoding::Json);
                        assert_eq!(parsed.bytes, raw.get().as_bytes());
                    }
                    assert_eq!(parsed.content_type, parsed.encoding.default_content_type());
                    check_round_trip(&parsed);
                }
                Ok(None) => assert!(!errors.is_empty()),
                Err(StorageError::ValueTooLarge { size, .. }) => {
                    assert!(size as i64 > MAX_VALUE_BYTES)
                }
                Err(other) => panic!("unexpected error {other:?}"),
            }
        }
        // `value_base64`.
        1 => {
            let (result, errors) = parse(None, Some(text), None);
            match result {
                Ok(Some(parsed)) => {
                    assert!(errors.is_empty());
                    check_size(&parsed);
                    assert_eq!(parsed.encoding, ValueEncoding::Binary);
                    assert_eq!(
                        encode_base64(&parsed.bytes),
                        text,
                        "base64 must be canonical"
                    );
                    check_round_trip(&parsed);
                }
                Ok(None) => assert!(!errors.is_empty()),
                Err(StorageError::ValueTooLarge { size, .. }) => {
                    assert!(size as i64 > MAX_VALUE_BYTES)
                }
                Err(other) => panic!("unexpected error {other:?}"),
            }
        }
        // `content_type` next to a small value.
        2 => {
            let raw = serde_json::from_str::<Box<RawValue>>("1").expect("json");
            let (result, errors) = parse(Some(&raw), None, Some(text));
            // Field problems are collected, not returned: a bad content type leaves the
            // value parsed and names `content_type` in the errors (the caller answers 422).
            let parsed = result.expect("a small value").expect("is accepted");
            assert_eq!(parsed.content_type, text);
            let valid = !text.is_empty()
                && text.len() <= 100
                && text.contains('/')
                && text.bytes().all(|b| (0x20..0x7f).contains(&b));
            assert_eq!(errors.is_empty(), valid, "{text:?}");
        }
        // `client_timestamp`: a JSON number.
        _ => {
            let Ok(number) = serde_json::from_str::<serde_json::Number>(text) else {
                return;
            };
            let mut errors = FieldErrors::default();
            match parse_timestamp(Some(&number), "t", &mut errors) {
                Some(at) => {
                    assert!(errors.is_empty());
                    assert!((0..=253_402_300_799).contains(&at.unix_timestamp()));
                }
                None => assert!(!errors.is_empty()),
            }
        }
    }
});
