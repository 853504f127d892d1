use tmcp_repository::{QuotaUsage, RepoError};

const QUOTA_CONSTRAINT: &str = "chk_storage_quota_within_limits";

/// Folds driver errors into repository errors by SQLSTATE and constraint name.
pub fn map_sqlx_error(error: sqlx::Error) -> RepoError {
    if is_unavailable(&error) {
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
