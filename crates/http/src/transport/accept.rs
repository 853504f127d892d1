//! Accepting connections without spinning when the process runs out of file descriptors,
//! and sizing the connection cap to the descriptor limit.

use std::io;
use std::time::Duration;

const FIRST_DELAY: Duration = Duration::from_millis(25);
const MAX_DELAY: Duration = Duration::from_secs(1);

/// Errors that concern only the connection being accepted (the client gave up early); the
/// next accept can follow at once.
pub(super) fn is_per_connection(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionRefused
            | io::ErrorKind::Interrupted
    )
}

/// Exponential back-off for errors of the process or system (`EMFILE`, `ENFILE`,
/// `ENOBUFS`, …): retrying at once would fail again and burn a core, while the pending
/// connections wait safely in the listen backlog.
#[derive(Debug, Default)]
pub(super) struct Backoff {
    current: Option<Duration>,
}

impl Backoff {
    pub(super) fn next_delay(&mut self) -> Duration {
        let delay = match self.current {
            None => FIRST_DELAY,
            Some(previous) => (previous * 2).min(MAX_DELAY),
        };
        self.current = Some(delay);
        delay
    }

    pub(super) fn reset(&mut self) {
        self.current = None;
    }
}

/// The soft `RLIMIT_NOFILE` of this process, read from `/proc` (Linux); `None` when unknown
/// or unlimited.
pub fn fd_soft_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    parse_open_files_limit(&limits)
}

fn parse_open_files_limit(limits: &str) -> Option<u64> {
    let line = limits
        .lines()
        .find(|line| line.starts_with("Max open files"))?;
    line.trim_start_matches("Max open files")
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Descriptors kept free for everything that is not a client connection: database and
/// Redis connections, SQLite files, logs, the listener itself.
fn reserved_descriptors(limit: u64) -> u64 {
    (limit / 4).clamp(16, 256)
}

/// The configured cap, lowered so that client connections alone cannot exhaust the file
/// descriptor limit.
pub fn effective_max_connections(configured: usize, fd_limit: Option<u64>) -> usize {
    let Some(limit) = fd_limit else {
        return configured.max(1);
    };
    let room = limit.saturating_sub(reserved_descriptors(limit)).max(1);
    let room = usize::try_from(room).unwrap_or(usize::MAX);
    configured.min(room).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_to_a_ceiling_and_resets() {
        let mut backoff = Backoff::default();
        let delays: Vec<_> = (0..8).map(|_| backoff.next_delay()).collect();
        assert_eq!(delays[0], FIRST_DELAY);
        assert!(delays.windows(2).all(|w| w[0] <= w[1]));
        assert_eq!(delays[7], MAX_DELAY);
        backoff.reset();
        assert_eq!(backoff.next_delay(), FIRST_DELAY);
    }

    #[test]
    fn open_files_limit_is_parsed() {
        let text = "Limit                     Soft Limit           Hard Limit           Units     \n\
                    Max cpu time              unlimited            unlimited            seconds   \n\
                    Max open files            1024                 524288               files     \n";
        assert_eq!(parse_open_files_limit(text), Some(1024));
        let unlimited =
            "Max open files            unlimited            unlimited            files\n";
        assert_eq!(parse_open_files_limit(unlimited), None);
    }

    #[test]
    fn the_cap_leaves_descriptors_for_the_rest() {
        assert_eq!(effective_max_connections(10_000, None), 10_000);
        assert_eq!(effective_max_connections(10_000, Some(1024)), 768);
        assert_eq!(effective_max_connections(10_000, Some(1_048_576)), 10_000);
        assert_eq!(effective_max_connections(100, Some(1024)), 100);
        assert_eq!(effective_max_connections(10_000, Some(64)), 48);
        assert_eq!(effective_max_connections(10_000, Some(8)), 1);
    }
}
