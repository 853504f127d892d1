//! Stored values: how bytes are rendered on the wire, checksums, sizes, TTLs, versions and
//! the `If-Match` / `If-None-Match` preconditions.

use super::{MAX_CONTENT_TYPE_BYTES, MAX_METADATA_BYTES, MAX_VALUE_BYTES, TTL_RANGE};
use base64::Engine;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// How a stored value is rendered: `text` and `json` come back as `value`, `binary` as
/// `value_base64`. Stored next to the bytes so a round trip is exact whatever the
/// content type says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ValueEncoding {
    /// A JSON string, stored as its UTF-8 text (without quotes).
    Text,
    /// Any other JSON value, stored as JSON text.
    Json,
    /// Opaque bytes, sent as base64.
    Binary,
}

impl ValueEncoding {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Text => "text",
            Self::Json => "json",
            Self::Binary => "binary",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "text" => Some(Self::Text),
            "json" => Some(Self::Json),
            "binary" => Some(Self::Binary),
            _ => None,
        }
    }

    /// The content type recorded when the client names none.
    pub fn default_content_type(self) -> &'static str {
        match self {
            Self::Text => "text/plain",
            Self::Json => "application/json",
            Self::Binary => "application/octet-stream",
        }
    }
}

/// SHA-256 of the stored bytes, lowercase hex (the `checksum` column).
pub fn checksum(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidValue {
    #[error("value must not be empty (at least 1 byte is stored)")]
    Empty,
    #[error("value is {size} bytes; at most {max} are allowed")]
    TooLarge { size: usize, max: i64 },
}

/// A stored value is 1 to [`MAX_VALUE_BYTES`] bytes (the schema's `chk_storage_size`).
pub fn check_value_size(bytes: &[u8]) -> Result<(), InvalidValue> {
    if bytes.is_empty() {
        return Err(InvalidValue::Empty);
    }
    if i64::try_from(bytes.len()).map_or(true, |n| n > MAX_VALUE_BYTES) {
        return Err(InvalidValue::TooLarge {
            size: bytes.len(),
            max: MAX_VALUE_BYTES,
        });
    }
    Ok(())
}

/// TTL in seconds must lie in [`TTL_RANGE`].
pub fn check_ttl(ttl: i64) -> Result<(), String> {
    if TTL_RANGE.contains(&ttl) {
        Ok(())
    } else {
        Err(format!(
            "ttl must be between {} and {} seconds",
            TTL_RANGE.start(),
            TTL_RANGE.end()
        ))
    }
}

/// A content type is 1–100 bytes of visible ASCII (spaces allowed inside parameters).
pub fn check_content_type(raw: &str) -> Result<(), String> {
    let valid = !raw.is_empty()
        && raw.len() <= MAX_CONTENT_TYPE_BYTES
        && raw.bytes().all(|b| (0x20..0x7f).contains(&b))
        && raw.contains('/');
    if valid {
        Ok(())
    } else {
        Err(format!(
            "content_type must be a media type of 1 to {MAX_CONTENT_TYPE_BYTES} printable ASCII characters"
        ))
    }
}

/// Metadata is a JSON object of at most [`MAX_METADATA_BYTES`] bytes of compact JSON.
pub fn check_metadata(metadata: &serde_json::Value) -> Result<(), String> {
    if !metadata.is_object() {
        return Err("metadata must be a JSON object".into());
    }
    if metadata.to_string().len() > MAX_METADATA_BYTES {
        return Err(format!(
            "metadata must be at most {MAX_METADATA_BYTES} bytes of JSON"
        ));
    }
    Ok(())
}

/// A precondition on the stored version of a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpectedVersion {
    /// `If-Match: *` — the key must exist.
    Any,
    /// `If-None-Match: *` — the key must not exist.
    Absent,
    /// `If-Match: "<version>"` — the live entry must have exactly this version.
    Version(i64),
}

impl ExpectedVersion {
    /// Whether the current live version (None = no live entry) satisfies the precondition.
    pub fn matches(self, current: Option<i64>) -> bool {
        match self {
            Self::Any => current.is_some(),
            Self::Absent => current.is_none(),
            Self::Version(v) => current == Some(v),
        }
    }

    /// Parses an `If-Match` header: `*`, `"<version>"`, `W/"<version>"` or a bare number.
    /// A list of several tags is refused (a version is a single value).
    pub fn parse_if_match(raw: &str) -> Option<Self> {
        let raw = raw.trim();
        if raw == "*" {
            return Some(Self::Any);
        }
        let tag = raw.strip_prefix("W/").unwrap_or(raw);
        let inner = tag
            .strip_prefix('"')
            .and_then(|t| t.strip_suffix('"'))
            .unwrap_or(tag);
        if inner.is_empty() || !inner.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        inner
            .parse::<i64>()
            .ok()
            .filter(|v| *v >= 1)
            .map(Self::Version)
    }
}

