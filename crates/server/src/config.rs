//! Configuration: built-in defaults, then an optional TOML file, then `TMCP_*` environment
//! variables (nested keys with `__`, e.g. `TMCP_BACKUP__PG_DUMP`). Validated once at start-up
//! with messages that name the offending setting. Secrets never appear in `Debug` output.

use anyhow::{bail, Context};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

pub mod analytics;
pub mod payments;
pub mod store;
pub mod wallet;
pub mod webhooks;
pub use analytics::AnalyticsConfig;
pub use payments::PaymentsConfig;
pub use store::StoreConfig;
pub use wallet::WalletConfig;
pub use webhooks::WebhooksConfig;

#[derive(Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address to listen on (`TMCP_LISTEN`).
    pub listen: String,
    /// `postgres://…` for PostgreSQL; unset means SQLite at `<data_dir>/tmcp.db`
    /// (`TMCP_DATABASE_URL`).
    pub database_url: Option<String>,
    /// `postgres://…` of a streaming replica of `database_url` (`TMCP_DATABASE_REPLICA_URL`):
    /// lag-tolerant reads (store browse, search, detail, categories; developer stats) go
    /// there while it answers and lags less than 30 s, the rest stays on the primary.
    /// PostgreSQL only: refused at start with SQLite.
    pub database_replica_url: Option<String>,
    /// `redis://…` enables Redis (`TMCP_REDIS_URL`).
    pub redis_url: Option<String>,
    /// Redis timeouts and circuit breaker (`[redis]`, `TMCP_REDIS__*`).
    pub redis: RedisConfig,
    /// Where the SQLite database and generated key files live.
    pub data_dir: PathBuf,
    /// Base64 of 32 bytes for column encryption; unset means a key file in `data_dir`
    /// created once on first start.
    pub encryption_key: Option<String>,
    /// `text` or `json`.
    pub log_format: String,
    /// A tracing filter such as `info` or `tmcp=debug,info` (`RUST_LOG` overrides it).
    pub log_level: String,
    pub db_max_connections: u32,
    /// The PostgreSQL system pool (`TMCP_DB_SYSTEM_MAX_CONNECTIONS`): token checks, jobs and
    /// every money transaction run on it.
    pub db_system_max_connections: u32,
    /// How long a request waits for a PostgreSQL connection, connecting included, before it
    /// fails with 503 (`TMCP_DB_ACQUIRE_TIMEOUT_MS`). Short, so a database outage answers
    /// promptly instead of holding requests.
    pub db_acquire_timeout_ms: u64,
    /// The PostgreSQL pools log in as `tmcp_app` and `tmcp_system` themselves instead of
    /// switching to them with `SET ROLE` (`TMCP_DB_LOGIN_AS_ROLES`): required behind a
    /// transaction-pooling PgBouncer (docs/operations.md). The roles need `LOGIN`.
    pub db_login_as_roles: bool,
    pub request_timeout_secs: u64,
    pub body_limit_bytes: usize,
    pub shutdown_grace_secs: u64,
    /// The externally visible base URL (`iss` of tokens, OAuth metadata); defaults to
    /// `http://<listen>`.
    pub public_url: Option<String>,
    /// TEP signing algorithm: `RS256` (default), `ES256` or `EdDSA`.
    pub tep_signing_algorithm: String,
    /// Default TEP lifetime in seconds (24 h).
    pub tep_lifetime_secs: i64,
    /// Tolerated clock skew when checking a TEP's `exp`/`nbf`, in seconds (5, at most 10).
    pub tep_leeway_secs: u64,
    /// Prefix of every key this deployment writes to Redis, so deployments (and test runs)
    /// can share one Redis (`TMCP_REDIS_NAMESPACE`).
    pub redis_namespace: String,
    /// Mounts `/bench/*` baseline routes for load tests. Never enable in production.
    pub bench_routes: bool,
    /// Default rate limit of every API route per token (or address): requests per minute
    /// and burst (the TMCP protocol §0: 300).
    pub api_rate_per_minute: u32,
    pub api_rate_burst: u32,
    pub maintenance: MaintenanceConfig,
    pub backup: BackupConfig,
    pub auth: AuthConfig,
    pub oauth: OAuthConfig,
    pub storage: StorageConfig,
    pub http: HttpConfig,
    /// Webhook delivery (`[webhooks]`, `TMCP_WEBHOOKS__*`).
    pub webhooks: WebhooksConfig,
    /// Payments (`[payments]`, `TMCP_PAYMENTS__*`).
    pub payments: PaymentsConfig,
    /// Payment methods, top-ups and their processor (`[wallet]`, `TMCP_WALLET__*`).
    pub wallet: WalletConfig,
    /// The mini-app store's packages (`[store]`, `TMCP_STORE__*`).
    pub store: StoreConfig,
    /// The analytics rollup job (`[analytics]`, `TMCP_ANALYTICS__*`).
    pub analytics: AnalyticsConfig,
}

