//! The optional Redis connection, behind a circuit breaker.
//!
//! Redis only carries state that has an in-process fallback (the rate-limit buckets), so an
//! outage must not cost requests time. Commands run with short connect and response
//! timeouts and without the connection manager's reconnect retries (their back-off is what
//! made every request wait seconds). The first failure opens the breaker; while it is open
//! no request touches Redis and a background task pings it every `breaker_open`, closing
//! the breaker once it answers.

mod breaker;

use crate::metrics::REDIS_BREAKER_TRIPS;
use breaker::Breaker;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::RedisResult;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// Timeouts and breaker timing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RedisSettings {
    /// Each connection attempt gives up after this.
    pub connect_timeout: Duration,
    /// Each command gives up after this.
    pub command_timeout: Duration,
    /// How long the breaker stays open before the next background probe.
    pub breaker_open: Duration,
}

impl Default for RedisSettings {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_millis(250),
            command_timeout: Duration::from_millis(250),
            breaker_open: Duration::from_secs(5),
        }
    }
}

/// What `/ready` reports about Redis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RedisHealth {
    Ok,
    /// Unreachable: the breaker is open and limits are enforced in-process.
    Degraded,
}

/// A shared Redis connection and its breaker. Cheap to clone.
#[derive(Clone)]
pub struct RedisLink {
    conn: ConnectionManager,
    breaker: Arc<Breaker>,
}

impl RedisLink {
    /// Connects once (start-up needs Redis to answer) and sets up the timeouts.
    pub async fn connect(client: redis::Client, settings: RedisSettings) -> RedisResult<Self> {
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(settings.connect_timeout))
            .set_response_timeout(Some(settings.command_timeout))
            // Reconnecting is the breaker's job: with retries, the request that meets a dead
            // Redis waits through every back-off step.
            .set_number_of_retries(0);
        let conn = ConnectionManager::new_with_config(client, config).await?;
        Ok(Self {
            conn,
            breaker: Arc::new(Breaker::new(settings.breaker_open)),
        })
    }

    /// False while the breaker is open.
    pub fn is_available(&self) -> bool {
        !self.breaker.is_open()
    }

    /// Runs `command` unless the breaker is open. `None` means "use the fallback": the
    /// breaker was open, or the command failed (which opens it).
    pub async fn run<T, F, Fut>(&self, command: F) -> Option<T>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: Future<Output = RedisResult<T>>,
    {
        if self.breaker.is_open() {
            return None;
        }
        match command(self.conn.clone()).await {
            Ok(value) => Some(value),
            Err(e) => {
                self.trip(&e);
                None
            }
        }
    }

    /// For `/ready`: no Redis traffic while the breaker is open; otherwise one `PING`,
    /// bounded by `limit` as well as by the command timeout.
    pub async fn health(&self, limit: Duration) -> RedisHealth {
        let ping = self.run(|mut conn| async move {
            redis::cmd("PING").query_async::<String>(&mut conn).await
        });
        match tokio::time::timeout(limit, ping).await {
            Ok(Some(_)) => RedisHealth::Ok,
            Ok(None) => RedisHealth::Degraded,
            Err(_) => {
                self.trip(&"readiness ping timed out");
                RedisHealth::Degraded
            }
        }
    }

    fn trip(&self, reason: &dyn std::fmt::Display) {
        let conn = self.conn.clone();
        let opened = breaker::trip_and_recover(&self.breaker, move || probe(conn.clone()));
        if opened {
            metrics::counter!(REDIS_BREAKER_TRIPS).increment(1);
            tracing::warn!(
                error = %reason,
                retry_in = ?self.breaker.open_for(),
                "Redis unavailable; rate limits are enforced in-process until it answers again"
            );
        }
    }
}

/// One background probe. The manager reconnects lazily: a command that finds the last
/// (failed) connection attempt fails and starts a new one, so a failed first `PING` is
/// followed by a second one that waits for that fresh attempt.
async fn probe(mut conn: ConnectionManager) -> bool {
    for _ in 0..2 {
        let pong: RedisResult<String> = redis::cmd("PING").query_async(&mut conn).await;
        if pong.is_ok() {
            tracing::info!("Redis answers again; rate limits are shared through it");
            return true;
        }
    }
    false
}
