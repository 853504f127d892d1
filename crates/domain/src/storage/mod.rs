//! Rules of the per-user key-value store shared by every backend: keys, limits, value
//! encodings, versions and preconditions ([`value`]), offline-sync decisions ([`sync`]) and
//! the opaque cursors of listings and the change feed ([`cursor`]).

pub mod cursor;
pub mod sync;
pub mod value;

use std::collections::BTreeMap;

/// Largest stored value in bytes (1 MiB), the schema's `chk_storage_size`.
pub const MAX_VALUE_BYTES: i64 = 1_048_576;
/// Default bytes per (user, app), the schema's `storage_quotas.total_bytes` default.
pub const DEFAULT_QUOTA_BYTES: i64 = 10_485_760;
/// Default keys per (user, app), the schema's `storage_quotas.total_keys` default.
pub const DEFAULT_QUOTA_KEYS: i64 = 1000;
/// Allowed TTL range in seconds.
pub const TTL_RANGE: std::ops::RangeInclusive<i64> = 60..=2_592_000;
/// Most items in one batch request (get, set, delete) or sync push.
pub const MAX_BATCH_ITEMS: usize = 100;
/// Most keys in one listing page.
pub const MAX_LIST_LIMIT: i64 = 1000;
/// Listing page size when the client names none.
pub const DEFAULT_LIST_LIMIT: i64 = 100;
/// Most changes in one sync pull page.
pub const MAX_PULL_LIMIT: i64 = 1000;
/// Largest `metadata` object, as compact JSON text.
pub const MAX_METADATA_BYTES: usize = 4096;
/// Longest `content_type` (the schema's `VARCHAR(100)`).
pub const MAX_CONTENT_TYPE_BYTES: usize = 100;
/// Longest sync `op_id`.
pub const MAX_OP_ID_BYTES: usize = 128;
/// How long deletions stay in the change feed (and sync op ids stay deduplicated) by default.
pub const DEFAULT_TOMBSTONE_RETENTION_DAYS: i64 = 30;

/// First key segments (the text before the first `/`, or the whole key) that name fixed
/// routes under `/api/v1/storage/`: a key `quota` could never be read at
/// `GET /api/v1/storage/quota`, and `PUT /api/v1/storage/conflicts` is not a key's route.
/// Writes refuse them; reads and deletes still accept them, so keys stored before the rule
/// can be read (`batch/get`) and removed. A new fixed route under `/api/v1/storage/` must add
/// its first segment here (the HTTP tests check the OpenAPI paths against this list).
pub const RESERVED_KEY_SEGMENTS: [&str; 4] = ["quota", "batch", "sync", "conflicts"];

/// A validated storage key: 1–256 bytes of UTF-8 without control characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StorageKey(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidStorageKey {
    #[error("key must be 1 to 256 bytes")]
    Length,
    #[error("key must not contain control characters")]
    ControlCharacter,
    #[error(
        "keys whose first segment is \"{0}\" are reserved for storage routes (reserved first segments: {list})",
        list = RESERVED_KEY_SEGMENTS.join(", ")
    )]
    Reserved(&'static str),
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

    /// A key a client may write: valid, and its first segment not one of
    /// [`RESERVED_KEY_SEGMENTS`].
    pub fn parse_writable(raw: &str) -> Result<Self, InvalidStorageKey> {
        let key = Self::parse(raw)?;
        match key.reserved_segment() {
            Some(segment) => Err(InvalidStorageKey::Reserved(segment)),
            None => Ok(key),
        }
    }

    /// The reserved first segment this key starts with, if any.
    pub fn reserved_segment(&self) -> Option<&'static str> {
        let first = self.0.split('/').next().unwrap_or_default();
        RESERVED_KEY_SEGMENTS
            .iter()
            .copied()
            .find(|reserved| *reserved == first)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for StorageKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The storage quota of one (user, app).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
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

/// Quotas by app: a default and per-app overrides (official apps may get more).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QuotaPolicy {
    pub default: QuotaLimits,
    pub per_app: BTreeMap<String, QuotaLimits>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidQuota {
    #[error("quota for {0}: total_bytes must be between 1 and 2^53")]
    Bytes(String),
    #[error("quota for {0}: total_keys must be between 1 and 2147483647")]
    Keys(String),
}

impl QuotaPolicy {
    /// The limits that apply to `app`.
    pub fn for_app(&self, app: &crate::AppId) -> QuotaLimits {
        self.per_app
            .get(app.as_str())
            .copied()
            .unwrap_or(self.default)
    }

    /// Every limit is positive and fits the database columns.
    pub fn validate(&self) -> Result<(), InvalidQuota> {
        let entries = std::iter::once(("default", &self.default))
            .chain(self.per_app.iter().map(|(k, v)| (k.as_str(), v)));
        for (name, limits) in entries {
            if !(1..=(1_i64 << 53)).contains(&limits.total_bytes) {
                return Err(InvalidQuota::Bytes(name.to_owned()));
            }
            if !(1..=i64::from(i32::MAX)).contains(&limits.total_keys) {
                return Err(InvalidQuota::Keys(name.to_owned()));
            }
        }
        Ok(())
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
        assert_eq!(
            StorageKey::parse("a\u{85}"),
            Err(InvalidStorageKey::ControlCharacter),
            "C1 controls count too"
        );
    }

    #[test]
    fn reserved_first_segments_are_refused_for_writes_only() {
        for raw in [
            "quota",
            "batch",
            "sync",
            "conflicts",
            "sync/push",
            "quota/",
            "batch/x/y",
        ] {
            let segment = raw.split('/').next().unwrap_or_default();
            assert!(StorageKey::parse(raw).is_ok(), "{raw} stays readable");
            let refused = StorageKey::parse_writable(raw);
            assert!(
                matches!(refused, Err(InvalidStorageKey::Reserved(s)) if s == segment),
                "{raw}: {refused:?}"
            );
        }
        let message = InvalidStorageKey::Reserved("quota").to_string();
        assert!(
            message.contains("\"quota\"") && message.contains("quota, batch, sync, conflicts"),
            "{message}"
        );
        // Only the whole first segment counts, and case matters as it does in routes.
        for raw in [
            "quotas",
            "quota.json",
            "my/quota",
            "Quota",
            "syncing/x",
            "a/batch",
        ] {
            assert!(StorageKey::parse_writable(raw).is_ok(), "{raw}");
        }
        // Validity is checked before reservation.
        assert_eq!(
            StorageKey::parse_writable("quota\n"),
            Err(InvalidStorageKey::ControlCharacter)
        );
    }

    #[test]
    fn per_app_quota_overrides_the_default() {
        let official = crate::AppId::parse("ma_official").expect("app id");
        let other = crate::AppId::parse("ma_other").expect("app id");
        let mut policy = QuotaPolicy::default();
        let big = QuotaLimits {
            total_bytes: 50 * 1024 * 1024,
            total_keys: 5000,
        };
        policy.per_app.insert("ma_official".into(), big);
        assert_eq!(policy.for_app(&official), big);
        assert_eq!(policy.for_app(&other), QuotaLimits::default());
        assert!(policy.validate().is_ok());
        policy.per_app.insert(
            "ma_broken".into(),
            QuotaLimits {
                total_bytes: 0,
                total_keys: 1,
            },
        );
        assert_eq!(
            policy.validate(),
            Err(InvalidQuota::Bytes("ma_broken".into()))
        );
    }
}
