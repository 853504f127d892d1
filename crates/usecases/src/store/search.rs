//! Browse and search the store (docs/store_search.md): validates the listing request, runs
//! the search, and when a query finds nothing retries once with its misspelt words
//! corrected against the vocabulary of app names.

use super::search_cache::SearchCache;
use super::{StoreError, StoreSettings};
use crate::fields::FieldErrors;
use std::sync::Arc;
use time::OffsetDateTime;
use tmcp_domain::store::search_text::{query_words, typo_budget, within_typos, MAX_QUERY_CHARS};
use tmcp_domain::store::CLASSIFICATIONS;
use tmcp_repository::{CatalogueApp, CataloguePage, CatalogueQuery, CatalogueSort, Database};

pub const DEFAULT_LIMIT: i64 = 20;
/// Deepest offset a listing serves: past it, narrow the query instead.
pub const MAX_OFFSET: i64 = 10_000;
/// Vocabulary terms looked at per misspelt word.
pub const CANDIDATES_PER_WORD: i64 = 50;
/// Corrections kept per misspelt word (the closest by trigram similarity).
pub const CORRECTIONS_PER_WORD: usize = 8;
const MAX_CATEGORY_CHARS: usize = 100;
/// Matches a search counts and ranks by text in full; a broader query is ranked by text
/// among its most popular matches only (docs/store_search.md, "Broad queries").
pub const RANK_WINDOW: i64 = 1_000;

/// A listing request as the caller sent it; `None` takes the default.
#[derive(Debug, Clone, Default)]
pub struct SearchInput {
    pub q: Option<String>,
    pub category: Option<String>,
    pub classification: Option<String>,
    /// `popular`, `recent`, `rating` or `name`; default best match with `q`, else popular.
    pub sort: Option<String>,
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

/// A page of listed apps with the page bounds applied.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchResult {
    pub apps: Vec<CatalogueApp>,
    pub total: i64,
    pub limit: i64,
    pub offset: i64,
    /// Whether misspelt words were corrected to find these apps.
    pub corrected: bool,
}

fn has_control(text: &str) -> bool {
    text.chars().any(char::is_control)
}

fn parse_sort(sort: Option<&str>, searching: bool) -> Option<CatalogueSort> {
    Some(match sort {
        None | Some("") if searching => CatalogueSort::Relevance,
        None | Some("") => CatalogueSort::Popular,
        Some("relevance") => CatalogueSort::Relevance,
        Some("popular") => CatalogueSort::Popular,
        Some("recent") => CatalogueSort::Recent,
        Some("rating") => CatalogueSort::Rating,
        Some("name") => CatalogueSort::Name,
        Some(_) => return None,
    })
}

/// Checks the request and turns it into the repository's query (words, exact text, page).
pub fn build_query(
    settings: &StoreSettings,
    input: &SearchInput,
) -> Result<CatalogueQuery, StoreError> {
    let mut errors = FieldErrors::new();
    let q = input.q.as_deref().unwrap_or("");
    if q.chars().count() > MAX_QUERY_CHARS {
        errors.add("q", format!("at most {MAX_QUERY_CHARS} characters"));
    } else if has_control(q) {
        errors.add("q", "must not contain control characters");
    }
    let words = query_words(q);
    let limit = input.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=settings.max_page).contains(&limit) {
        errors.add(
            "limit",
            format!("must be between 1 and {}", settings.max_page),
        );
    }
    let offset = input.offset.unwrap_or(0);
    if !(0..=MAX_OFFSET).contains(&offset) {
        errors.add("offset", format!("must be between 0 and {MAX_OFFSET}"));
    }
    let sort = parse_sort(input.sort.as_deref(), !words.is_empty());
    if sort.is_none() {
        errors.add(
            "sort",
            "must be one of relevance, popular, recent, rating, name",
        );
    }
    let category = input.category.clone().filter(|c| !c.is_empty());
    if let Some(category) = &category {
        if category.chars().count() > MAX_CATEGORY_CHARS || has_control(category) {
            errors.add(
                "category",
                format!("at most {MAX_CATEGORY_CHARS} characters, no control characters"),
            );
        }
    }
    let classification = input.classification.clone().filter(|c| !c.is_empty());
    if let Some(classification) = &classification {
        if !CLASSIFICATIONS.contains(&classification.as_str()) {
            errors.add(
                "classification",
                format!("must be one of {}", CLASSIFICATIONS.join(", ")),
            );
        }
    }
    errors.into_result()?;
    // The query as typed for the exact-name boost: trimmed, single-spaced, lower-cased.
    let exact = q
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase();
    Ok(CatalogueQuery {
        exact: (!words.is_empty()).then_some(exact),
        words,
        corrections: Vec::new(),
        category,
        classification,
        sort: sort.unwrap_or(CatalogueSort::Popular),
        limit,
        offset,
        window: RANK_WINDOW,
    })
}

