//! Rules of the per-user key-value store shared by every backend.

/// Largest stored value in bytes (1 MiB), the schema's `chk_storage_size`.
pub const MAX_VALUE_BYTES: i64 = 1_048_576;
/// Default bytes per (user, app), the schema's `storage_quotas.total_bytes` default.
pub const DEFAULT_QUOTA_BYTES: i64 = 10_485_760;
/// Default keys per (user, app), the schema's `storage_quotas.total_keys` default.
pub const DEFAULT_QUOTA_KEYS: i64 = 1000;
/// Allowed TTL range in seconds.
pub const TTL_RANGE: std::ops::RangeInclusive<i64> = 60..=2_592_000;

/// A validated storage key: 1–256 bytes of UTF-8 without control characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StorageKey(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidStorageKey {
    #[error("key must be 1 to 256 bytes")]
    Length,
    #[error("key must not contain control characters")]
    ControlCharacter,
}

impl StorageKey {
    pub fn parse(raw: &str) -> Result<Self, InvalidStorageKey> {
        if raw.is_empty() || raw.len() > 256 {
            return Err(InvalidStorageKey::Length);
        }
        if raw.chars().any(char::is_control) {
            return Err(InvalidStorageKey::ControlCharacter);
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The storage quota of one (user, app).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuotaLimits {
    pub total_bytes: i64,
    pub total_keys: i64,
}

impl Default for QuotaLimits {
    fn default() -> Self {
        Self {
            total_bytes: DEFAULT_QUOTA_BYTES,
            total_keys: DEFAULT_QUOTA_KEYS,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_limits_are_in_bytes() {
        assert!(StorageKey::parse(&"a".repeat(256)).is_ok());
        assert_eq!(
            StorageKey::parse(&"a".repeat(257)),
            Err(InvalidStorageKey::Length)
        );
        // 'é' is two bytes: 128 of them are exactly 256 bytes.
        assert!(StorageKey::parse(&"é".repeat(128)).is_ok());
        assert_eq!(
            StorageKey::parse(&"é".repeat(129)),
            Err(InvalidStorageKey::Length)
        );
        assert_eq!(StorageKey::parse(""), Err(InvalidStorageKey::Length));
        assert_eq!(
            StorageKey::parse("a\nb"),
            Err(InvalidStorageKey::ControlCharacter)
        );
        assert_eq!(
            StorageKey::parse("a\u{7f}"),
            Err(InvalidStorageKey::ControlCharacter)
        );
    }
}
