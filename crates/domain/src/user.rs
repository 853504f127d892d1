//! Account values validated once at the boundary.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UserStatus {
    Active,
    Suspended,
    Deleted,
}

impl UserStatus {
    pub fn as_db(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Suspended => "suspended",
            Self::Deleted => "deleted",
        }
    }

    pub fn from_db(value: &str) -> Option<Self> {
        match value {
            "active" => Some(Self::Active),
            "suspended" => Some(Self::Suspended),
            "deleted" => Some(Self::Deleted),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    User,
    Developer,
    Admin,
}

impl Role {
    pub fn as_db(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Developer => "developer",
            Self::Admin => "admin",
        }
    }

    pub fn from_db(value: &str) -> Option<Self> {
        match value {
            "user" => Some(Self::User),
            "developer" => Some(Self::Developer),
            "admin" => Some(Self::Admin),
            _ => None,
        }
    }
}

/// A username: 3–32 of `[a-z0-9_.]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Username(String);

impl Username {
    pub fn parse(raw: &str) -> Option<Self> {
        let ok = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '.';
        ((3..=32).contains(&raw.len()) && raw.chars().all(ok)).then(|| Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An email matching the schema's `chk_users_email_format`:
/// `^[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}$`, at most 255 bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Email(String);

impl Email {
    pub fn parse(raw: &str) -> Option<Self> {
        if raw.len() > 255 {
            return None;
        }
        let (local, domain) = raw.split_once('@')?;
        let local_ok = |c: char| c.is_ascii_alphanumeric() || "._%+-".contains(c);
        let domain_ok = |c: char| c.is_ascii_alphanumeric() || c == '.' || c == '-';
        let (head, tld) = domain.rsplit_once('.')?;
        let valid = !local.is_empty()
            && local.chars().all(local_ok)
            && !head.is_empty()
            && domain.chars().all(domain_ok)
            && tld.len() >= 2
            && tld.chars().all(|c| c.is_ascii_alphabetic());
        valid.then(|| Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_follow_the_schema_regex() {
        for good in ["a@b.co", "first.last+tag@sub.example.org", "x_%-@a-b.c.de"] {
            assert!(Email::parse(good).is_some(), "{good}");
        }
        for bad in [
            "", "a@b", "@b.co", "a@.co", "a@b.c", "a b@c.de", "a@b@c.de", "a@b.c0m", "a@b.co.",
        ] {
            assert!(Email::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn usernames_are_lowercase_and_bounded() {
        assert!(Username::parse("bob").is_some());
        assert!(Username::parse("bo").is_none());
        assert!(Username::parse("Bob").is_none());
        assert!(Username::parse(&"a".repeat(33)).is_none());
    }
}
