//! What one connection is doing, as far as its timeouts are concerned.
//!
//! hyper's own `header_read_timeout` starts whenever hyper waits for a request head, which
//! includes the quiet time between keep-alive requests, so it cannot give a short header
//! timeout and a longer idle timeout at once. This tracks the phases itself from three
//! signals: bytes read (the stream wrapper), a request handed to the application and its
//! response body dropped by hyper (the service wrapper), and flushes that completed.

use super::ConnectionLimits;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use tokio::sync::Notify;
use tokio::time::Instant;

#[derive(Debug, Clone, Copy)]
struct State {
    accepted: Instant,
    /// Requests handed to the application.
    dispatched: u64,
    /// Responses whose body hyper has dropped (fully encoded, or abandoned).
    finished: u64,
    /// `finished` as of the last completed flush: those responses are on the wire.
    flushed: u64,
    /// When the connection last stopped having work: a response finished or was flushed.
    quiet_since: Instant,
    /// First byte of a request head that has not reached the application yet.
    head_started: Option<Instant>,
}

impl State {
    /// When the connection should be closed if nothing changes; `None` while a handler
    /// runs (the request timeout governs it).
    fn deadline(&self, limits: &ConnectionLimits) -> Option<Instant> {
        if self.dispatched > self.finished {
            return None;
        }
        if let Some(started) = self.head_started {
            return Some(started + limits.header_read_timeout);
        }
        if self.dispatched == 0 {
            // Nothing sent since the connection opened: the first head is late.
            return Some(self.accepted + limits.header_read_timeout);
        }
        // Between requests, or a finished response the client is slow to read.
        Some(self.quiet_since + limits.idle_timeout)
    }
}

pub(super) struct Activity {
    state: Mutex<State>,
    changed: Notify,
}

impl Activity {
    pub(super) fn new(now: Instant) -> Arc<Self> {
        Arc::new(Self {
            state: Mutex::new(State {
                accepted: now,
                dispatched: 0,
                finished: 0,
                flushed: 0,
                quiet_since: now,
                head_started: None,
            }),
            changed: Notify::new(),
        })
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// hyper parsed a head and calls the application; the guard marks the response done
    /// when hyper drops its body.
    pub(super) fn request_started(self: &Arc<Self>) -> ResponseGuard {
        let mut state = self.state();
        state.dispatched += 1;
        state.head_started = None;
        ResponseGuard(self.clone())
    }

    /// Bytes arrived. With no handler running they belong to the next request head (or to
    /// the rest of a body hyper drains), so the header timeout starts.
    pub(super) fn bytes_read(&self, now: Instant) {
        let mut state = self.state();
        if state.dispatched == state.finished && state.head_started.is_none() {
            state.head_started = Some(now);
            drop(state);
            self.changed.notify_one();
        }
    }

    /// A flush completed: every byte hyper wrote so far is with the kernel.
    pub(super) fn flushed(&self, now: Instant) {
        let mut state = self.state();
        if state.flushed != state.finished {
            state.flushed = state.finished;
            state.quiet_since = now;
        }
    }

    /// True when every response of the application is already on the wire, so whatever
    /// hyper writes now is its own answer to a head it could not parse.
    pub(super) fn all_responses_flushed(&self) -> bool {
        let state = self.state();
        state.dispatched == state.flushed
    }

    pub(super) fn deadline(&self, limits: &ConnectionLimits) -> Option<Instant> {
        self.state().deadline(limits)
    }

    /// Resolves after a change that may bring the deadline forward.
    pub(super) async fn changed(&self) {
        self.changed.notified().await;
    }
}

pub(super) struct ResponseGuard(Arc<Activity>);

impl Drop for ResponseGuard {
    fn drop(&mut self) {
        let mut state = self.0.state();
        state.finished += 1;
        state.quiet_since = Instant::now();
        drop(state);
        self.0.changed.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn limits() -> ConnectionLimits {
        ConnectionLimits {
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            max_connections: 1,
        }
    }

    #[tokio::test]
    async fn phases_pick_the_right_timeout() {
        let start = Instant::now();
        let activity = Activity::new(start);
        let limits = limits();
        assert_eq!(
            activity.deadline(&limits),
            Some(start + Duration::from_secs(10)),
            "a new connection must send its first head in time"
        );
        let later = start + Duration::from_secs(3);
        activity.bytes_read(later);
        activity.bytes_read(later + Duration::from_secs(1));
        assert_eq!(
            activity.deadline(&limits),
            Some(later + Duration::from_secs(10)),
            "trickling bytes do not extend the header timeout"
        );
        let guard = activity.request_started();
        assert!(!activity.all_responses_flushed());
        assert_eq!(activity.deadline(&limits), None, "handler at work");
        activity.bytes_read(later);
        assert_eq!(
            activity.deadline(&limits),
            None,
            "body bytes of the request"
        );
        drop(guard);
        assert!(!activity.all_responses_flushed(), "not written yet");
        let flushed_at = Instant::now();
        activity.flushed(flushed_at);
        assert!(activity.all_responses_flushed());
        assert_eq!(
            activity.deadline(&limits),
            Some(flushed_at + Duration::from_secs(60)),
            "idle keep-alive"
        );
    }
}
