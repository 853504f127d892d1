//! A short-lived cache of listing answers (docs/store_search.md, "Answer cache").
//!
//! Store traffic repeats itself: the same popular searches and browse pages are asked by
//! many users within seconds, and each costs milliseconds of full-text work. Listings are
//! already a read that may lag (they can be served by a replica), so an answer is reused for
//! a short time (`[store] search_cache_ms`, default 2 s) instead of being recomputed. Answers
//! are keyed by the validated query, so two spellings that normalise to the same words share
//! one entry; nothing per user is in a listing. Expiry is judged on the injected clock.
//!
//! When an answer expires under load, only the first request recomputes it; requests arriving
//! during that one computation keep the old answer for at most the grace period, so a popular
//! query does not make every connection search at once each time its answer expires.

use super::search::SearchResult;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use time::{Duration, OffsetDateTime};
use tmcp_repository::CatalogueQuery;

/// Answers kept at most; a listing of 100 apps is roughly 40 KiB, so this bounds the cache
/// to tens of megabytes whatever clients ask.
pub const CAPACITY: usize = 2_000;

struct Entry {
    result: Arc<SearchResult>,
    stored_at: OffsetDateTime,
    /// Set while one request recomputes the expired answer.
    refreshing_since: Option<OffsetDateTime>,
}

/// Listing answers by query; see the module documentation.
pub struct SearchCache {
    ttl: Duration,
    /// How long an expired answer still serves while one request recomputes it.
    grace: Duration,
    entries: Mutex<HashMap<CatalogueQuery, Entry>>,
}

impl std::fmt::Debug for SearchCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SearchCache")
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

impl SearchCache {
    /// A cache that keeps answers for `ttl`; zero turns it off.
    pub fn new(ttl: std::time::Duration) -> Self {
        let ttl = Duration::try_from(ttl).unwrap_or(Duration::ZERO);
        Self {
            ttl,
            grace: ttl.min(Duration::SECOND),
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// No caching: every listing is computed.
    pub fn disabled() -> Self {
        Self::new(std::time::Duration::ZERO)
    }

    pub fn enabled(&self) -> bool {
        self.ttl > Duration::ZERO
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<CatalogueQuery, Entry>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The answer to reuse, or `None` when the caller must compute it (and then [`put`] it).
    ///
    /// [`put`]: SearchCache::put
    pub fn get(&self, query: &CatalogueQuery, now: OffsetDateTime) -> Option<Arc<SearchResult>> {
        if !self.enabled() {
            return None;
        }
        let mut entries = self.lock();
        let entry = entries.get_mut(query)?;
        let age = now - entry.stored_at;
        // A clock that went back makes the answer look new; it is still at most `ttl` old
        // in the clock's new terms, which is what every other expiry check uses.
        if age < self.ttl {
            return Some(Arc::clone(&entry.result));
        }
        if age >= self.ttl + self.grace {
            return None;
        }
        match entry.refreshing_since {
            Some(since) if now - since < self.grace => Some(Arc::clone(&entry.result)),
            _ => {
                entry.refreshing_since = Some(now);
                None
            }
        }
    }

    pub fn put(&self, query: CatalogueQuery, result: Arc<SearchResult>, now: OffsetDateTime) {
        if !self.enabled() {
            return;
        }
        let mut entries = self.lock();
        if entries.len() >= CAPACITY && !entries.contains_key(&query) {
            let horizon = self.ttl + self.grace;
            entries.retain(|_, entry| now - entry.stored_at < horizon);
            // Every entry still fresh: many distinct queries within one cache time. Starting
            // over keeps memory bounded; popular queries come back at once.
            if entries.len() >= CAPACITY {
                entries.clear();
            }
        }
        entries.insert(
            query,
            Entry {
                result,
                stored_at: now,
                refreshing_since: None,
            },
        );
    }

    /// Answers held (fresh or not yet swept).
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tmcp_repository::CatalogueSort;

    fn query(word: &str) -> CatalogueQuery {
        CatalogueQuery {
            words: vec![word.to_owned()],
            exact: Some(word.to_owned()),
            corrections: Vec::new(),
            category: None,
            classification: None,
            sort: CatalogueSort::Relevance,
            limit: 20,
            offset: 0,
            window: 1_000,
        }
    }

    fn answer(total: i64) -> Arc<SearchResult> {
        Arc::new(SearchResult {
            apps: Vec::new(),
            total,
            limit: 20,
            offset: 0,
            corrected: false,
        })
    }

    fn start() -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }

    #[test]
    fn reuses_an_answer_for_the_cache_time_only() {
        let cache = SearchCache::new(std::time::Duration::from_secs(2));
        let t0 = start();
        assert!(cache.get(&query("zen"), t0).is_none());
        cache.put(query("zen"), answer(7), t0);
        let hit = cache.get(&query("zen"), t0 + Duration::milliseconds(1_999));
        assert_eq!(hit.map(|r| r.total), Some(7));
        assert!(cache.get(&query("chess"), t0).is_none(), "keyed by query");
        // Expired: the first asker recomputes ...
        assert!(cache
            .get(&query("zen"), t0 + Duration::seconds(2))
            .is_none());
        // ... while the others keep the old answer during the grace period ...
        let stale = cache.get(&query("zen"), t0 + Duration::milliseconds(2_500));
        assert_eq!(stale.map(|r| r.total), Some(7));
        // ... and nobody gets it past the cache time plus the grace.
        assert!(cache
            .get(&query("zen"), t0 + Duration::seconds(3))
            .is_none());
        cache.put(query("zen"), answer(8), t0 + Duration::seconds(3));
        let fresh = cache.get(&query("zen"), t0 + Duration::seconds(3));
        assert_eq!(fresh.map(|r| r.total), Some(8));
    }

    #[test]
    fn a_recomputation_that_never_finishes_serves_nobody_past_the_grace() {
        let cache = SearchCache::new(std::time::Duration::from_secs(2));
        let t0 = start();
        cache.put(query("zen"), answer(1), t0);
        // The recomputation starts (and is then cancelled, or the database is down).
        assert!(cache
            .get(&query("zen"), t0 + Duration::seconds(2))
            .is_none());
        let during = t0 + Duration::milliseconds(2_900);
        assert!(cache.get(&query("zen"), during).is_some());
        // Past the cache time plus the grace every request computes, as without a cache.
        let past = t0 + Duration::seconds(3);
        assert!(cache.get(&query("zen"), past).is_none());
        assert!(cache.get(&query("zen"), past).is_none());
    }

    #[test]
    fn disabled_cache_keeps_nothing() {
        let cache = SearchCache::disabled();
        let t0 = start();
        cache.put(query("zen"), answer(1), t0);
        assert!(cache.get(&query("zen"), t0).is_none());
        assert!(cache.is_empty());
    }

    #[test]
    fn stays_within_capacity_under_distinct_queries() {
        let cache = SearchCache::new(std::time::Duration::from_secs(60));
        let t0 = start();
        for i in 0..(CAPACITY * 3) {
            cache.put(query(&format!("word{i}")), answer(1), t0);
            assert!(cache.len() <= CAPACITY);
        }
        // Expired entries are swept first when the cache is full.
        let cache = SearchCache::new(std::time::Duration::from_secs(1));
        for i in 0..CAPACITY {
            cache.put(query(&format!("old{i}")), answer(1), t0);
        }
        let later = t0 + Duration::seconds(5);
        cache.put(query("new"), answer(2), later);
        assert_eq!(cache.len(), 1);
        assert_eq!(cache.get(&query("new"), later).map(|r| r.total), Some(2));
    }
}