/// Connection handling and request head limits (`[http]`, `TMCP_HTTP__*`).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpConfig {
    /// Seconds a client has to send a complete request head (from its first byte, or from
    /// connecting for the first request); slower connections are closed.
    pub header_read_timeout_secs: u64,
    /// Seconds a keep-alive connection may stay idle between requests.
    pub idle_timeout_secs: u64,
    /// Open client connections at most; further ones wait in the listen backlog. Lowered
    /// at start to fit the open files limit (`ulimit -n`).
    pub max_connections: usize,
    /// Longest request target (path and query) in bytes; longer answers 414.
    pub max_uri_bytes: usize,
    /// Largest total size of the request's header lines in bytes; larger answers 431.
    pub max_header_bytes: usize,
}

impl Default for HttpConfig {
    fn default() -> Self {
        let connections = tmcp_http::transport::ConnectionLimits::default();
        let head = tmcp_http::middleware::head_limits::HeadLimits::default();
        Self {
            header_read_timeout_secs: connections.header_read_timeout.as_secs(),
            idle_timeout_secs: connections.idle_timeout.as_secs(),
            max_connections: connections.max_connections,
            max_uri_bytes: head.max_uri_bytes,
            max_header_bytes: head.max_header_bytes,
        }
    }
}

impl HttpConfig {
    pub fn connection_limits(&self) -> tmcp_http::transport::ConnectionLimits {
        tmcp_http::transport::ConnectionLimits {
            header_read_timeout: std::time::Duration::from_secs(self.header_read_timeout_secs),
            idle_timeout: std::time::Duration::from_secs(self.idle_timeout_secs),
            max_connections: self.max_connections,
        }
    }

    pub fn head_limits(&self) -> tmcp_http::middleware::head_limits::HeadLimits {
        tmcp_http::middleware::head_limits::HeadLimits {
            max_uri_bytes: self.max_uri_bytes,
            max_header_bytes: self.max_header_bytes,
        }
    }

    fn validate(&self) -> anyhow::Result<()> {
        use tmcp_http::middleware::head_limits::HYPER_MAX_URI_BYTES;
        if !(1..=3600).contains(&self.header_read_timeout_secs)
            || !(1..=3600).contains(&self.idle_timeout_secs)
        {
            bail!("http.header_read_timeout_secs and http.idle_timeout_secs must be between 1 and 3600");
        }
        if !(1..=1_000_000).contains(&self.max_connections) {
            bail!("http.max_connections must be between 1 and 1000000");
        }
        if !(256..=HYPER_MAX_URI_BYTES).contains(&self.max_uri_bytes) {
            bail!("http.max_uri_bytes must be between 256 and {HYPER_MAX_URI_BYTES}");
        }
        if !(1024..=1024 * 1024).contains(&self.max_header_bytes) {
            bail!("http.max_header_bytes must be between 1024 and 1048576");
        }
        Ok(())
    }
}

/// Redis timeouts and circuit breaker (`[redis]`, `TMCP_REDIS__*`). A failed Redis command
/// opens the breaker: for `breaker_open_ms` no request touches Redis (rate limits are
/// enforced in-process) while a background probe checks whether it is back.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct RedisConfig {
    /// Each connection attempt gives up after this many milliseconds.
    pub connect_timeout_ms: u64,
    /// Each command gives up after this many milliseconds.
    pub command_timeout_ms: u64,
    /// How long the breaker stays open before the next background probe.
    pub breaker_open_ms: u64,
}

impl Default for RedisConfig {
    fn default() -> Self {
        let defaults = tmcp_http::redis_link::RedisSettings::default();
        let ms = |d: std::time::Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        Self {
            connect_timeout_ms: ms(defaults.connect_timeout),
            command_timeout_ms: ms(defaults.command_timeout),
            breaker_open_ms: ms(defaults.breaker_open),
        }
    }
}

