//! PostgreSQL backend: the system of record in production.
//!
//! Two pools are kept. Request work runs as the `tmcp_app` role, which row-level security
//! confines to the rows of the user named in the transaction-local `tmcp.user_id` setting.
//! System jobs (purges, partition upkeep, admin summaries) run as `tmcp_system`, which
//! bypasses RLS. Migrations run as the connecting (owner) role before either pool opens.

mod accounts;
mod analytics;
mod app_versions;
mod apps;
mod devices;
mod error;
mod idempotency;
mod mfa;
mod oauth;
mod payment_methods;
mod payment_tx;
mod payments;
mod sessions;
mod storage;
mod store;
mod store_search;
mod store_users;
mod stored;
mod system;
mod tokens;
mod top_ups;
mod tx;
mod users;
mod wallet_tx;
mod wallets;
mod webhooks;
mod withdrawal;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, Executor, PgPool};
use std::str::FromStr;
use std::time::Duration;
use tmcp_domain::UserId;
use tmcp_repository::{RepoError, RepoResult};

pub use error::map_sqlx_error;
use tx::PgTx;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Pool sizing and timeouts.
#[derive(Debug, Clone)]
pub struct PgSettings {
    /// The request pool (role `tmcp_app`, row-level security).
    pub max_connections: u32,
    /// The system pool (role `tmcp_system`): token checks, jobs and all money work. Every
    /// ledger transaction holds one of these until its commit, so this bounds how many
    /// payments settle at once (and how many commits share one WAL flush).
    pub system_max_connections: u32,
    /// How long a call waits for a connection before it fails as `RepoError::Unavailable`.
    /// It also bounds opening a new connection: the pool retries a refused connect and gives
    /// each attempt only the time left, so a dead or unreachable server fails within it.
    pub acquire_timeout: Duration,
}

/// Short, so that while the database is down requests fail fast (503) instead of hanging;
/// long enough for a healthy but busy pool to hand out a connection.
pub const DEFAULT_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(2);

impl Default for PgSettings {
    fn default() -> Self {
        Self {
            max_connections: 16,
            system_max_connections: 4,
            acquire_timeout: DEFAULT_ACQUIRE_TIMEOUT,
        }
    }
}

#[derive(Debug, Clone)]
pub struct PgDatabase {
    app: PgPool,
    system: PgPool,
}

impl PgDatabase {
    /// Applies pending migrations with the owner's connection, then opens the role pools.
    pub async fn connect(url: &str, settings: &PgSettings) -> RepoResult<Self> {
        let options = PgConnectOptions::from_str(url)
            .map_err(|e| RepoError::Internal(format!("invalid PostgreSQL URL: {e}")))?
            .log_statements(tracing::log::LevelFilter::Debug);
        migrate(&options).await?;
        let app = role_pool(&options, "tmcp_app", settings).await?;
        let system_settings = PgSettings {
            max_connections: settings.system_max_connections,
            ..settings.clone()
        };
        let system = role_pool(&options, "tmcp_system", &system_settings).await?;
        Ok(Self { app, system })
    }

    /// Starts a request transaction scoped to `user` for row-level security.
    ///
    /// `BEGIN` and the setting travel in one round trip (simple query protocol). The id is
    /// inlined: a `UserId` renders as a hyphenated hex UUID, which cannot carry SQL.
    async fn scoped(&self, user: UserId) -> RepoResult<PgTx> {
        let begin = format!(
            "BEGIN; SELECT set_config('tmcp.user_id', '{}', true)",
            user.0.hyphenated()
        );
        PgTx::begin(&self.app, Some(begin))
            .await
            .map_err(map_sqlx_error)
    }

    /// Starts a transaction on the system pool (no row-level security).
    async fn system_tx(&self) -> RepoResult<PgTx> {
        PgTx::begin(&self.system, None)
            .await
            .map_err(map_sqlx_error)
    }

    /// The request pool (role `tmcp_app`), for tests that probe row-level security.
    pub fn app_pool(&self) -> &PgPool {
        &self.app
    }

    /// The system pool (role `tmcp_system`).
    pub fn system_pool(&self) -> &PgPool {
        &self.system
    }
}

async fn migrate(options: &PgConnectOptions) -> RepoResult<()> {
    let mut conn = options.connect().await.map_err(map_sqlx_error)?;
    MIGRATOR
        .run(&mut conn)
        .await
        .map_err(|e| RepoError::Internal(format!("migration failed: {e}")))?;
    conn.close().await.map_err(map_sqlx_error)
}

/// How long a pooled connection may sit idle before it is checked when handed out again.
const IDLE_CHECK_AFTER: Duration = Duration::from_secs(1);

async fn role_pool(
    options: &PgConnectOptions,
    role: &'static str,
    settings: &PgSettings,
) -> RepoResult<PgPool> {
    PgPoolOptions::new()
        .max_connections(settings.max_connections)
        .acquire_timeout(settings.acquire_timeout)
        // sqlx pings every connection it hands out (and again when it takes it back): a
        // second round trip for a one-statement request. Only a connection that sat idle
        // long enough to have been cut (a database restart, a proxy's idle timeout) is
        // checked, and every one for a while after a connection fault (`error::health`); a
        // busy one proves itself with every query.
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if meta.idle_for >= IDLE_CHECK_AFTER || error::health::recently_faulted() {
                    conn.ping().await?;
                }
                Ok(true)
            })
        })
        // Every transaction ends before its connection is pooled again (see `tx`); one that
        // sqlx still counts as open here was leaked, and its connection is closed instead.
        .after_release(|conn, _meta| Box::pin(async move { Ok(!conn.is_in_transaction()) }))
        .after_connect(move |conn, _meta| {
            Box::pin(async move {
                // Role names are fixed identifiers, never user input.
                conn.execute(format!("SET ROLE {role}").as_str()).await?;
                Ok(())
            })
        })
        .connect_with(options.clone())
        .await
        .map_err(|e| {
            RepoError::Internal(format!(
                "cannot open the {role} pool ({e}); the connecting role must be allowed to SET ROLE {role}"
            ))
        })
}
