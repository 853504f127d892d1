//! Opens the configured engine and applies its migrations.

use crate::config::{Config, DatabaseTarget};
use anyhow::Context;
use std::sync::Arc;
use std::time::Duration;
use tmcp_postgres::{PgDatabase, PgSettings};
use tmcp_repository::Database;
use tmcp_sqlite::SqliteDatabase;

pub async fn open(config: &Config) -> anyhow::Result<Arc<dyn Database>> {
    match config.database_target() {
        DatabaseTarget::Postgres(url) => {
            let settings = PgSettings {
                max_connections: config.db_max_connections,
                system_max_connections: config.db_system_max_connections,
                acquire_timeout: Duration::from_millis(config.db_acquire_timeout_ms),
            };
            let db = PgDatabase::connect(&url, &settings)
                .await
                .with_context(|| {
                    format!(
                        "cannot open PostgreSQL at {}",
                        crate::config::redact_url(&url)
                    )
                })?;
            tracing::info!(engine = "postgres", "database ready");
            Ok(Arc::new(db))
        }
        DatabaseTarget::Sqlite(path) => {
            let db = SqliteDatabase::connect(&path.to_string_lossy())
                .await
                .with_context(|| format!("cannot open SQLite database {}", path.display()))?;
            tracing::info!(engine = "sqlite", path = %path.display(), "database ready");
            Ok(Arc::new(db))
        }
    }
}
