//! Typed identifiers: a `UserId` can never be passed where a `PaymentId` is expected.

use serde::{Deserialize, Serialize};
use std::fmt;
use uuid::Uuid;

/// A time-ordered id (UUID v7) whose timestamp is `at`, taken from the injected clock:
/// `Uuid::now_v7` would read the wall clock, so ids would disagree with every other time
/// the server records (and with a test's `ManualClock`).
pub fn uuid_v7_at(at: time::OffsetDateTime) -> Uuid {
    let nanos = at.unix_timestamp_nanos();
    let secs = u64::try_from(nanos.div_euclid(1_000_000_000)).unwrap_or(0);
    let sub = u32::try_from(nanos.rem_euclid(1_000_000_000)).unwrap_or(0);
    Uuid::new_v7(uuid::Timestamp::from_unix(uuid::NoContext, secs, sub))
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
    fn v7_ids_sort_by_creation_time() {
        let t = time::macros::datetime!(2026-11-25 10:00 UTC);
        let a = UserId::new_v7(t);
        let b = UserId::new_v7(t + time::Duration::milliseconds(5));
        assert!(a < b);
        assert_eq!(a.to_string().parse::<UserId>().ok(), Some(a));
    }
}
