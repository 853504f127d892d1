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
//!
//! Each answer lives between half and all of the cache time, by a hash of its query: answers
//! computed together (say, at start, or after a cache reset) would otherwise all expire in the
//! same instant and be recomputed at once, and that burst of searches takes the CPU from every
//! other request for a moment, every cache time. Spread out, the same recomputations cost the
//! same CPU without the stall. The hash is fixed (no process seed), so lifetimes repeat.

use super::search::SearchResult;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex};
use time::{Duration, OffsetDateTime};
use tmcp_repository::CatalogueQuery;

/// Answers kept at most; a listing of 100 apps is roughly 40 KiB, so this bounds the cache
/// to tens of megabytes whatever clients ask.
pub const CAPACITY: usize = 2_000;

struct Entry {
    result: Arc<SearchResult>,
    stored_at: OffsetDateTime,
    /// This answer's lifetime: between half and all of the cache time.
    lifetime: Duration,
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

    /// Half the cache time plus a share of the other half fixed by the query's hash.
    fn lifetime(&self, query: &CatalogueQuery) -> Duration {
        let mut hasher = std::hash::DefaultHasher::new();
        query.hash(&mut hasher);
        let share = u32::try_from(hasher.finish() % 1_024).unwrap_or(0);
        self.ttl / 2 + (self.ttl / 2) * share / 1_024
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
        if age < entry.lifetime {
            return Some(Arc::clone(&entry.result));
        }
        if age >= entry.lifetime + self.grace {
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
            let grace = self.grace;
            entries.retain(|_, entry| now - entry.stored_at < entry.lifetime + grace);
            // Every entry still fresh: many distinct queries within one cache time. Starting
            // over keeps memory bounded; popular queries come back at once.
            if entries.len() >= CAPACITY {
                entries.clear();
            }
        }
        let lifetime = self.lifetime(&query);
        entries.insert(
            query,
            Entry {
                result,
                stored_at: now,
                lifetime,
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

    /// The tests' starting instant, from the real clock so they pass on any date; the
    /// cache only ever sees the instants the tests hand it.
    #[allow(clippy::disallowed_methods)]
    fn start() -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }

    #[test]
    fn lifetimes_spread_over_the_second_half_of_the_cache_time() {
        let cache = SearchCache::new(std::time::Duration::from_secs(2));
        let lifetimes: Vec<Duration> = (0..200)
            .map(|i| cache.lifetime(&query(&format!("word{i}"))))
            .collect();
        assert!(lifetimes
            .iter()
            .all(|l| *l >= Duration::SECOND && *l <= Duration::seconds(2)));
        let shortest = lifetimes.iter().min().copied().unwrap_or_default();
        let longest = lifetimes.iter().max().copied().unwrap_or_default();
        assert!(
            longest - shortest > Duration::milliseconds(800),
            "spread out"
        );
        assert_eq!(cache.lifetime(&query("zen")), cache.lifetime(&query("zen")));
    }

    #[test]
    fn reuses_an_answer_for_its_lifetime_only() {
        let cache = SearchCache::new(std::time::Duration::from_secs(2));
        let lifetime = cache.lifetime(&query("zen"));
        let t0 = start();
        assert!(cache.get(&query("zen"), t0).is_none());
        cache.put(query("zen"), answer(7), t0);
        let hit = cache.get(&query("zen"), t0 + lifetime - Duration::milliseconds(1));
        assert_eq!(hit.map(|r| r.total), Some(7));
        assert!(cache.get(&query("chess"), t0).is_none(), "keyed by query");
        // Expired: the first asker recomputes ...
        assert!(cache.get(&query("zen"), t0 + lifetime).is_none());
        // ... while the others keep the old answer during the grace period ...
        let stale = cache.get(&query("zen"), t0 + lifetime + Duration::milliseconds(500));
        assert_eq!(stale.map(|r| r.total), Some(7));
        // ... and nobody gets it past the lifetime plus the grace.
        let past = t0 + lifetime + Duration::SECOND;
        assert!(cache.get(&query("zen"), past).is_none());
        assert!(cache.get(&query("zen"), past).is_none());
        cache.put(query("zen"), answer(8), past);
        assert_eq!(cache.get(&query("zen"), past).map(|r| r.total), Some(8));
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
