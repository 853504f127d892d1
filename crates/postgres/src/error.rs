use tmcp_repository::{QuotaUsage, RepoError};

const QUOTA_CONSTRAINT: &str = "chk_storage_quota_within_limits";

/// Folds driver errors into repository errors by SQLSTATE and constraint name.
pub fn map_sqlx_error(error: sqlx::Error) -> RepoError {
    if is_unavailable(&error) {
        if is_connection_fault(&error) {
            health::note_fault();
        }
        return RepoError::Unavailable(error.to_string());
    }
    if let sqlx::Error::Database(db) = &error {
        let constraint = db.constraint().unwrap_or_default().to_owned();
        match db.code().as_deref() {
            Some("23505") => return RepoError::Conflict { constraint },
            Some("23514") if constraint == QUOTA_CONSTRAINT => {
                // The caller re-reads the usage to report it; zeros are placeholders.
                return RepoError::QuotaExceeded(QuotaUsage {
                    total_bytes: 0,
                    used_bytes: 0,
                    total_keys: 0,
                    used_keys: 0,
                });
            }
            Some("23514" | "23503" | "23502" | "22001") => {
                return RepoError::Constraint { constraint };
            }
            _ => {}
        }
    }
    RepoError::Internal(error.to_string())
}

/// Whether a connection broke or the server went away: after these, pooled connections may
/// be stale. Not a pool timeout or "too many connections": those are overload, where a
/// ping per checkout would add load.
fn is_connection_fault(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Io(_) => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|code| {
            code.starts_with("08") || matches!(code.as_ref(), "57P01" | "57P02" | "57P03")
        }),
        _ => false,
    }
}

/// Whether the error says "the server cannot be reached right now" rather than "this
/// statement is wrong": the pool gave up waiting (a refused or hanging connect ends there),
/// the socket broke, or the server refuses work while shutting down, crashing or starting.
fn is_unavailable(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|code| {
            // Class 08: connection exceptions. 57P01–57P03: admin shutdown, crash shutdown,
            // cannot connect now. 53300: too many connections.
            code.starts_with("08") || matches!(code.as_ref(), "57P01" | "57P02" | "57P03" | "53300")
        }),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::map_sqlx_error;
    use tmcp_repository::RepoError;

    #[test]
    fn lost_connections_are_unavailable_not_internal() {
        for error in [
            sqlx::Error::PoolTimedOut,
            sqlx::Error::PoolClosed,
            sqlx::Error::Io(std::io::ErrorKind::ConnectionRefused.into()),
            sqlx::Error::Io(std::io::ErrorKind::UnexpectedEof.into()),
        ] {
            assert!(matches!(map_sqlx_error(error), RepoError::Unavailable(_)));
        }
        assert!(matches!(
            map_sqlx_error(sqlx::Error::RowNotFound),
            RepoError::Internal(_)
        ));
    }
}

/// Whether pooled connections should be checked before use. The pools skip sqlx's ping on
/// every checkout (a round trip per request); instead they check a connection that sat
/// idle, and every connection for a while after a connection fault (`is_connection_fault`),
/// so that after a restart a stale connection is replaced before it can fail a request.
pub(crate) mod health {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::OnceLock;
    use std::time::{Duration, Instant};

    /// How long after a fault every checkout is checked.
    const SUSPECT_FOR: Duration = Duration::from_secs(30);

    /// Milliseconds since the first call (monotonic: connection health is about real
    /// elapsed time, not the injected clock); 0 means "no fault yet".
    static LAST_FAULT_MS: AtomicU64 = AtomicU64::new(0);

    fn elapsed_ms() -> u64 {
        static START: OnceLock<Instant> = OnceLock::new();
        let since = START.get_or_init(Instant::now).elapsed();
        u64::try_from(since.as_millis())
            .unwrap_or(u64::MAX)
            .saturating_add(1)
    }

    pub fn note_fault() {
        LAST_FAULT_MS.store(elapsed_ms(), Ordering::Relaxed);
    }

    pub fn recently_faulted() -> bool {
        let last = LAST_FAULT_MS.load(Ordering::Relaxed);
        let window = u64::try_from(SUSPECT_FOR.as_millis()).unwrap_or(u64::MAX);
        last != 0 && elapsed_ms().saturating_sub(last) < window
    }
}