impl RedisConfig {
    pub fn settings(&self) -> tmcp_http::redis_link::RedisSettings {
        use std::time::Duration;
        tmcp_http::redis_link::RedisSettings {
            connect_timeout: Duration::from_millis(self.connect_timeout_ms),
            command_timeout: Duration::from_millis(self.command_timeout_ms),
            breaker_open: Duration::from_millis(self.breaker_open_ms),
        }
    }

    fn validate(&self) -> anyhow::Result<()> {
        if !(1..=60_000).contains(&self.connect_timeout_ms)
            || !(1..=60_000).contains(&self.command_timeout_ms)
        {
            bail!(
                "redis.connect_timeout_ms and redis.command_timeout_ms must be between 1 and 60000"
            );
        }
        if !(10..=3_600_000).contains(&self.breaker_open_ms) {
            bail!("redis.breaker_open_ms must be between 10 and 3600000");
        }
        Ok(())
    }
}

/// OAuth endpoints (`TMCP_OAUTH__*`).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct OAuthConfig {
    /// Requests per minute to the token, revocation, introspection and device authorization
    /// endpoints per (client, caller address) (the TMCP protocol: 30).
    pub token_rate_per_minute: u32,
}

impl Default for OAuthConfig {
    fn default() -> Self {
        Self {
            token_rate_per_minute: 30,
        }
    }
}

/// Accounts and sessions (`TMCP_AUTH__*`).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// Lifetime of a session token in seconds (24 h).
    pub session_ttl_secs: u64,
    /// Lifetime of a refresh token in seconds (30 days).
    pub refresh_ttl_secs: u64,
    /// Use the first `X-Forwarded-For` address as the client address (only behind a proxy
    /// that sets it).
    pub trust_forwarded_for: bool,
    /// Issuer name shown in authenticator apps.
    pub totp_issuer: String,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            session_ttl_secs: 24 * 3600,
            refresh_ttl_secs: 30 * 24 * 3600,
            trust_forwarded_for: false,
            totp_issuer: "TMCP".into(),
        }
    }
}

/// Mini-app storage (`[storage]`, `TMCP_STORAGE__*`).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct StorageConfig {
    /// Bytes per (user, app) unless the app has an override (10 MiB).
    pub quota_bytes: i64,
    /// Keys per (user, app) unless the app has an override (1000).
    pub quota_keys: i64,
    /// Per-app overrides, e.g. `[storage.app_quotas.ma_official] bytes = 52428800`,
    /// `keys = 5000` (official apps may get more).
    pub app_quotas: BTreeMap<String, AppQuota>,
    /// Requests per minute per (user, app) on single-key routes, and the burst.
    pub rate_per_minute: u32,
    pub rate_burst: u32,
    /// Requests per minute per (user, app) on batch routes and sync push, and the burst.
    pub batch_rate_per_minute: u32,
    pub batch_rate_burst: u32,
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AppQuota {
    pub bytes: i64,
    pub keys: i64,
}

impl Default for StorageConfig {
    fn default() -> Self {
        Self {
            quota_bytes: tmcp_domain::storage::DEFAULT_QUOTA_BYTES,
            quota_keys: tmcp_domain::storage::DEFAULT_QUOTA_KEYS,
            app_quotas: BTreeMap::new(),
            rate_per_minute: 100,
            rate_burst: 20,
            batch_rate_per_minute: 10,
            batch_rate_burst: 10,
        }
    }
}

impl StorageConfig {
    pub fn quota_policy(&self) -> tmcp_domain::storage::QuotaPolicy {
        use tmcp_domain::storage::QuotaLimits;
        tmcp_domain::storage::QuotaPolicy {
            default: QuotaLimits {
                total_bytes: self.quota_bytes,
                total_keys: self.quota_keys,
            },
            per_app: self
                .app_quotas
                .iter()
                .map(|(app, q)| {
                    (
                        app.clone(),
                        QuotaLimits {
                            total_bytes: q.bytes,
                            total_keys: q.keys,
                        },
                    )
                })
                .collect(),
        }
    }

    /// The HTTP layer's storage settings.
    pub fn settings(&self) -> tmcp_usecases::storage::StorageSettings {
        use tmcp_http::ratelimit::LimitRule;
        tmcp_usecases::storage::StorageSettings {
            quotas: self.quota_policy(),
            rate: LimitRule::per_minute("storage", self.rate_per_minute, self.rate_burst),
            batch_rate: LimitRule::per_minute(
                "storage_batch",
                self.batch_rate_per_minute,
                self.batch_rate_burst,
            ),
        }
    }

