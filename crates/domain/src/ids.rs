//! Typed identifiers: a `UserId` can never be passed where a `PaymentId` is expected.

use serde::{Deserialize, Serialize};
use std::fmt;
use uuid::Uuid;

/// A time-ordered id (UUID v7) whose timestamp is `at`, taken from the injected clock:
/// `Uuid::now_v7` would read the wall clock, so ids would disagree with every other time
/// the server records (and with a test's `ManualClock`).
///
/// Ids made in one process at the same millisecond still sort in the order they were made
/// (a `ManualClock` that does not move makes many): the 30 bits after the timestamp hold a
/// process-wide counter (RFC 9562 §6.2, method 1), the remaining 44 bits stay random.
pub fn uuid_v7_at(at: time::OffsetDateTime) -> Uuid {
    use std::sync::atomic::{AtomicU32, Ordering};
    static SEQUENCE: AtomicU32 = AtomicU32::new(0);
    let nanos = at.unix_timestamp_nanos();
    let secs = u64::try_from(nanos.div_euclid(1_000_000_000)).unwrap_or(0);
    let sub = u32::try_from(nanos.rem_euclid(1_000_000_000)).unwrap_or(0);
    let random = Uuid::new_v7(uuid::Timestamp::from_unix(uuid::NoContext, secs, sub));
    let sequence = SEQUENCE.fetch_add(1, Ordering::Relaxed) & 0x3FFF_FFFF;
    let mut bytes = *random.as_bytes();
    // Byte 6: version (high nibble) + counter bits 29..26; byte 7: bits 25..18; byte 8:
    // variant (top two bits) + bits 17..12; bytes 9 and 10 (high nibble): bits 11..0.
    let bits = |shift: u32, mask: u32| u8::try_from((sequence >> shift) & mask).unwrap_or(0);
    bytes[6] = 0x70 | bits(26, 0x0F);
    bytes[7] = bits(18, 0xFF);
    bytes[8] = 0x80 | bits(12, 0x3F);
    bytes[9] = bits(4, 0xFF);
    bytes[10] = (bits(0, 0x0F) << 4) | (bytes[10] & 0x0F);
    Uuid::from_bytes(bytes)
}

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            /// A fresh time-ordered id (UUID v7), so new rows cluster at the end of B-tree indexes.
            pub fn new_v7(at: time::OffsetDateTime) -> Self {
                Self(uuid_v7_at(at))
            }

            pub fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.hyphenated().fmt(f)
            }
        }

        impl std::str::FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }

        impl From<Uuid> for $name {
            fn from(id: Uuid) -> Self {
                Self(id)
            }
        }
    };
}

uuid_id!(
    /// A person's account (`users.id`).
    UserId
);
uuid_id!(
    /// A host-app session (`user_sessions.id`).
    SessionId
);
uuid_id!(
    /// A payment (`payment_transactions.payment_id`).
    PaymentId
);

/// A mini-app id: `ma_` followed by 3–60 of `[a-z0-9_]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AppId(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("app id must be 'ma_' followed by 3 to 60 characters of [a-z0-9_]")]
pub struct InvalidAppId;

impl AppId {
    pub fn parse(raw: &str) -> Result<Self, InvalidAppId> {
        let rest = raw.strip_prefix("ma_").ok_or(InvalidAppId)?;
        let valid_char = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_';
        if (3..=60).contains(&rest.len()) && rest.chars().all(valid_char) {
            Ok(Self(raw.to_owned()))
        } else {
            Err(InvalidAppId)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for AppId {
    type Error = InvalidAppId;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<AppId> for String {
    fn from(id: AppId) -> Self {
        id.0
    }
}

impl fmt::Display for AppId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn app_ids_follow_the_protocol_shape() {
        assert!(AppId::parse("ma_abc").is_ok());
        assert!(AppId::parse(&format!("ma_{}", "a".repeat(60))).is_ok());
        assert!(AppId::parse(&format!("ma_{}", "a".repeat(61))).is_err());
        assert!(AppId::parse("ma_ab").is_err());
        assert!(AppId::parse("ma_ABC").is_err());
        assert!(AppId::parse("xx_abc").is_err());
        assert!(AppId::parse("ma_a-b-c").is_err());
    }

    #[test]
    fn v7_ids_of_one_instant_sort_in_creation_order() {
        let at = time::macros::datetime!(2026-01-01 00:00 UTC);
        let ids: Vec<Uuid> = (0..1000).map(|_| uuid_v7_at(at)).collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]));
        assert!(ids
            .iter()
            .all(|id| id.get_version_num() == 7 && id.get_variant() == uuid::Variant::RFC4122));
        let millis = |id: &Uuid| id.get_timestamp().map(|t| t.to_unix());
        assert_eq!(millis(&ids[0]), Some((1_767_225_600, 0)));
    }

    #[test]
    fn v7_ids_sort_by_creation_time() {
        let t = time::macros::datetime!(2026-11-25 10:00 UTC);
        let a = UserId::new_v7(t);
        let b = UserId::new_v7(t + time::Duration::milliseconds(5));
        assert!(a < b);
        assert_eq!(a.to_string().parse::<UserId>().ok(), Some(a));
    }
}
