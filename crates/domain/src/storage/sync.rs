//! Offline sync: how a replayed client operation is judged against the server's state.
//!
//! A pushed operation carries the client's `client_timestamp` and, optionally, the
//! `base_version` the client last saw for the key (0 = "the key did not exist"). The
//! operation *conflicts* when the server's state moved on since the client saw it:
//! with a base version, when the current version differs from it; without one, when the
//! server's last write (or deletion) is newer than the operation. A conflict is then settled by
//! the strategy: last write wins (compare timestamps; ties go to the client), local wins
//! (the client's operation is applied), remote wins (the server keeps its state) or manual
//! (a conflict record is opened and nothing changes until it is resolved).

use super::value::StoredValue;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SyncStrategy {
    #[default]
    LastWriteWins,
    LocalWins,
    RemoteWins,
    Manual,
}

impl SyncStrategy {
    /// The value of `storage_conflicts.resolution_strategy`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::LastWriteWins => "last_write_wins",
            Self::LocalWins => "local_wins",
            Self::RemoteWins => "remote_wins",
            Self::Manual => "manual",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "last_write_wins" => Some(Self::LastWriteWins),
            "local_wins" => Some(Self::LocalWins),
            "remote_wins" => Some(Self::RemoteWins),
            "manual" => Some(Self::Manual),
            _ => None,
        }
    }
}

/// The server's view of a key when an operation arrives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerState {
    /// The live version, or `None` when the key does not exist (deleted, expired or never
    /// written).
    pub version: Option<i64>,
    /// When the server's state was last written: the last write's timestamp, or the time
    /// of its deletion while the tombstone is kept; `None` if the server knows nothing.
    pub last_write: Option<OffsetDateTime>,
}

/// Whether the operation was made without knowledge of the server's current state.
pub fn conflicts(
    base_version: Option<i64>,
    op_timestamp: OffsetDateTime,
    server: ServerState,
) -> bool {
    match base_version {
        Some(base) => server.version.unwrap_or(0) != base,
        None => server.last_write.is_some_and(|at| at > op_timestamp),
    }
}

/// What to do with a pushed operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncDecision {
    /// Apply the client's operation.
    Apply,
    /// Keep the server's state and report it to the client.
    ServerWins,
    /// Open a pending conflict record; change nothing.
    Manual,
}

pub fn decide(
    strategy: SyncStrategy,
    base_version: Option<i64>,
    op_timestamp: OffsetDateTime,
    server: ServerState,
) -> SyncDecision {
    if !conflicts(base_version, op_timestamp, server) {
        return SyncDecision::Apply;
    }
    match strategy {
        SyncStrategy::LastWriteWins => {
            if server.last_write.is_some_and(|at| at > op_timestamp) {
                SyncDecision::ServerWins
            } else {
                SyncDecision::Apply
            }
        }
        SyncStrategy::LocalWins => SyncDecision::Apply,
        SyncStrategy::RemoteWins => SyncDecision::ServerWins,
        SyncStrategy::Manual => SyncDecision::Manual,
    }
}

/// A plain write's last-write-wins check: a `client_timestamp` strictly older than the
/// stored write loses (equal timestamps let the newer request win).
pub fn is_stale(client_timestamp: OffsetDateTime, stored_write: OffsetDateTime) -> bool {
    client_timestamp < stored_write
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SyncOpStatus {
    Applied,
    Conflict,
    Rejected,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SyncOpKind {
    Set,
    Delete,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncOpError {
    pub code: String,
    pub message: String,
}

/// The outcome of one pushed operation. Recorded with the operation and returned verbatim
/// when the same `op_id` is pushed again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncOpResult {
    pub op_id: String,
    pub key: String,
    pub status: SyncOpStatus,
    /// The key's version after the operation (None when it does not exist).
    pub version: Option<i64>,
    /// `server_wins` or `manual` when the server's state was kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolution: Option<String>,
    /// The server's value when it was kept (None if the key does not exist).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_value: Option<StoredValue>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conflict_id: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<SyncOpError>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;
    use time::Duration;

    const T: OffsetDateTime = datetime!(2026-11-25 10:00 UTC);

    fn server(version: Option<i64>, at: Option<OffsetDateTime>) -> ServerState {
        ServerState {
            version,
            last_write: at,
        }
    }

    #[test]
    fn base_version_decides_conflicts_when_given() {
        let later = Some(T + Duration::hours(1));
        assert!(!conflicts(Some(3), T, server(Some(3), later)));
        assert!(conflicts(Some(2), T, server(Some(3), None)));
        assert!(!conflicts(Some(0), T, server(None, later)), "0 = absent");
        assert!(conflicts(Some(0), T, server(Some(1), None)));
        assert!(conflicts(Some(4), T, server(None, None)), "deleted since");
    }

    #[test]
    fn without_base_version_newer_server_writes_conflict() {
        assert!(!conflicts(None, T, server(Some(1), Some(T))));
        assert!(!conflicts(
            None,
            T,
            server(Some(1), Some(T - Duration::SECOND))
        ));
        assert!(conflicts(
            None,
            T,
            server(Some(1), Some(T + Duration::SECOND))
        ));
        assert!(!conflicts(None, T, server(None, None)));
    }

    #[test]
    fn strategies_settle_conflicts() {
        let newer_server = server(Some(5), Some(T + Duration::SECOND));
        let older_server = server(Some(5), Some(T - Duration::SECOND));
        use SyncDecision::{Apply, ServerWins};
        use SyncStrategy::{LastWriteWins, LocalWins, RemoteWins};
        assert_eq!(decide(LastWriteWins, Some(4), T, newer_server), ServerWins);
        assert_eq!(decide(LastWriteWins, Some(4), T, older_server), Apply);
        assert_eq!(decide(LocalWins, Some(4), T, newer_server), Apply);
        assert_eq!(decide(RemoteWins, Some(4), T, older_server), ServerWins);
        assert_eq!(
            decide(SyncStrategy::Manual, Some(4), T, older_server),
            SyncDecision::Manual
        );
        for strategy in [LastWriteWins, LocalWins, RemoteWins, SyncStrategy::Manual] {
            assert_eq!(
                decide(strategy, Some(5), T, newer_server),
                Apply,
                "no conflict"
            );
        }
    }

    #[test]
    fn stale_means_strictly_older() {
        assert!(is_stale(T - Duration::SECOND, T));
        assert!(!is_stale(T, T));
        assert!(!is_stale(T + Duration::SECOND, T));
    }

    #[test]
    fn strategy_names_round_trip() {
        for s in [
            SyncStrategy::LastWriteWins,
            SyncStrategy::LocalWins,
            SyncStrategy::RemoteWins,
            SyncStrategy::Manual,
        ] {
            assert_eq!(SyncStrategy::parse(s.as_str()), Some(s));
        }
        assert_eq!(SyncStrategy::parse("server_wins"), None);
    }
}
