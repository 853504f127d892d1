//! The mini-app store's rules: an app's review lifecycle, a version's lifecycle, version
//! numbers and the text rules of search. Pure: the use cases apply them, the repositories
//! check the expected old state in their SQL.

pub mod search_text;
pub mod version;

use std::fmt;

/// Where an app stands in review. Stored as `apps.status`; on the wire `pending` reads
/// `pending_review`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AppStatus {
    /// Registered or resubmitted, waiting for a reviewer.
    Pending,
    /// Listed in the store.
    Active,
    /// Rejected by a reviewer (the reason is kept); a new submission makes it pending again.
    Rejected,
    /// Still installable by those who have it, hidden from browse and search.
    Deprecated,
    /// Taken down for good: not listed, not installable.
    Removed,
}

/// A reviewer's or developer's decision on an app.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppAction {
    Submit,
    Approve,
    Reject,
    Deprecate,
    Remove,
}

/// A transition the state machine does not allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidTransition {
    pub from: AppStatus,
    pub action: AppAction,
}

impl fmt::Display for InvalidTransition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "cannot {} an app that is {}",
            self.action.as_str(),
            self.from.as_wire()
        )
    }
}

impl std::error::Error for InvalidTransition {}

impl AppAction {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Submit => "submit",
            Self::Approve => "approve",
            Self::Reject => "reject",
            Self::Deprecate => "deprecate",
            Self::Remove => "remove",
        }
    }
}

impl AppStatus {
    pub fn as_db(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Active => "active",
            Self::Rejected => "rejected",
            Self::Deprecated => "deprecated",
            Self::Removed => "removed",
        }
    }

    pub fn from_db(text: &str) -> Option<Self> {
        Some(match text {
            "pending" => Self::Pending,
            "active" => Self::Active,
            "rejected" => Self::Rejected,
            "deprecated" => Self::Deprecated,
            "removed" => Self::Removed,
            _ => return None,
        })
    }

    /// The protocol's name for the status.
    pub fn as_wire(self) -> &'static str {
        match self {
            Self::Pending => "pending_review",
            other => other.as_db(),
        }
    }

    /// The status after `action`, or why it is not allowed. Submitting keeps an active or
    /// pending app where it is (a new version waits for review while the current one stays
    /// listed); approving an active app publishes its newest approved version.
    pub fn apply(self, action: AppAction) -> Result<AppStatus, InvalidTransition> {
        use AppAction as A;
        use AppStatus as S;
        let next = match (self, action) {
            (S::Pending | S::Active, A::Submit) => self,
            (S::Rejected, A::Submit) => S::Pending,
            (S::Pending | S::Active | S::Deprecated, A::Approve) => S::Active,
            (S::Pending, A::Reject) => S::Rejected,
            (S::Active, A::Deprecate) => S::Deprecated,
            (S::Active | S::Deprecated | S::Pending | S::Rejected, A::Remove) => S::Removed,
            (from, action) => return Err(InvalidTransition { from, action }),
        };
        Ok(next)
    }

    /// Whether users can find it in browse and search.
    pub fn listed(self) -> bool {
        self == Self::Active
    }

    /// Whether a user may install it now.
    pub fn installable(self) -> bool {
        self == Self::Active
    }
}

/// A version's lifecycle: uploaded (`pending`, replaceable until submitted), approved
/// (`active`), superseded or withdrawn (`deprecated`), rejected (`removed`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VersionStatus {
    Pending,
    Active,
    Deprecated,
    Removed,
}

impl VersionStatus {
    pub fn as_db(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Active => "active",
            Self::Deprecated => "deprecated",
            Self::Removed => "removed",
        }
    }

    pub fn from_db(text: &str) -> Option<Self> {
        Some(match text {
            "pending" => Self::Pending,
            "active" => Self::Active,
            "deprecated" => Self::Deprecated,
            "removed" => Self::Removed,
            _ => return None,
        })
    }
}

/// The classification of an app (`apps.classification`).
pub const CLASSIFICATIONS: [&str; 4] = ["official", "verified", "community", "beta"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn review_lifecycle() {
        use AppAction as A;
        use AppStatus as S;
        assert_eq!(S::Pending.apply(A::Approve), Ok(S::Active));
        assert_eq!(S::Pending.apply(A::Reject), Ok(S::Rejected));
        assert_eq!(S::Rejected.apply(A::Submit), Ok(S::Pending));
        assert_eq!(S::Active.apply(A::Submit), Ok(S::Active));
        assert_eq!(S::Active.apply(A::Deprecate), Ok(S::Deprecated));
        assert_eq!(S::Deprecated.apply(A::Approve), Ok(S::Active));
        assert!(S::Removed.apply(A::Approve).is_err());
        assert!(S::Removed.apply(A::Submit).is_err());
        assert!(S::Active.apply(A::Reject).is_err());
        assert!(S::Rejected.apply(A::Approve).is_err());
        for status in [
            S::Pending,
            S::Active,
            S::Rejected,
            S::Deprecated,
            S::Removed,
        ] {
            assert_eq!(S::from_db(status.as_db()), Some(status));
        }
        assert_eq!(S::Pending.as_wire(), "pending_review");
    }
}
