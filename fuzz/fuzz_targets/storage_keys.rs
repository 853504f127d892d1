//! Storage keys (URL path and bodies), `If-Match` headers and content types.
//!
//! Asserts: a key is accepted exactly when it is 1–256 bytes without control characters,
//! an accepted key round-trips unchanged, the writable rule refuses exactly the reserved
//! first segments, and a parsed `If-Match` version renders to an ETag that parses back.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tmcp_domain::storage::value::{check_content_type, etag, ExpectedVersion};
use tmcp_domain::storage::{InvalidStorageKey, StorageKey, RESERVED_KEY_SEGMENTS};
use tmcp_usecases::storage::keys::path_key;

fuzz_target!(|data: &[u8]| {
    // Keys reach the parser as text (percent-decoded path or JSON string).
    let Ok(raw) = std::str::from_utf8(data) else {
        return;
    };

    let parsed = StorageKey::parse(raw);
    let too_long_or_empty = raw.is_empty() || raw.len() > 256;
    let has_control = raw.chars().any(char::is_control);
    match &parsed {
        Ok(key) => {
            assert!(!too_long_or_empty && !has_control, "accepted {raw:?}");
            assert_eq!(key.as_str(), raw);
            assert_eq!(StorageKey::parse(&key.to_string()).as_ref(), Ok(key));
        }
        Err(InvalidStorageKey::Length) => assert!(too_long_or_empty),
        Err(InvalidStorageKey::ControlCharacter) => assert!(!too_long_or_empty && has_control),
        Err(InvalidStorageKey::Reserved(_)) => panic!("parse never checks reservation"),
    }
    assert_eq!(path_key(raw).is_ok(), parsed.is_ok());

    let first_segment = raw.split('/').next().unwrap_or_default();
    let reserved = RESERVED_KEY_SEGMENTS.contains(&first_segment);
    match StorageKey::parse_writable(raw) {
        Ok(key) => {
            assert!(parsed.is_ok() && !reserved);
            assert_eq!(key.reserved_segment(), None);
        }
        Err(InvalidStorageKey::Reserved(segment)) => {
            assert!(parsed.is_ok() && reserved);
            assert_eq!(segment, first_segment);
        }
        Err(other) => assert_eq!(parsed, Err(other)),
    }

    match ExpectedVersion::parse_if_match(raw) {
        Some(ExpectedVersion::Version(v)) => {
            assert!(v >= 1);
            assert_eq!(
                ExpectedVersion::parse_if_match(&etag(v)),
                Some(ExpectedVersion::Version(v))
            );
        }
        Some(ExpectedVersion::Any) => assert_eq!(raw.trim(), "*"),
        Some(ExpectedVersion::Absent) => panic!("If-Match never means absent"),
        None => {}
    }

    if check_content_type(raw).is_ok() {
        assert!(raw.len() <= 100 && raw.contains('/'));
        assert!(raw.bytes().all(|b| (0x20..0x7f).contains(&b)));
    }
});
