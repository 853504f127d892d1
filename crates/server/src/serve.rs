//! `tmcp-server serve`: open the database, run upkeep, serve HTTP (and, unless `--no-jobs`,
//! the background jobs) until SIGTERM/Ctrl-C, then let in-flight requests and job batches
//! finish.

use crate::config::Config;
use crate::{database, maintenance, secrets};
use anyhow::Context;
use std::sync::Arc;
use std::time::Duration;
use tmcp_domain::crypto::FieldCipher;
use tmcp_domain::{Clock, SystemClock};
use tmcp_http::auth::keys;
use tmcp_http::auth::{TepService, TepSettings};
use tmcp_http::metrics::Metrics;
use tmcp_http::ratelimit::RateLimiter;
use tmcp_http::redis_link::RedisLink;
use tmcp_http::transport::{self, ConnectionLimits};
use tmcp_http::{AppState, HttpSettings, ReplicaWatch, Shared};
use tmcp_usecases::accounts::AccountSettings;
use tmcp_usecases::limits::LimitRule;
use tmcp_usecases::oauth::OAuthSettings;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// Builds the shared state from configuration (database opened and migrated).
pub async fn build_state(config: &Config, clock: Arc<dyn Clock>) -> anyhow::Result<AppState> {
    let database::Databases { db, reads, replica } = database::open_with_reads(config).await?;
    let replica = replica.map(|link| {
        let health = Arc::clone(&link.health);
        let prober = link.spawn_prober();
        Arc::new(ReplicaWatch::new(health, prober.abort_handle()))
    });
    let redis = match &config.redis_url {
        Some(url) => {
            let client = redis::Client::open(url.as_str()).context("invalid TMCP_REDIS_URL")?;
            let link = RedisLink::connect(client, config.redis.settings())
                .await
                .with_context(|| {
                    format!("cannot reach Redis at {}", crate::config::redact_url(url))
                })?;
            Some(link)
        }
        None => None,
    };
    let key = match &config.encryption_key {
        Some(encoded) => secrets::decode_key(encoded)?,
        None => secrets::load_or_create_key_file(&config.data_dir)?,
    };
    let cipher = FieldCipher::new(&key).context("encryption key")?;
    let algorithm = keys::parse_algorithm(&config.tep_signing_algorithm)?;
    let ring = keys::load_key_ring(db.as_ref(), &cipher, algorithm, clock.now()).await?;
    let tep_settings = TepSettings {
        issuer: config.public_url(),
        default_lifetime: time::Duration::seconds(config.tep_lifetime_secs),
        leeway_seconds: config.tep_leeway_secs,
        ..TepSettings::default()
    };
    let limiter = RateLimiter::new(redis.clone(), config.redis_namespace.clone());
    let packages = crate::packages::open(&config.store, &config.data_dir).await?;
    Ok(AppState::new(Shared {
        db,
        reads,
        replica,
        clock,
        redis,
        cipher,
        metrics: Metrics::install(),
        tep: Arc::new(TepService::new(ring, tep_settings)),
        limiter: Arc::new(limiter),
        processors: Arc::new(config.wallet.processors()),
        opened_accounts: Arc::default(),
        packages,
        search_cache: Arc::new(tmcp_usecases::store::search_cache::SearchCache::new(
            Duration::from_millis(config.store.search_cache_ms),
        )),
        settings: Arc::new(HttpSettings {
            body_limit_bytes: config.body_limit_bytes,
            request_timeout: Duration::from_secs(config.request_timeout_secs),
            auth: AccountSettings {
                session_ttl: Duration::from_secs(config.auth.session_ttl_secs),
                refresh_ttl: Duration::from_secs(config.auth.refresh_ttl_secs),
                trust_forwarded_for: config.auth.trust_forwarded_for,
                totp_issuer: config.auth.totp_issuer.clone(),
            },
            oauth: OAuthSettings {
                token_rate_per_minute: config.oauth.token_rate_per_minute,
            },
            bench_routes: config.bench_routes,
            storage: config.storage.settings(),
            payments: config.payments.settings(&config.wallet),
            api_rate: LimitRule::per_minute(
                "api_default",
                config.api_rate_per_minute,
                config.api_rate_burst,
            ),
            head_limits: config.http.head_limits(),
            wallet: config.wallet.settings(),
            store: tmcp_usecases::store::StoreSettings {
                allow_private_webhook_targets: config.webhooks.allow_private_targets,
                ..config.store.settings()
            },
            analytics_raw_retention_days: config.maintenance.analytics_retention_days,
            ..HttpSettings::default()
        }),
    }))
}