    fn validate(&self) -> anyhow::Result<()> {
        for app in self.app_quotas.keys() {
            if tmcp_domain::AppId::parse(app).is_err() {
                bail!("storage.app_quotas: {app:?} is not a mini-app id (ma_[a-z0-9_]{{3,60}})");
            }
        }
        self.quota_policy()
            .validate()
            .context("storage quota (TMCP_STORAGE__QUOTA_BYTES / QUOTA_KEYS / app_quotas)")?;
        if [
            self.rate_per_minute,
            self.rate_burst,
            self.batch_rate_per_minute,
            self.batch_rate_burst,
        ]
        .contains(&0)
        {
            bail!("storage rate limits and bursts must be at least 1");
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct MaintenanceConfig {
    pub interval_secs: u64,
    /// Monthly partitions kept ready ahead of the current month (PostgreSQL).
    pub partition_months_ahead: i32,
    /// Raw analytics older than this are dropped with their partitions.
    pub analytics_retention_days: i64,
    /// Expired storage entries removed per batch; a run does at most 10 batches.
    pub purge_batch_size: i64,
    /// Storage tombstones (deletions in the sync change feed), finished sync operations and
    /// settled conflicts are kept this long; a sync cursor older than that must resync, and
    /// an op id is deduplicated for at least this long.
    pub storage_sync_retention_days: i64,
    /// How often `store_rankings` recomputes installs, active users, ratings and popularity
    /// of every app (seconds; 600).
    pub store_rankings_interval_secs: u64,
}

#[derive(Clone, Deserialize, Serialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct BackupConfig {
    /// Connection used by `backup`/`restore` on PostgreSQL (e.g. a dedicated backup role);
    /// defaults to `database_url`. Its password is passed to pg_dump via `PGPASSWORD`, never
    /// on the command line.
    pub database_url: Option<String>,
    pub pg_dump: Option<String>,
    pub pg_restore: Option<String>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".into(),
            database_url: None,
            redis_url: None,
            redis: RedisConfig::default(),
            data_dir: PathBuf::from("./data"),
            encryption_key: None,
            log_format: "text".into(),
            log_level: "info".into(),
            db_max_connections: 16,
            db_system_max_connections: 8,
            db_acquire_timeout_ms: 2000,
            db_login_as_roles: false,
            database_replica_url: None,
            request_timeout_secs: 30,
            body_limit_bytes: 10 * 1024 * 1024,
            shutdown_grace_secs: 30,
            public_url: None,
            tep_signing_algorithm: "RS256".into(),
            tep_lifetime_secs: 86_400,
            tep_leeway_secs: tmcp_http::auth::tep::DEFAULT_LEEWAY_SECONDS,
            redis_namespace: "tmcp".into(),
            bench_routes: false,
            api_rate_per_minute: 300,
            api_rate_burst: 300,
            maintenance: MaintenanceConfig::default(),
            backup: BackupConfig::default(),
            storage: StorageConfig::default(),
            auth: AuthConfig::default(),
            oauth: OAuthConfig::default(),
            http: HttpConfig::default(),
            webhooks: WebhooksConfig::default(),
            payments: PaymentsConfig::default(),
            wallet: WalletConfig::default(),
            store: StoreConfig::default(),
            analytics: AnalyticsConfig::default(),
        }
    }
}

impl Default for MaintenanceConfig {
    fn default() -> Self {
        Self {
            interval_secs: 3600,
            partition_months_ahead: 3,
            analytics_retention_days: 90,
            purge_batch_size: 500,
            storage_sync_retention_days: tmcp_domain::storage::DEFAULT_TOMBSTONE_RETENTION_DAYS,
            store_rankings_interval_secs: 600,
        }
    }
}

/// Which engine the configuration selects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseTarget {
    Postgres(String),
    Sqlite(PathBuf),
}

