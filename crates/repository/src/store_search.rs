//! Browse and search over the listed (`active`) apps, the ranking inputs the
//! `store_rankings` job refreshes, and the vocabulary typo tolerance corrects against.

use crate::RepoResult;
use async_trait::async_trait;
use time::OffsetDateTime;

/// The order of a listing. Every order ends with `app_id`, so pages are stable while the
/// catalogue does not change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
#[derive(Debug, Clone, PartialEq)]
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
    /// Matching apps in all (for paging).
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