/// The `ETag` of a version: `"<version>"`.
pub fn etag(version: i64) -> String {
    format!("\"{version}\"")
}

/// A value as it was stored, with what is needed to render it again. Serialised (bytes as
/// base64) inside recorded sync results and conflicts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredValue {
    pub encoding: ValueEncoding,
    pub content_type: String,
    #[serde(with = "base64_bytes")]
    pub bytes: Vec<u8>,
}

mod base64_bytes {
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&STANDARD.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(deserializer)?;
        STANDARD.decode(text).map_err(serde::de::Error::custom)
    }
}

/// Standard base64 with padding, the wire form of `value_base64`.
pub fn encode_base64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Decodes `value_base64`: standard alphabet, padding required, no whitespace.
pub fn decode_base64(text: &str) -> Option<Vec<u8>> {
    base64::engine::general_purpose::STANDARD.decode(text).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksum_is_sha256_hex() {
        assert_eq!(
            checksum(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn value_size_boundaries() {
        assert_eq!(check_value_size(b""), Err(InvalidValue::Empty));
        assert!(check_value_size(&[0u8; 1]).is_ok());
        let max = usize::try_from(MAX_VALUE_BYTES).expect("fits");
        assert!(check_value_size(&vec![0u8; max]).is_ok());
        assert!(matches!(
            check_value_size(&vec![0u8; max + 1]),
            Err(InvalidValue::TooLarge { .. })
        ));
    }

    #[test]
    fn ttl_boundaries() {
        assert!(check_ttl(59).is_err());
        assert!(check_ttl(60).is_ok());
        assert!(check_ttl(2_592_000).is_ok());
        assert!(check_ttl(2_592_001).is_err());
    }

    #[test]
    fn if_match_forms() {
        assert_eq!(
            ExpectedVersion::parse_if_match("\"3\""),
            Some(ExpectedVersion::Version(3))
        );
        assert_eq!(
            ExpectedVersion::parse_if_match("W/\"12\""),
            Some(ExpectedVersion::Version(12))
        );
        assert_eq!(
            ExpectedVersion::parse_if_match("7"),
            Some(ExpectedVersion::Version(7))
        );
        assert_eq!(
            ExpectedVersion::parse_if_match("*"),
            Some(ExpectedVersion::Any)
        );
        for bad in [
            "",
            "\"\"",
            "\"a\"",
            "\"1\", \"2\"",
            "-1",
            "\"0\"",
            "99999999999999999999",
        ] {
            assert_eq!(ExpectedVersion::parse_if_match(bad), None, "{bad}");
        }
        assert!(ExpectedVersion::Version(2).matches(Some(2)));
        assert!(!ExpectedVersion::Version(2).matches(Some(3)));
        assert!(!ExpectedVersion::Version(2).matches(None));
        assert!(ExpectedVersion::Any.matches(Some(1)));
        assert!(ExpectedVersion::Absent.matches(None));
        assert_eq!(etag(4), "\"4\"");
    }

    #[test]
    fn content_types_and_metadata() {
        assert!(check_content_type("application/json").is_ok());
        assert!(check_content_type("text/plain; charset=utf-8").is_ok());
        assert!(check_content_type("").is_err());
        assert!(check_content_type("nope").is_err());
        assert!(check_content_type("a/b\n").is_err());
        assert!(check_content_type(&format!("a/{}", "b".repeat(99))).is_err());
        assert!(check_metadata(&serde_json::json!({"a": 1})).is_ok());
        assert!(check_metadata(&serde_json::json!([1])).is_err());
        let big = serde_json::json!({"a": "x".repeat(MAX_METADATA_BYTES)});
        assert!(check_metadata(&big).is_err());
    }

    #[test]
    fn stored_values_serialise_bytes_as_base64() {
        let value = StoredValue {
            encoding: ValueEncoding::Binary,
            content_type: "application/octet-stream".into(),
            bytes: vec![0, 255, 10],
        };
        let json = serde_json::to_value(&value).expect("serialises");
        assert_eq!(json["bytes"], "AP8K");
        assert_eq!(json["encoding"], "binary");
        let back: StoredValue = serde_json::from_value(json).expect("parses");
        assert_eq!(back, value);
    }
}
