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
use std::sync::Arc;
use std::time::Duration;
use tmcp_domain::UserId;
use tmcp_repository::replica::ReplicaHealth;
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
    /// Log in as `tmcp_app` and `tmcp_system` themselves (with the URL's password, or one
    /// from `~/.pgpass`) instead of logging in as the URL's role and switching with
    /// `SET ROLE`. Needed behind a transaction-pooling PgBouncer, which hands each
    /// transaction whichever server connection is free: a session's `SET ROLE` would stay
    /// on that server connection and reach other clients. The two roles must then have
    /// `LOGIN` (the migration creates them `NOLOGIN`; a DBA grants it).
    pub login_as_roles: bool,
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
            login_as_roles: false,
        }
    }
}

/// A database handle. The primary's pools serve everything; a handle made by
/// [`PgDatabase::with_replica`] also holds a read replica's pools and sends its queries
/// there while the replica is healthy (see [`ReplicaHealth`]), to the primary otherwise.
/// Only lag-tolerant reads are given such a handle: a replica refuses writes.
#[derive(Debug, Clone)]
pub struct PgDatabase {
    primary_app: PgPool,
    primary_system: PgPool,
    replica: Option<Arc<Replica>>,
}

#[derive(Debug)]
struct Replica {
    app: PgPool,
    system: PgPool,
    health: Arc<ReplicaHealth>,
}

/// A replica that cannot hand out a connection within this long is treated as down by the
/// request that waited (503), and the next probe sends reads to the primary.
pub const REPLICA_ACQUIRE_TIMEOUT: Duration = Duration::from_millis(1000);

/// The replica's replay lag in seconds: 0 when everything received has been replayed (an
/// idle primary writes no new transactions, so the age of the last replayed one is not
/// lag), and 0 on a server that is not in recovery (a primary given as its own replica).
const REPLICA_LAG_SQL: &str = "SELECT CASE \
    WHEN NOT pg_is_in_recovery() THEN 0::float8 \
    WHEN pg_last_wal_receive_lsn() IS NOT DISTINCT FROM pg_last_wal_replay_lsn() THEN 0::float8 \
    ELSE COALESCE(EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp())::float8, 0) END";

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
        Ok(Self {
            primary_app: app,
            primary_system: system,
            replica: None,
        })
    }

    /// A handle for lag-tolerant reads: the same primary pools plus pools on the streaming
    /// replica at `url`, used while `health` says the replica serves reads. The replica's
    /// pools connect lazily (a replica that is down does not stop the server from starting)
    /// and wait at most [`REPLICA_ACQUIRE_TIMEOUT`] for a connection. Nothing is migrated
    /// there: a replica replays the primary's schema.
    pub fn with_replica(
        &self,
        url: &str,
        settings: &PgSettings,
        health: Arc<ReplicaHealth>,
    ) -> RepoResult<Self> {
        let options = PgConnectOptions::from_str(url)
            .map_err(|e| RepoError::Internal(format!("invalid replica URL: {e}")))?
            .log_statements(tracing::log::LevelFilter::Debug);
        let replica_settings = PgSettings {
            acquire_timeout: settings.acquire_timeout.min(REPLICA_ACQUIRE_TIMEOUT),
            ..settings.clone()
        };
        let app = role_pool_options("tmcp_app", &replica_settings)
            .connect_lazy_with(role_options(&options, "tmcp_app", settings));
        let system_settings = PgSettings {
            max_connections: settings.system_max_connections,
            ..replica_settings
        };
        let system = role_pool_options("tmcp_system", &system_settings)
            .connect_lazy_with(role_options(&options, "tmcp_system", settings));
        Ok(Self {
            primary_app: self.primary_app.clone(),
            primary_system: self.primary_system.clone(),
            replica: Some(Arc::new(Replica {
                app,
                system,
                health,
            })),
        })
    }

    /// Measures the replica's replay lag (seconds; see `REPLICA_LAG_SQL`), or `None` when
    /// this handle has no replica. The caller bounds it in time and records the outcome in
    /// the replica's [`ReplicaHealth`].
    pub async fn replica_lag_seconds(&self) -> RepoResult<Option<f64>> {
        let Some(replica) = &self.replica else {
            return Ok(None);
        };
        let (lag,): (f64,) = sqlx::query_as(REPLICA_LAG_SQL)
            .fetch_one(&replica.system)
            .await
            .map_err(map_sqlx_error)?;
        Ok(Some(lag))
    }

    /// The replica's health, when this handle has one.
    pub fn replica_health(&self) -> Option<Arc<ReplicaHealth>> {
        self.replica.as_ref().map(|r| Arc::clone(&r.health))
    }

    /// The pool of request work: the replica's while it serves reads, else the primary's.
    fn app(&self) -> &PgPool {
        match &self.replica {
            Some(replica) if replica.health.serves_reads() => &replica.app,
            _ => &self.primary_app,
        }
    }

    /// The system pool: the replica's while it serves reads, else the primary's.
    fn system(&self) -> &PgPool {
        match &self.replica {
            Some(replica) if replica.health.serves_reads() => &replica.system,
            _ => &self.primary_system,
        }
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
        PgTx::begin(self.app(), Some(begin))
            .await
            .map_err(map_sqlx_error)
    }

    /// Starts a transaction on the system pool (no row-level security).
    async fn system_tx(&self) -> RepoResult<PgTx> {
        PgTx::begin(self.system(), None)
            .await
            .map_err(map_sqlx_error)
    }

    /// The request pool (role `tmcp_app`), for tests that probe row-level security.
    pub fn app_pool(&self) -> &PgPool {
        &self.primary_app
    }

    /// The system pool (role `tmcp_system`).
    pub fn system_pool(&self) -> &PgPool {
        &self.primary_system
    }
}

