//! OAuth scopes of the TMCP protocol (the TMCP protocol §2).

use std::collections::BTreeSet;
use std::fmt;

/// How a scope may be granted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScopeRules {
    /// Only official mini-apps may register it.
    pub official_only: bool,
    /// Granted without asking the user (storage of the app's own data).
    pub needs_consent: bool,
}

const KNOWN: &[(&str, ScopeRules)] = &[
    (
        "user:read",
        ScopeRules {
            official_only: false,
            needs_consent: true,
        },
    ),
    (
        "user:read:extended",
        ScopeRules {
            official_only: false,
            needs_consent: true,
        },
    ),
    (
        "storage:read",
        ScopeRules {
            official_only: false,
            needs_consent: false,
        },
    ),
    (
        "storage:write",
        ScopeRules {
            official_only: false,
            needs_consent: false,
        },
    ),
    (
        "wallet:balance",
        ScopeRules {
            official_only: false,
            needs_consent: true,
        },
    ),
    (
        "wallet:history",
        ScopeRules {
            official_only: false,
            needs_consent: true,
        },
    ),
    (
        "wallet:pay",
        ScopeRules {
            official_only: false,
            needs_consent: true,
        },
    ),
    (
        "webhook:send",
        ScopeRules {
            official_only: false,
            needs_consent: true,
        },
    ),
    (
        "analytics:detailed",
        ScopeRules {
            official_only: true,
            needs_consent: true,
        },
    ),
    (
        "system:notifications",
        ScopeRules {
            official_only: true,
            needs_consent: true,
        },
    ),
];

/// Every known scope name (e.g. for the API document's enums).
pub fn known_names() -> impl Iterator<Item = &'static str> {
    KNOWN.iter().map(|(name, _)| *name)
}

/// Rules of a known scope, `None` for anything else.
pub fn rules(scope: &str) -> Option<ScopeRules> {
    KNOWN
        .iter()
        .find(|(name, _)| *name == scope)
        .map(|(_, rules)| *rules)
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown scope {0:?}")]
pub struct UnknownScope(pub String);

/// A set of known scopes; renders space-separated in a stable order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScopeSet(BTreeSet<String>);

impl ScopeSet {
    /// Parses a space-separated list; every entry must be a known scope.
    pub fn parse(text: &str) -> Result<Self, UnknownScope> {
        let mut set = BTreeSet::new();
        for scope in text.split(' ').filter(|s| !s.is_empty()) {
            if rules(scope).is_none() {
                return Err(UnknownScope(scope.chars().take(64).collect()));
            }
            set.insert(scope.to_owned());
        }
        Ok(Self(set))
    }

    pub fn from_known<I: IntoIterator<Item = S>, S: AsRef<str>>(
        scopes: I,
    ) -> Result<Self, UnknownScope> {
        let joined: Vec<String> = scopes.into_iter().map(|s| s.as_ref().to_owned()).collect();
        Self::parse(&joined.join(" "))
    }

    pub fn contains(&self, scope: &str) -> bool {
        self.0.contains(scope)
    }

    pub fn is_subset(&self, other: &ScopeSet) -> bool {
        self.0.is_subset(&other.0)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }

    pub fn difference(&self, other: &ScopeSet) -> ScopeSet {
        Self(self.0.difference(&other.0).cloned().collect())
    }

    pub fn union(&self, other: &ScopeSet) -> ScopeSet {
        Self(self.0.union(&other.0).cloned().collect())
    }

    pub fn intersection(&self, other: &ScopeSet) -> ScopeSet {
        Self(self.0.intersection(&other.0).cloned().collect())
    }

    pub fn to_vec(&self) -> Vec<String> {
        self.0.iter().cloned().collect()
    }
}

impl fmt::Display for ScopeSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let joined: Vec<&str> = self.iter().collect();
        f.write_str(&joined.join(" "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_known_scopes_only() {
        let set = ScopeSet::parse("storage:write  user:read storage:read").expect("known");
        assert_eq!(set.to_string(), "storage:read storage:write user:read");
        assert!(ScopeSet::parse("storage:read admin:all").is_err());
        assert!(ScopeSet::parse("").expect("empty is fine").is_empty());
    }

    #[test]
    fn storage_needs_no_consent_and_analytics_is_official_only() {
        assert_eq!(rules("storage:read").map(|r| r.needs_consent), Some(false));
        assert_eq!(rules("wallet:pay").map(|r| r.needs_consent), Some(true));
        assert_eq!(
            rules("analytics:detailed").map(|r| r.official_only),
            Some(true)
        );
    }
}
