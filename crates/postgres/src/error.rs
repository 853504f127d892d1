use tmcp_repository::{QuotaUsage, RepoError};

const QUOTA_CONSTRAINT: &str = "chk_storage_quota_within_limits";

/// Folds driver errors into repository errors by SQLSTATE and constraint name.
pub fn map_sqlx_error(error: sqlx::Error) -> RepoError {
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
