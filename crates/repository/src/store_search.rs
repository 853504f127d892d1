//! Browse and search over the listed (`active`) apps, the ranking inputs the
//! `store_rankings` job refreshes, and the vocabulary typo tolerance corrects against.

use crate::RepoResult;
use async_trait::async_trait;
use time::OffsetDateTime;

/// The order of a listing. Every order ends with `app_id`, so pages are stable while the
/// catalogue does not change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CatalogueSort {
    /// Best text match first (only with a query), then popularity.
    Relevance,
    Popular,
    /// Newest publication first.
    Recent,
    /// Bayesian-average rating.
    Rating,
    Name,
}

/// One page of browse or search.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CatalogueQuery {
    /// Query words after [`tmcp_domain::store::search_text::query_words`] (lower-cased);
    /// empty to browse. The last word also matches as a prefix.
    pub words: Vec<String>,
    /// The query as typed (trimmed, lower-cased), for the exact-name boost: an app whose
    /// name equals it ranks first.
    pub exact: Option<String>,
    /// Alternatives for misspelt words: each inner list replaces the word at the same
    /// index (any of them may match). Empty when no correction is tried.
    pub corrections: Vec<Vec<String>>,
    /// A category `name`.
    pub category: Option<String>,
    pub classification: Option<String>,
    pub sort: CatalogueSort,
    pub limit: i64,
    pub offset: i64,
    /// Bounds the work of a search: matches are counted up to this many (`total` is then
    /// this number, "at least"), and a query matching at least this many apps is ranked
    /// "broadly": exact names first, then the `window` most popular matches ordered by text
    /// rank, then the other matches by popularity. A query matching fewer is ranked whole.
    pub window: i64,
}

/// An app as listings show it.
#[derive(Debug, Clone, PartialEq)]
pub struct CatalogueApp {
    pub app_id: String,
    pub name: String,
    pub short_description: Option<String>,
    pub category: Option<String>,
    pub classification: String,
    pub developer_name: String,
    pub version: String,
    pub icon_url: Option<String>,
    pub featured: bool,
    pub install_count: i64,
    pub rating_count: i64,
    pub rating_mean: f64,
    pub published_at: Option<OffsetDateTime>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CataloguePage {
    pub apps: Vec<CatalogueApp>,
    /// Matching apps in all (for paging); a search counts at most `window`.
    pub total: i64,
}

#[async_trait]
pub trait StoreSearchRepository: Send + Sync {
    async fn search_apps(&self, query: &CatalogueQuery) -> RepoResult<CataloguePage>;
    /// Listed featured apps by popularity.
    async fn featured_apps(&self, limit: i64) -> RepoResult<Vec<CatalogueApp>>;
    /// Vocabulary terms that may be `word` misspelt (trigram candidates, best first, at most
    /// `limit`); the caller checks the edit distance.
    async fn term_candidates(&self, word: &str, limit: i64) -> RepoResult<Vec<String>>;
    /// Recomputes every app's ranking inputs (installs, active users of the last 30 days,
    /// rating count and Bayesian mean, popularity) as of `now`; returns the apps updated.
    async fn refresh_rankings(&self, now: OffsetDateTime) -> RepoResult<u64>;
}

/// The ranking blend both engines apply (PostgreSQL in SQL, SQLite through [`popularity`]).
pub mod ranking {
    /// Weight of the prior in the Bayesian rating: an app's mean counts as if it had this
    /// many extra reviews at the global mean of all active reviews.
    pub const RATING_PRIOR_REVIEWS: f64 = 10.0;
    /// Window of "active users".
    pub const ACTIVE_WINDOW_DAYS: i64 = 30;
    pub const INSTALLS_WEIGHT: f64 = 1.0;
    pub const ACTIVE_WEIGHT: f64 = 1.5;
    pub const RATING_WEIGHT: f64 = 0.8;
    /// The boost of an app published right now; it halves every [`RECENCY_HALF_LIFE_DAYS`].
    pub const RECENCY_BOOST: f64 = 3.0;
    pub const RECENCY_HALF_LIFE_DAYS: f64 = 30.0;
    /// Half-lives after which the boost is taken as zero (it is below 1e-180 by then).
    pub const RECENCY_HORIZON_HALF_LIVES: f64 = 600.0;

    /// The Bayesian average of `count` ratings summing to `sum`, pulled towards
    /// `global_mean`; 0 for an app without ratings (unrated apps sort after rated ones).
    pub fn bayesian_mean(count: i64, sum: f64, global_mean: f64) -> f64 {
        if count <= 0 {
            return 0.0;
        }
        (RATING_PRIOR_REVIEWS * global_mean + sum) / (RATING_PRIOR_REVIEWS + count as f64)
    }

    /// `ln(1+installs)·1.0 + ln(1+active_30d)·1.5 + bayesian_rating·0.8 + 3·0.5^(days/30)`,
    /// rounded to 4 decimals (so a refresh leaves unchanged rows alone once the recency
    /// boost has faded). `days_since_published` is `None` for an unpublished app (no boost).
    pub fn popularity(
        installs: i64,
        active_30d: i64,
        bayesian_rating: f64,
        days_since_published: Option<f64>,
    ) -> f64 {
        let recency = days_since_published.map_or(0.0, |days| {
            let half_lives =
                (days.max(0.0) / RECENCY_HALF_LIFE_DAYS).min(RECENCY_HORIZON_HALF_LIVES);
            RECENCY_BOOST * 0.5_f64.powf(half_lives)
        });
        let raw = (installs.max(0) as f64).ln_1p() * INSTALLS_WEIGHT
            + (active_30d.max(0) as f64).ln_1p() * ACTIVE_WEIGHT
            + bayesian_rating * RATING_WEIGHT
            + recency;
        (raw * 10_000.0).round() / 10_000.0
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn blend() {
            assert_eq!(bayesian_mean(0, 0.0, 4.0), 0.0);
            assert!((bayesian_mean(10, 50.0, 3.0) - 4.0).abs() < 1e-9);
            assert_eq!(popularity(0, 0, 0.0, None), 0.0);
            assert_eq!(popularity(0, 0, 0.0, Some(0.0)), 3.0);
            assert_eq!(popularity(0, 0, 0.0, Some(30.0)), 1.5);
            assert!(popularity(100, 0, 0.0, None) > popularity(10, 0, 0.0, None));
            assert_eq!(popularity(0, 0, 0.0, Some(1.0e9)), 0.0);
        }
    }
}
