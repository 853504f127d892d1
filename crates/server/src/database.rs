//! Opens the configured engine and applies its migrations.

use crate::config::{Config, DatabaseTarget};
use anyhow::Context;
use std::sync::Arc;
use std::time::Duration;
use tmcp_postgres::{PgDatabase, PgSettings};
use tmcp_repository::replica::ReplicaHealth;
use tmcp_repository::Database;
use tmcp_sqlite::SqliteDatabase;

/// A replica lagging more than this serves no reads until it catches up.
pub const REPLICA_MAX_LAG_SECONDS: f64 = 30.0;
/// How often each API node measures its replica's lag and health.
pub const REPLICA_PROBE_INTERVAL: Duration = Duration::from_secs(1);
/// A probe that takes longer than this marks the replica down.
pub const REPLICA_PROBE_TIMEOUT: Duration = Duration::from_millis(1000);

/// The handles an API node serves with.
pub struct Databases {
    /// The primary: every write, and every read that must see the caller's own writes.
    pub db: Arc<dyn Database>,
    /// Lag-tolerant reads: the replica while it is healthy, else the primary; the same
    /// handle as `db` when no replica is configured.
    pub reads: Arc<dyn Database>,
    /// The replica, when one is configured.
    pub replica: Option<ReplicaLink>,
}

/// A configured replica: its health and the handle that probes it.
pub struct ReplicaLink {
    pub health: Arc<ReplicaHealth>,
    probe: PgDatabase,
}

impl ReplicaLink {
    /// Measures the replica's lag once, bounded by [`REPLICA_PROBE_TIMEOUT`], and records
    /// the outcome: reads follow it from the next query on.
    pub async fn probe(&self) {
        match tokio::time::timeout(REPLICA_PROBE_TIMEOUT, self.probe.replica_lag_seconds()).await {
            Ok(Ok(Some(lag))) => {
                let was = self.health.state();
                self.health.record_lag(lag);
                if was != self.health.state() {
                    tracing::info!(
                        lag_seconds = lag,
                        state = self.health.state().as_str(),
                        "read replica state changed"
                    );
                }
            }
            Ok(Ok(None)) => {}
            Ok(Err(e)) => self.down(&e.to_string()),
            Err(_) => self.down("probe timed out"),
        }
    }

    fn down(&self, why: &str) {
        if self.health.serves_reads() {
            tracing::warn!(
                error = why,
                "read replica unreachable; lag-tolerant reads go to the primary"
            );
        }
        self.health.record_down();
    }

    /// Probes every [`REPLICA_PROBE_INTERVAL`] until the task is aborted.
    pub fn spawn_prober(self) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(REPLICA_PROBE_INTERVAL);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                self.probe().await;
            }
        })
    }
}

fn pg_settings(config: &Config) -> PgSettings {
    PgSettings {
        max_connections: config.db_max_connections,
        system_max_connections: config.db_system_max_connections,
        acquire_timeout: Duration::from_millis(config.db_acquire_timeout_ms),
        login_as_roles: config.db_login_as_roles,
    }
}

async fn open_postgres(config: &Config, url: &str) -> anyhow::Result<PgDatabase> {
    let db = PgDatabase::connect(url, &pg_settings(config))
        .await
        .with_context(|| {
            format!(
                "cannot open PostgreSQL at {}",
                crate::config::redact_url(url)
            )
        })?;
    tracing::info!(engine = "postgres", "database ready");
    Ok(db)
}

pub async fn open(config: &Config) -> anyhow::Result<Arc<dyn Database>> {
    match config.database_target() {
        DatabaseTarget::Postgres(url) => Ok(Arc::new(open_postgres(config, &url).await?)),
        DatabaseTarget::Sqlite(path) => {
            let db = SqliteDatabase::connect(&path.to_string_lossy())
                .await
                .with_context(|| format!("cannot open SQLite database {}", path.display()))?;
            tracing::info!(engine = "sqlite", path = %path.display(), "database ready");
            Ok(Arc::new(db))
        }
    }
}

/// [`open`], plus the handle of lag-tolerant reads (`database_replica_url`). The replica is
/// not required to answer at start: reads go to the primary until its first probe answers.
pub async fn open_with_reads(config: &Config) -> anyhow::Result<Databases> {
    let (DatabaseTarget::Postgres(url), Some(replica_url)) = (
        config.database_target(),
        config.database_replica_url.as_deref(),
    ) else {
        let db = open(config).await?;
        return Ok(Databases {
            reads: Arc::clone(&db),
            db,
            replica: None,
        });
    };
    let primary = open_postgres(config, &url).await?;
    let health = Arc::new(ReplicaHealth::new(REPLICA_MAX_LAG_SECONDS));
    let reads = primary
        .with_replica(replica_url, &pg_settings(config), Arc::clone(&health))
        .context("TMCP_DATABASE_REPLICA_URL")?;
    tracing::info!(
        replica = %crate::config::redact_url(replica_url),
        "lag-tolerant reads go to the read replica while it is healthy"
    );
    Ok(Databases {
        db: Arc::new(primary),
        reads: Arc::new(reads.clone()),
        replica: Some(ReplicaLink {
            health,
            probe: reads,
        }),
    })
}