impl Config {
    /// Loads defaults → `file` (if given) → environment, then validates.
    pub fn load(file: Option<&Path>) -> anyhow::Result<Self> {
        let mut builder = config::Config::builder();
        if let Some(path) = file {
            builder = builder.add_source(config::File::from(path).required(true));
        }
        builder = builder.add_source(
            config::Environment::with_prefix("TMCP")
                .prefix_separator("_")
                .separator("__")
                .try_parsing(true)
                .source(Some(settings_from_environment())),
        );
        let mut loaded: Config = builder
            .build()
            .context("cannot read configuration")?
            .try_deserialize()
            .context("invalid configuration")?;
        // An empty variable (`TMCP_DATABASE_URL=`) means "not set", as in most tools.
        for optional in [
            &mut loaded.database_url,
            &mut loaded.database_replica_url,
            &mut loaded.redis_url,
            &mut loaded.encryption_key,
            &mut loaded.public_url,
        ]
        .into_iter()
        .chain(loaded.store.optional_texts())
        {
            if optional.as_deref().is_some_and(|v| v.trim().is_empty()) {
                *optional = None;
            }
        }
        loaded.validate()?;
        Ok(loaded)
    }

    pub fn validate(&self) -> anyhow::Result<()> {
        self.listen_addr()?;
        self.webhooks.validate()?;
        self.wallet.validate()?;
        self.analytics
            .validate(self.maintenance.analytics_retention_days)?;
        if !(1..=1_000_000).contains(&self.oauth.token_rate_per_minute) {
            bail!("oauth.token_rate_per_minute must be between 1 and 1000000");
        }
        if let Some(url) = &self.database_url {
            if !(url.starts_with("postgres://")
                || url.starts_with("postgresql://")
                || url.starts_with("sqlite:"))
            {
                bail!("TMCP_DATABASE_URL must start with postgres://, postgresql:// or sqlite:");
            }
        }
        if let Some(url) = &self.database_replica_url {
            if !matches!(self.database_target(), DatabaseTarget::Postgres(_)) {
                bail!(
                    "TMCP_DATABASE_REPLICA_URL needs PostgreSQL (TMCP_DATABASE_URL=postgres://…): \
                     SQLite has no replicas; unset it"
                );
            }
            if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
                bail!("TMCP_DATABASE_REPLICA_URL must start with postgres:// or postgresql://");
            }
        }
        if let Some(url) = &self.redis_url {
            if !(url.starts_with("redis://") || url.starts_with("rediss://")) {
                bail!("TMCP_REDIS_URL must start with redis:// or rediss://");
            }
        }
        if let Some(key) = &self.encryption_key {
            crate::secrets::decode_key(key).context("TMCP_ENCRYPTION_KEY")?;
        }
        if !matches!(
            self.tep_signing_algorithm.as_str(),
            "RS256" | "ES256" | "EdDSA"
        ) {
            bail!("TMCP_TEP_SIGNING_ALGORITHM must be RS256, ES256 or EdDSA");
        }
        if !(60..=30 * 86_400).contains(&self.tep_lifetime_secs) {
            bail!("TMCP_TEP_LIFETIME_SECS must be between 60 and 2592000");
        }
        if self.tep_leeway_secs > tmcp_http::auth::tep::MAX_LEEWAY_SECONDS {
            bail!(
                "TMCP_TEP_LEEWAY_SECS must be between 0 and {}",
                tmcp_http::auth::tep::MAX_LEEWAY_SECONDS
            );
        }
        if self.redis_namespace.is_empty()
            || self.redis_namespace.len() > 64
            || !self
                .redis_namespace
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        {
            bail!("TMCP_REDIS_NAMESPACE must be 1-64 of [A-Za-z0-9._-]");
        }
        if let Some(url) = &self.public_url {
            if !(url.starts_with("http://") || url.starts_with("https://")) || url.ends_with('/') {
                bail!("TMCP_PUBLIC_URL must be an http(s) URL without a trailing slash");
            }
        }
        if !(60..=30 * 86_400).contains(&self.auth.session_ttl_secs) {
            bail!("auth.session_ttl_secs must be between 60 and 2592000");
        }
        if !(self.auth.session_ttl_secs..=365 * 86_400).contains(&self.auth.refresh_ttl_secs) {
            bail!("auth.refresh_ttl_secs must be at least session_ttl_secs and at most 365 days");
        }
        if self.auth.totp_issuer.is_empty()
            || self.auth.totp_issuer.len() > 64
            || self.auth.totp_issuer.contains(':')
        {
            bail!("auth.totp_issuer must be 1 to 64 characters without ':'");
        }
        if !matches!(self.log_format.as_str(), "text" | "json") {
            bail!("TMCP_LOG_FORMAT must be 'text' or 'json'");
        }
        if self.db_max_connections == 0 {
            bail!("TMCP_DB_MAX_CONNECTIONS must be at least 1");
        }
        if self.db_system_max_connections == 0 {
            bail!("TMCP_DB_SYSTEM_MAX_CONNECTIONS must be at least 1");
        }
        if !(50..=600_000).contains(&self.db_acquire_timeout_ms) {
            bail!("TMCP_DB_ACQUIRE_TIMEOUT_MS must be between 50 and 600000");
        }
        if self.body_limit_bytes < 1024 {
            bail!("TMCP_BODY_LIMIT_BYTES must be at least 1024");
        }
        if self.request_timeout_secs == 0 || self.maintenance.interval_secs == 0 {
            bail!("timeouts and intervals must be positive");
        }
        if !(1..=24).contains(&self.maintenance.partition_months_ahead) {
            bail!("maintenance.partition_months_ahead must be between 1 and 24");
        }
        if self.maintenance.analytics_retention_days < 1 || self.maintenance.purge_batch_size < 1 {
            bail!("maintenance.analytics_retention_days and purge_batch_size must be positive");
        }
        if !(10..=86_400).contains(&self.maintenance.store_rankings_interval_secs) {
            bail!("maintenance.store_rankings_interval_secs must be between 10 and 86400");
        }
        if !(1..=3650).contains(&self.maintenance.storage_sync_retention_days) {
            bail!("maintenance.storage_sync_retention_days must be between 1 and 3650");
        }
        if self.api_rate_per_minute == 0 || self.api_rate_burst == 0 {
            bail!("TMCP_API_RATE_PER_MINUTE and TMCP_API_RATE_BURST must be at least 1");
        }
        self.storage.validate()?;
        self.store.validate()?;
        self.payments.validate()?;
        self.redis.validate()?;
        self.http.validate()?;
        Ok(())
    }

    pub fn listen_addr(&self) -> anyhow::Result<SocketAddr> {
        self.listen
            .parse()
            .with_context(|| format!("TMCP_LISTEN must be host:port, got {:?}", self.listen))
    }

    /// The issuer / public base URL.
    pub fn public_url(&self) -> String {
        self.public_url
            .clone()
            .unwrap_or_else(|| format!("http://{}", self.listen))
    }

    pub fn database_target(&self) -> DatabaseTarget {
        match &self.database_url {
            Some(url) if url.starts_with("postgres") => DatabaseTarget::Postgres(url.clone()),
            Some(url) => {
                let path = url
                    .trim_start_matches("sqlite://")
                    .trim_start_matches("sqlite:");
                DatabaseTarget::Sqlite(PathBuf::from(path))
            }
            None => DatabaseTarget::Sqlite(self.data_dir.join("tmcp.db")),
        }
    }
}