async fn migrate(options: &PgConnectOptions) -> RepoResult<()> {
    let mut conn = options.connect().await.map_err(map_sqlx_error)?;
    // sqlx's migrator takes a session-level advisory lock. Behind a transaction-pooling
    // PgBouncer its unlock may reach another server connection than its lock, leaving the
    // lock held and the next node's start-up waiting on it for ever; so nothing is locked
    // when nothing is pending (the usual start of a node), and pending migrations are
    // applied over a session connection (`tmcp-server migrate` against the primary itself:
    // docs/operations.md).
    if !migrations_pending(&mut conn).await? {
        return conn.close().await.map_err(map_sqlx_error);
    }
    MIGRATOR
        .run(&mut conn)
        .await
        .map_err(|e| RepoError::Internal(format!("migration failed: {e}")))?;
    conn.close().await.map_err(map_sqlx_error)
}

/// Whether some migration of this build is not recorded as applied (with its checksum) in
/// `_sqlx_migrations`. Read without a lock: a migration applied concurrently is found
/// applied by the locked run that follows.
async fn migrations_pending(conn: &mut sqlx::PgConnection) -> RepoResult<bool> {
    let (exists,): (bool,) = sqlx::query_as("SELECT to_regclass('_sqlx_migrations') IS NOT NULL")
        .fetch_one(&mut *conn)
        .await
        .map_err(map_sqlx_error)?;
    if !exists {
        return Ok(true);
    }
    let applied: Vec<(i64, Vec<u8>, bool)> =
        sqlx::query_as("SELECT version, checksum, success FROM _sqlx_migrations")
            .fetch_all(&mut *conn)
            .await
            .map_err(map_sqlx_error)?;
    Ok(MIGRATOR
        .iter()
        .filter(|m| !m.migration_type.is_down_migration())
        .any(|m| {
            !applied.iter().any(|(version, checksum, success)| {
                *version == m.version && *success && checksum.as_slice() == &*m.checksum
            })
        }))
}

/// How long a pooled connection may sit idle before it is checked when handed out again.
const IDLE_CHECK_AFTER: Duration = Duration::from_secs(1);

/// The connect options of a role's pool: the URL's role, or the role itself when
/// [`PgSettings::login_as_roles`].
fn role_options(options: &PgConnectOptions, role: &str, settings: &PgSettings) -> PgConnectOptions {
    if settings.login_as_roles {
        options.clone().username(role)
    } else {
        options.clone()
    }
}

fn role_pool_options(role: &'static str, settings: &PgSettings) -> PgPoolOptions {
    let set_role = !settings.login_as_roles;
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
                if set_role {
                    // Role names are fixed identifiers, never user input.
                    conn.execute(format!("SET ROLE {role}").as_str()).await?;
                }
                Ok(())
            })
        })
}

async fn role_pool(
    options: &PgConnectOptions,
    role: &'static str,
    settings: &PgSettings,
) -> RepoResult<PgPool> {
    role_pool_options(role, settings)
        .connect_with(role_options(options, role, settings))
        .await
        .map_err(|e| {
            let how = if settings.login_as_roles {
                format!("the role {role} must be allowed to log in")
            } else {
                format!("the connecting role must be allowed to SET ROLE {role}")
            };
            RepoError::Internal(format!("cannot open the {role} pool ({e}); {how}"))
        })
}