/// A running server, for tests and for `serve`.
pub struct RunningServer {
    pub addr: std::net::SocketAddr,
    shutdown: watch::Sender<bool>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
    jobs: Option<tmcp_jobs::RunnerHandle>,
}

impl RunningServer {
    /// Asks the server to stop and waits for in-flight requests, then job batches, to finish.
    pub async fn stop(self) -> anyhow::Result<()> {
        let _ = self.shutdown.send(true);
        let served = self.task.await.context("server task panicked")?;
        if let Some(jobs) = self.jobs {
            jobs.stop().await;
        }
        served
    }
}

/// Binds, runs start-up maintenance and serves in the background, with the background jobs.
pub async fn start(config: &Config, clock: Arc<dyn Clock>) -> anyhow::Result<RunningServer> {
    start_with(config, clock, true).await
}

/// [`start`], with the background jobs only if `run_jobs` (`serve --no-jobs` leaves them to
/// `worker` processes).
pub async fn start_with(
    config: &Config,
    clock: Arc<dyn Clock>,
    run_jobs: bool,
) -> anyhow::Result<RunningServer> {
    let state = build_state(config, clock.clone()).await?;
    let report = maintenance::run_once(state.db.as_ref(), clock.as_ref(), &config.maintenance)
        .await
        .context("start-up maintenance (partitions) failed")?;
    tracing::info!(?report, "start-up maintenance done");

    let listener = TcpListener::bind(config.listen_addr()?)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let runner = if run_jobs {
        Some(crate::jobs::runner(
            config,
            state.db.clone(),
            state.cipher.clone(),
            clock,
            // The same processors as the API: the sandbox remembers its charges per key.
            (*state.processors).clone(),
        )?)
    } else {
        None
    };
    let mut app = tmcp_http::router(state);
    if config.bench_routes {
        app = app.merge(crate::bench_ceiling::routes(config).await?);
    }
    let mut server = spawn_http(listener, app, config.http.connection_limits())?;
    server.jobs = runner.map(tmcp_jobs::Runner::spawn);
    Ok(server)
}

/// Serves `app` on `listener` in the background until [`RunningServer::stop`]; in-flight
/// requests are allowed to finish (graceful shutdown).
pub fn spawn_http(
    listener: TcpListener,
    app: axum::Router,
    limits: ConnectionLimits,
) -> anyhow::Result<RunningServer> {
    let addr = listener.local_addr()?;
    let (shutdown, mut stop_signal) = watch::channel(false);
    let task = tokio::spawn(async move {
        transport::serve(listener, app, limits, async move {
            let _ = stop_signal.changed().await;
        })
        .await;
        Ok(())
    });
    Ok(RunningServer {
        addr,
        shutdown,
        task,
        jobs: None,
    })
}

/// `serve`: runs until SIGTERM or Ctrl-C, then drains for at most the grace period.
pub async fn run(config: Config, run_jobs: bool) -> anyhow::Result<()> {
    let server = start_with(&config, Arc::new(SystemClock), run_jobs).await?;
    tracing::info!(addr = %server.addr, "TMCP server listening");
    wait_for_signal().await;
    tracing::info!("shutting down; waiting for in-flight requests");
    let grace = Duration::from_secs(config.shutdown_grace_secs);
    match tokio::time::timeout(grace, server.stop()).await {
        Ok(result) => result,
        Err(_) => {
            tracing::warn!("grace period over; exiting with requests still open");
            Ok(())
        }
    }
}

pub(crate) async fn wait_for_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
}
