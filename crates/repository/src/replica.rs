//! The health of a read replica, shared by the engine that routes lag-tolerant reads to it,
//! the task that probes it, and the readiness and metrics routes that report it.
//!
//! Lag-tolerant reads (store browse, search, detail, categories; developer stats) go to the
//! replica only while it is known to be up and its replay lag is within
//! [`ReplicaHealth::max_lag_seconds`]; otherwise they are served by the primary. Until the
//! first probe answers the replica counts as down, so a node never sends reads to a replica
//! it has not seen.

use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};

/// What the last probe of the replica found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplicaState {
    /// Not probed yet.
    Unknown,
    /// Answered, with its lag within the bound: lag-tolerant reads go to it.
    Up,
    /// Answered, but lagging more than the bound: reads go to the primary.
    Lagging,
    /// Did not answer (or answered with an error) within the probe timeout.
    Down,
}

impl ReplicaState {
    /// The word `/ready` reports: `ok`, `lagging`, `down` or `unknown`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unknown => "unknown",
            Self::Up => "ok",
            Self::Lagging => "lagging",
            Self::Down => "down",
        }
    }
}

/// Lock-free state of one replica.
#[derive(Debug)]
pub struct ReplicaHealth {
    state: AtomicU8,
    /// The last lag measured, as `f64` bits (seconds).
    lag_bits: AtomicU64,
    max_lag_seconds: f64,
}

impl ReplicaHealth {
    pub fn new(max_lag_seconds: f64) -> Self {
        Self {
            state: AtomicU8::new(0),
            lag_bits: AtomicU64::new(0f64.to_bits()),
            max_lag_seconds,
        }
    }

    pub fn state(&self) -> ReplicaState {
        match self.state.load(Ordering::Relaxed) {
            1 => ReplicaState::Up,
            2 => ReplicaState::Lagging,
            3 => ReplicaState::Down,
            _ => ReplicaState::Unknown,
        }
    }

    /// Whether lag-tolerant reads should go to the replica now.
    pub fn serves_reads(&self) -> bool {
        self.state() == ReplicaState::Up
    }

    /// The replay lag of the last successful probe, in seconds.
    pub fn lag_seconds(&self) -> f64 {
        f64::from_bits(self.lag_bits.load(Ordering::Relaxed))
    }

    pub fn max_lag_seconds(&self) -> f64 {
        self.max_lag_seconds
    }

    /// Records a probe that answered with this lag (seconds; negative values count as 0).
    pub fn record_lag(&self, lag_seconds: f64) {
        let lag = if lag_seconds.is_finite() {
            lag_seconds.max(0.0)
        } else {
            0.0
        };
        self.lag_bits.store(lag.to_bits(), Ordering::Relaxed);
        let state = if lag <= self.max_lag_seconds { 1 } else { 2 };
        self.state.store(state, Ordering::Relaxed);
    }

    /// Records a probe (or a read) that could not reach the replica.
    pub fn record_down(&self) {
        self.state.store(3, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_go_to_the_replica_only_once_it_answered_within_the_lag_bound() {
        let health = ReplicaHealth::new(30.0);
        assert_eq!(health.state(), ReplicaState::Unknown);
        assert!(!health.serves_reads());
        health.record_lag(0.25);
        assert!(health.serves_reads());
        assert_eq!(health.lag_seconds(), 0.25);
        health.record_lag(31.0);
        assert_eq!(health.state(), ReplicaState::Lagging);
        assert!(!health.serves_reads());
        health.record_down();
        assert_eq!(health.state().as_str(), "down");
        assert!(!health.serves_reads());
        health.record_lag(-1.0);
        assert_eq!(health.lag_seconds(), 0.0);
        assert!(health.serves_reads());
    }
}
