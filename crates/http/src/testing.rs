//! Test support: an `AppState` over any backend with fixed keys, no Redis and packages in
//! memory, so HTTP tests
//! on SQLite and PostgreSQL build their state the same way.

use crate::auth::keys::load_key_ring;
use crate::auth::{TepService, TepSettings};
use crate::metrics::Metrics;
use crate::ratelimit::RateLimiter;
use crate::{AppState, Shared};
use jsonwebtoken::Algorithm;
use std::sync::Arc;
use tmcp_domain::crypto::FieldCipher;
use tmcp_domain::Clock;
use tmcp_repository::Database;

/// A complete state for tests: column key fixed, RS256 signing key created in the database.
pub async fn state(db: Arc<dyn Database>, clock: Arc<dyn Clock>) -> AppState {
    let cipher = FieldCipher::new(&[7u8; 32]).unwrap_or_else(|e| panic!("test key: {e}"));
    let ring = load_key_ring(db.as_ref(), &cipher, Algorithm::RS256, clock.now())
        .await
        .unwrap_or_else(|e| panic!("test signing key: {e:#}"));
    let tep = Arc::new(TepService::new(ring, TepSettings::default()));
    let namespace = format!("test-{}", uuid::Uuid::new_v4().simple());
    AppState::new(Shared {
        reads: Arc::clone(&db),
        replica: None,
        db,
        clock,
        redis: None,
        cipher,
        metrics: Metrics::install(),
        tep,
        limiter: Arc::new(RateLimiter::new(None, namespace)),
        processors: Arc::new(
            tmcp_usecases::wallet::Processors::new()
                .with(Arc::new(tmcp_usecases::wallet::SandboxProcessor::default())),
        ),
        opened_accounts: Arc::default(),
        // In memory: nothing to clean up. Tests that look at the files set a directory.
        packages: Arc::new(object_store::memory::InMemory::new()),
        // Off in tests: each test sees its own writes in listings at once.
        search_cache: Arc::new(tmcp_usecases::store::search_cache::SearchCache::disabled()),
        settings: Arc::default(),
    })
}