/// `TMCP_*` variables that are settings. `TMCP_CONFIG` names the file itself and
/// `TMCP_TEST_*` belong to the test harness; neither is a setting, and unknown settings are
/// refused, so they are left out here.
fn settings_from_environment() -> config::Map<String, String> {
    std::env::vars()
        .filter(|(name, _)| {
            name.starts_with("TMCP_") && name != "TMCP_CONFIG" && !name.starts_with("TMCP_TEST_")
        })
        .collect()
}

impl Config {
    /// The effective configuration as TOML that `--config` accepts back. Secrets are not
    /// printed: the encryption key and URLs carrying a password are withheld and named in
    /// comments (with the password masked), to be supplied through `TMCP_*` variables.
    pub fn to_toml(&self) -> anyhow::Result<String> {
        let mut public = self.clone();
        let mut withheld = Vec::new();
        if public.encryption_key.take().is_some() {
            withheld.push("encryption_key = \"<set>\"".to_owned());
        }
        if public.store.s3_secret_access_key.take().is_some() {
            withheld.push("store.s3_secret_access_key = \"<set>\"".to_owned());
        }
        for (name, slot) in [
            ("database_url", &mut public.database_url),
            ("database_replica_url", &mut public.database_replica_url),
            ("redis_url", &mut public.redis_url),
            ("backup.database_url", &mut public.backup.database_url),
        ] {
            let has_password = slot
                .as_deref()
                .and_then(|raw| url::Url::parse(raw).ok())
                .is_some_and(|parsed| parsed.password().is_some());
            if has_password {
                if let Some(raw) = slot.take() {
                    withheld.push(format!("{name} = \"{}\"", redact_url(&raw)));
                }
            }
        }
        let body = toml::to_string(&public).context("configuration as TOML")?;
        let mut out = String::new();
        if !withheld.is_empty() {
            out.push_str("# Withheld secrets (set through TMCP_* environment variables):\n");
            for line in withheld {
                out.push_str("# ");
                out.push_str(&line);
                out.push('\n');
            }
        }
        out.push_str(&body);
        Ok(out)
    }
}

