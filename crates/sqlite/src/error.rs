use tmcp_repository::{QuotaUsage, RepoError};

const QUOTA_CONSTRAINT: &str = "chk_storage_quota_within_limits";

/// Folds driver errors into repository errors. SQLite reports constraints in its message:
/// `UNIQUE constraint failed: users.email` becomes the PostgreSQL-style name
/// `users_email_key`, so callers see the same names on both engines.
pub fn map_sqlx_error(error: sqlx::Error) -> RepoError {
    if is_unavailable(&error) {
        return RepoError::Unavailable(error.to_string());
    }
    if let sqlx::Error::Database(db) = &error {
        let message = db.message();
        if let Some(columns) = message.strip_prefix("UNIQUE constraint failed: ") {
            return RepoError::Conflict {
                constraint: unique_name(columns),
            };
        }
        if message.contains(QUOTA_CONSTRAINT) {
            return RepoError::QuotaExceeded(QuotaUsage {
                total_bytes: 0,
                used_bytes: 0,
                total_keys: 0,
                used_keys: 0,
            });
        }
        if let Some(name) = message.strip_prefix("CHECK constraint failed: ") {
            return RepoError::Constraint {
                constraint: name.to_owned(),
            };
        }
        if message.starts_with("FOREIGN KEY constraint failed") {
            return RepoError::Constraint {
                constraint: "foreign_key".into(),
            };
        }
        if let Some(column) = message.strip_prefix("NOT NULL constraint failed: ") {
            return RepoError::Constraint {
                constraint: column.to_owned(),
            };
        }
    }
    RepoError::Internal(error.to_string())
}

/// Whether the database is out of reach for now rather than refusing this statement: the
/// pool gave up waiting, or another process held a lock past the busy timeout
/// (`SQLITE_BUSY`/`SQLITE_LOCKED` and their extended codes, e.g. 517 `BUSY_SNAPSHOT`).
fn is_unavailable(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed => true,
        sqlx::Error::Database(db) => db
            .code()
            .and_then(|code| code.parse::<i32>().ok())
            .is_some_and(|code| matches!(code & 0xff, 5 | 6)),
        _ => false,
    }
}

fn unique_name(columns: &str) -> String {
    let mut table = "";
    let mut names = Vec::new();
    for qualified in columns.split(", ") {
        let (t, column) = qualified.split_once('.').unwrap_or(("", qualified));
        table = t;
        names.push(column);
    }
    format!("{table}_{}_key", names.join("_"))
}

#[cfg(test)]
mod tests {
    use super::{map_sqlx_error, unique_name};
    use tmcp_repository::RepoError;

    #[test]
    fn an_exhausted_pool_is_unavailable_not_internal() {
        for error in [sqlx::Error::PoolTimedOut, sqlx::Error::PoolClosed] {
            assert!(matches!(map_sqlx_error(error), RepoError::Unavailable(_)));
        }
    }

    #[test]
    fn unique_names_match_postgres_defaults() {
        assert_eq!(unique_name("users.email"), "users_email_key");
        assert_eq!(unique_name("a.x, a.y"), "a_x_y_key");
    }
}
