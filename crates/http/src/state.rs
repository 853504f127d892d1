use crate::auth::TepService;
use crate::metrics::Metrics;
use crate::middleware::head_limits::HeadLimits;
use crate::ratelimit::{LimitRule, RateLimiter};
use axum::extract::FromRef;
use std::sync::Arc;
use std::time::Duration;
use tmcp_domain::crypto::FieldCipher;
use tmcp_domain::Clock;
use tmcp_repository::replica::ReplicaHealth;
use tmcp_repository::Database;
use tmcp_usecases::accounts::{AccountPorts, AccountSettings};
use tmcp_usecases::oauth::OAuthSettings;
use tmcp_usecases::payments::PaymentSettings;
use tmcp_usecases::storage::StorageSettings;
use tmcp_usecases::store::StoreSettings;
use tmcp_usecases::wallet::{Processors, WalletPorts, WalletSettings};

/// Limits and timeouts of the HTTP layer.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    pub body_limit_bytes: usize,
    pub request_timeout: Duration,
    /// How long `/ready` waits for each dependency.
    pub readiness_timeout: Duration,
    /// Sessions, tokens and login behaviour.
    pub auth: AccountSettings,
    /// Limits of the OAuth endpoints.
    pub oauth: OAuthSettings,
    /// Mounts the `/bench/*` baseline routes (load testing only).
    pub bench_routes: bool,
    /// Storage quotas and rate limits.
    pub storage: StorageSettings,
    /// Payment thresholds, fee and rate limits.
    pub payments: PaymentSettings,
    /// The default limit of every API route (the TMCP protocol §0: 300/min per token or address).
    pub api_rate: LimitRule,
    /// Request line and header size limits (414 / 431 envelopes).
    pub head_limits: HeadLimits,
    /// Payment methods, top-ups and processor timeouts.
    pub wallet: WalletSettings,
    /// Package size and listing limits of the store.
    pub store: StoreSettings,
    /// How long raw analytics events are kept: the developer stats of a zone whose days
    /// start inside a UTC hour read the hours where days meet from them, so only that far
    /// back.
    pub analytics_raw_retention_days: i64,
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            body_limit_bytes: 10 * 1024 * 1024,
            request_timeout: Duration::from_secs(30),
            readiness_timeout: Duration::from_secs(2),
            auth: AccountSettings::default(),
            oauth: OAuthSettings::default(),
            bench_routes: false,
            storage: StorageSettings::default(),
            payments: PaymentSettings::default(),
            api_rate: crate::middleware::limit::DEFAULT_RULE,
            head_limits: HeadLimits::default(),
            wallet: WalletSettings::default(),
            store: StoreSettings::default(),
            analytics_raw_retention_days: 90,
        }
    }
}

/// Everything handlers share: one pointer, so the per-request clones that extractors and
/// middleware make cost one reference count.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

/// The parts of [`AppState`].
#[derive(Clone)]
pub struct Shared {
    /// The primary: every write, and every read that must see the caller's own writes.
    pub db: Arc<dyn Database>,
    /// Lag-tolerant reads only (store browse, search, detail, categories; developer
    /// stats): a read replica while it is healthy, else the primary. The same handle as
    /// `db` without a replica. Never used for writes or for a user's own data.
    pub reads: Arc<dyn Database>,
    /// The read replica's health, reported by `/ready` and `/metrics`, when configured.
    pub replica: Option<Arc<ReplicaWatch>>,
    pub clock: Arc<dyn Clock>,
    /// Redis behind its circuit breaker, when configured.
    pub redis: Option<crate::redis_link::RedisLink>,
    /// Encrypts sensitive columns (phone, MFA secrets) before they reach the database.
    pub cipher: FieldCipher,
    pub metrics: Metrics,
    /// Mints and validates TEP tokens.
    pub tep: Arc<TepService>,
    /// Rate limits shared through Redis when configured.
    pub limiter: Arc<RateLimiter>,
    /// The payment processors top-ups can use, by provider.
    pub processors: Arc<Processors>,
    /// Merchant and platform wallet accounts this process knows are open.
    pub opened_accounts: Arc<tmcp_usecases::payments::opened::OpenedAccounts>,
    /// Object storage of the store's packages (a directory, or a bucket).
    pub packages: Arc<dyn object_store::ObjectStore>,
    /// Recent store listing answers (`[store] search_cache_ms`).
    pub search_cache: Arc<tmcp_usecases::store::search_cache::SearchCache>,
    pub settings: Arc<HttpSettings>,
}

/// A read replica's health and the background task that probes it; the task stops when
/// the last state holding this is dropped.
pub struct ReplicaWatch {
    pub health: Arc<ReplicaHealth>,
    prober: tokio::task::AbortHandle,
}

impl ReplicaWatch {
    pub fn new(health: Arc<ReplicaHealth>, prober: tokio::task::AbortHandle) -> Self {
        Self { health, prober }
    }
}

impl Drop for ReplicaWatch {
    fn drop(&mut self) {
        self.prober.abort();
    }
}

impl AppState {
    pub fn new(shared: Shared) -> Self {
        Self(Arc::new(shared))
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// Changing a field copies the parts if a router already holds this state: setup code and
/// tests adjust a state before serving with it, never a state in use.
impl std::ops::DerefMut for AppState {
    fn deref_mut(&mut self) -> &mut Shared {
        Arc::make_mut(&mut self.0)
    }
}

impl AppState {
    /// What the accounts service's use cases need.
    pub fn account_ports(&self) -> AccountPorts<'_> {
        AccountPorts {
            db: self.db.as_ref(),
            clock: self.clock.as_ref(),
            cipher: &self.cipher,
        }
    }

    /// What the package use cases of the store need.
    pub fn package_ports(&self) -> tmcp_usecases::store::packages::PackagePorts<'_> {
        tmcp_usecases::store::packages::PackagePorts {
            db: self.db.as_ref(),
            clock: self.clock.as_ref(),
            objects: self.packages.as_ref(),
            settings: &self.settings.store,
        }
    }

    /// What the wallet service's use cases need.
    pub fn wallet_ports(&self) -> WalletPorts<'_> {
        WalletPorts {
            db: self.db.as_ref(),
            clock: self.clock.as_ref(),
            processors: &self.processors,
            settings: &self.settings.wallet,
        }
    }
}

/// The part of the state the account handlers that need nothing else take
/// (`State<AccountsState>`): the accounts service's ports and settings.
#[derive(Clone)]
pub struct AccountsState {
    pub db: Arc<dyn Database>,
    pub clock: Arc<dyn Clock>,
    pub cipher: FieldCipher,
    pub settings: AccountSettings,
}

impl AccountsState {
    pub fn ports(&self) -> AccountPorts<'_> {
        AccountPorts {
            db: self.db.as_ref(),
            clock: self.clock.as_ref(),
            cipher: &self.cipher,
        }
    }
}

impl FromRef<AppState> for AccountsState {
    fn from_ref(state: &AppState) -> Self {
        Self {
            db: Arc::clone(&state.db),
            clock: Arc::clone(&state.clock),
            cipher: state.cipher.clone(),
            settings: state.settings.auth.clone(),
        }
    }
}