/// Replaces the password of a URL with `***` for display.
pub fn redact_url(raw: &str) -> String {
    match url::Url::parse(raw) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        Ok(parsed) => parsed.to_string(),
        Err(_) => "<unparseable url>".into(),
    }
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("listen", &self.listen)
            .field(
                "database_url",
                &self.database_url.as_deref().map(redact_url),
            )
            .field(
                "database_replica_url",
                &self.database_replica_url.as_deref().map(redact_url),
            )
            .field("redis_url", &self.redis_url.as_deref().map(redact_url))
            .field("redis", &self.redis)
            .field("data_dir", &self.data_dir)
            .field(
                "encryption_key",
                &self.encryption_key.as_ref().map(|_| "<redacted>"),
            )
            .field("log_format", &self.log_format)
            .field("log_level", &self.log_level)
            .field("db_max_connections", &self.db_max_connections)
            .field("db_system_max_connections", &self.db_system_max_connections)
            .field("db_acquire_timeout_ms", &self.db_acquire_timeout_ms)
            .field("db_login_as_roles", &self.db_login_as_roles)
            .field("maintenance", &self.maintenance)
            .field("storage", &self.storage)
            .field("auth", &self.auth)
            .field("oauth", &self.oauth)
            .field("http", &self.http)
            .field("webhooks", &self.webhooks)
            .field("wallet", &self.wallet)
            .field("store", &self.store)
            .field("analytics", &self.analytics)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_zero_setup_sqlite() {
        let config = Config::default();
        assert!(config.validate().is_ok());
        assert_eq!(
            config.database_target(),
            DatabaseTarget::Sqlite(PathBuf::from("./data/tmcp.db"))
        );
        assert_eq!(config.listen_addr().ok(), "127.0.0.1:8080".parse().ok());
    }

    #[test]
    fn a_replica_needs_postgresql() {
        let on_sqlite = Config {
            database_replica_url: Some("postgres://replica.internal/tmcp".into()),
            ..Config::default()
        };
        let message = on_sqlite
            .validate()
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(message.contains("TMCP_DATABASE_REPLICA_URL"), "{message}");
        assert!(message.contains("SQLite"), "{message}");
        let on_postgres = Config {
            database_url: Some("postgres://primary.internal/tmcp".into()),
            ..on_sqlite.clone()
        };
        assert!(on_postgres.validate().is_ok());
        let not_postgres = Config {
            database_replica_url: Some("redis://replica.internal".into()),
            ..on_postgres
        };
        assert!(not_postgres.validate().is_err());
    }

    #[test]
    fn bad_values_are_named_in_the_error() {
        let config = Config {
            listen: "nope".into(),
            ..Config::default()
        };
        let message = format!(
            "{:#}",
            config
                .validate()
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default()
        );
        assert!(message.contains("TMCP_LISTEN"), "{message}");
        let config = Config {
            database_url: Some("mysql://x".into()),
            ..Config::default()
        };
        assert!(config.validate().is_err());
        let config = Config {
            encryption_key: Some("short".into()),
            ..Config::default()
        };
        assert!(config.validate().is_err());
        let config = Config {
            db_acquire_timeout_ms: 0,
            ..Config::default()
        };
        assert!(config.validate().is_err());
    }

    #[test]
    fn storage_quotas_and_limits_are_validated() {
        let mut config = Config::default();
        config.storage.app_quotas.insert(
            "ma_official".into(),
            AppQuota {
                bytes: 50 * 1024 * 1024,
                keys: 5000,
            },
        );
        assert!(config.validate().is_ok());
        let settings = config.storage.settings();
        let official = tmcp_domain::AppId::parse("ma_official").expect("app id");
        let other = tmcp_domain::AppId::parse("ma_other").expect("app id");
        assert_eq!(settings.quotas.for_app(&official).total_keys, 5000);
        assert_eq!(settings.quotas.for_app(&other).total_bytes, 10_485_760);
        assert_eq!((settings.rate.rate, settings.rate.burst), (100, 20));
        assert_eq!(settings.batch_rate.rate, 10);

        let mut bad = Config::default();
        bad.storage
            .app_quotas
            .insert("Not An App".into(), AppQuota { bytes: 1, keys: 1 });
        assert!(bad.validate().is_err());
        let mut bad = Config::default();
        bad.storage.quota_keys = 0;
        assert!(bad.validate().is_err());
        let mut bad = Config::default();
        bad.storage.rate_burst = 0;
        assert!(bad.validate().is_err());
        let mut bad = Config::default();
        bad.maintenance.storage_sync_retention_days = 0;
        assert!(bad.validate().is_err());
    }

    #[test]
    fn printed_toml_loads_back_and_hides_secrets() {
        let config = Config {
            database_url: Some("postgres://tmcp:hunter2@db.internal/tmcp".into()),
            encryption_key: Some("c2VjcmV0".into()),
            ..Config::default()
        };
        let printed = config.to_toml().expect("toml");
        assert!(!printed.contains("hunter2"), "{printed}");
        assert!(!printed.contains("c2VjcmV0"), "{printed}");
        assert!(printed.contains("# database_url = \"postgres://tmcp:***@db.internal/tmcp\""));
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("tmcp.toml");
        std::fs::write(&file, &printed).expect("written");
        let loaded = Config::load(Some(&file)).expect("printed config loads back");
        assert_eq!(
            loaded.to_toml().expect("toml"),
            Config::default().to_toml().expect("toml")
        );
    }

    #[test]
    fn redis_timeouts_and_breaker_are_validated() {
        let config = Config::default();
        let settings = config.redis.settings();
        assert_eq!(
            settings,
            tmcp_http::redis_link::RedisSettings::default(),
            "the configuration's defaults are the library's"
        );
        assert_eq!(settings.command_timeout.as_millis(), 250);
        for bad in [
            RedisConfig {
                connect_timeout_ms: 0,
                ..RedisConfig::default()
            },
            RedisConfig {
                command_timeout_ms: 60_001,
                ..RedisConfig::default()
            },
            RedisConfig {
                breaker_open_ms: 0,
                ..RedisConfig::default()
            },
        ] {
            let config = Config {
                redis: bad,
                ..Config::default()
            };
            let message = config.validate().err().map(|e| e.to_string());
            assert!(
                message.as_deref().is_some_and(|m| m.contains("redis.")),
                "{message:?}"
            );
        }
    }

    #[test]
    fn http_limits_are_validated() {
        let defaults = Config::default();
        assert_eq!(defaults.http.header_read_timeout_secs, 10);
        assert_eq!(defaults.http.idle_timeout_secs, 60);
        assert_eq!(defaults.http.max_connections, 10_000);
        let mut bad = Config::default();
        bad.http.max_uri_bytes = 70_000;
        assert!(bad.validate().is_err(), "above hyper's fixed URI cap");
        let mut bad = Config::default();
        bad.http.idle_timeout_secs = 0;
        assert!(bad.validate().is_err());
        let mut bad = Config::default();
        bad.http.max_connections = 0;
        assert!(bad.validate().is_err());
        let mut bad = Config::default();
        bad.http.max_header_bytes = 100;
        assert!(bad.validate().is_err());
    }

    #[test]
    fn debug_output_hides_secrets() {
        let mut config = Config {
            database_url: Some("postgres://app:hunter2@db/tmcp".into()),
            encryption_key: Some("c2VjcmV0".into()),
            ..Config::default()
        };
        config.store.s3_secret_access_key = Some("s3-secret-key".into());
        let shown = format!("{config:?}");
        assert!(
            !shown.contains("hunter2")
                && !shown.contains("c2VjcmV0")
                && !shown.contains("s3-secret-key"),
            "{shown}"
        );
    }

    #[test]
    fn printed_toml_withholds_the_s3_secret_key() {
        let config = Config {
            store: StoreConfig {
                packages_backend: store::PackagesBackend::S3,
                s3_bucket: Some("tmcp-packages".into()),
                s3_access_key_id: Some("AKIDEXAMPLE".into()),
                s3_secret_access_key: Some("s3-secret-key".into()),
                ..StoreConfig::default()
            },
            ..Config::default()
        };
        assert!(config.validate().is_ok());
        let printed = config.to_toml().expect("toml");
        assert!(!printed.contains("s3-secret-key"), "{printed}");
        assert!(printed.contains("# store.s3_secret_access_key = \"<set>\""));
        assert!(printed.contains("packages_backend = \"s3\""), "{printed}");
    }
}