/// Browse (no `q`) or search the listed apps; a recent answer to the same query is reused
/// (see [`SearchCache`]).
pub async fn search_apps(
    db: &dyn Database,
    settings: &StoreSettings,
    cache: &SearchCache,
    now: OffsetDateTime,
    input: SearchInput,
) -> Result<Arc<SearchResult>, StoreError> {
    let query = build_query(settings, &input)?;
    if let Some(answer) = cache.get(&query, now) {
        return Ok(answer);
    }
    let answer = Arc::new(compute(db, query.clone()).await?);
    cache.put(query, Arc::clone(&answer), now);
    Ok(answer)
}

async fn compute(db: &dyn Database, mut query: CatalogueQuery) -> Result<SearchResult, StoreError> {
    let first = db.search_apps(&query).await?;
    let (page, corrected) = if first.total == 0 && !query.words.is_empty() {
        match corrections(db, &query.words).await? {
            Some(corrections) => {
                query.corrections = corrections;
                (db.search_apps(&query).await?, true)
            }
            None => (first, false),
        }
    } else {
        (first, false)
    };
    let CataloguePage { apps, total } = page;
    Ok(SearchResult {
        apps,
        total,
        limit: query.limit,
        offset: query.offset,
        corrected,
    })
}

/// Alternatives for every word long enough to carry a typo: vocabulary terms within its
/// typo budget, closest first. `None` when no word has any.
async fn corrections(
    db: &dyn Database,
    words: &[String],
) -> Result<Option<Vec<Vec<String>>>, StoreError> {
    let mut all = Vec::with_capacity(words.len());
    let mut any = false;
    for word in words {
        let mut found = Vec::new();
        if typo_budget(word.chars().count()) > 0 {
            for term in db.term_candidates(word, CANDIDATES_PER_WORD).await? {
                if within_typos(word, &term) && found.len() < CORRECTIONS_PER_WORD {
                    found.push(term);
                }
            }
        }
        any |= !found.is_empty();
        all.push(found);
    }
    Ok(any.then_some(all))
}

/// Listed featured apps by popularity; `limit` 1..=`max_page` (default 20).
pub async fn featured(
    db: &dyn Database,
    settings: &StoreSettings,
    limit: Option<i64>,
) -> Result<Vec<CatalogueApp>, StoreError> {
    let limit = limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=settings.max_page).contains(&limit) {
        let mut errors = FieldErrors::new();
        errors.add(
            "limit",
            format!("must be between 1 and {}", settings.max_page),
        );
        return Err(errors.into());
    }
    Ok(db.featured_apps(limit).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(q: &str) -> SearchInput {
        SearchInput {
            q: Some(q.to_owned()),
            ..SearchInput::default()
        }
    }

    #[test]
    fn defaults_and_exact_text() {
        let settings = StoreSettings::default();
        let query = build_query(&settings, &input("  Photo   Editor ")).expect("valid");
        assert_eq!(query.words, ["photo", "editor"]);
        assert_eq!(query.exact.as_deref(), Some("photo editor"));
        assert_eq!(query.sort, CatalogueSort::Relevance);
        assert_eq!((query.limit, query.offset), (20, 0));
        let browse = build_query(&settings, &SearchInput::default()).expect("valid");
        assert_eq!(browse.sort, CatalogueSort::Popular);
        assert!(browse.exact.is_none());
    }

    #[test]
    fn refusals_name_their_fields() {
        let settings = StoreSettings::default();
        let bad = SearchInput {
            q: Some("a\u{7}".into()),
            limit: Some(0),
            offset: Some(10_001),
            sort: Some("loudest".into()),
            classification: Some("gold".into()),
            ..SearchInput::default()
        };
        let Err(StoreError::InvalidFields(errors)) = build_query(&settings, &bad) else {
            panic!("refused");
        };
        let fields: Vec<&str> = errors.iter().map(|(f, _)| f).collect();
        assert_eq!(fields, ["q", "limit", "offset", "sort", "classification"]);
        assert!(build_query(&settings, &input(&"x".repeat(201))).is_err());
        assert!(build_query(&settings, &input(&"x".repeat(200))).is_ok());
    }
}
