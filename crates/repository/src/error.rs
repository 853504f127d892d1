use crate::storage::QuotaUsage;

pub type RepoResult<T> = Result<T, RepoError>;

/// What can go wrong in a repository call, in terms the service layer can act on.
/// Driver details stay inside `Internal` and are only ever logged.
#[derive(Debug, thiserror::Error)]
pub enum RepoError {
    /// A unique constraint was violated; carries the constraint name so the caller can say
    /// which field clashed.
    #[error("conflict on {constraint}")]
    Conflict { constraint: String },
    /// A CHECK or foreign-key constraint refused the row.
    #[error("constraint {constraint} refused the row")]
    Constraint { constraint: String },
    /// The write would take a (user, app) past its storage quota; nothing was written.
    #[error("storage quota exceeded")]
    QuotaExceeded(QuotaUsage),
    /// The database cannot be reached right now: no connection within the pool's acquire
    /// timeout, the connection broke, or the server is shutting down or starting up. Nothing
    /// is wrong with the request; the same call may succeed once the database is back.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// The database answered with an unexpected error, or stored data made no sense.
    #[error("database error: {0}")]
    Internal(String),
}
