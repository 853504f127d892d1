//! Browse and search over listed apps: FTS5 over `apps_fts` ranked with per-column bm25
//! weights (name > short description > category and developer > description), typo
//! candidates from the trigram index over `app_search_terms`, and the ranking refresh.

use crate::time_text::{from_opt_text, to_text};
use crate::{map_sqlx_error, SqliteDatabase};
use async_trait::async_trait;
use sqlx::sqlite::SqliteRow;
use sqlx::{QueryBuilder, Row, Sqlite};
use std::collections::HashSet;
use time::OffsetDateTime;
use tmcp_repository::store_search::ranking;
use tmcp_repository::{
    CatalogueApp, CataloguePage, CatalogueQuery, CatalogueSort, RepoResult, StoreSearchRepository,
};

/// Trigram similarity (as pg_trgm defines it) a term needs to be a typo candidate.
const SIMILARITY_THRESHOLD: f64 = 0.2;
/// bm25 weights of `apps_fts`'s columns: app_id (not indexed), name, short_description,
/// tags (category and developer), description.
const BM25: &str = "bm25(apps_fts, 0.0, 10.0, 4.0, 2.0, 1.0)";
/// Matches of a broad query ranked by text: its most popular ones, those whose name holds
/// the words first (as PostgreSQL ranks its most popular ones by `ts_rank_cd`).
const TEXT_RANKED: i64 = 200;
/// Pages of `apps_fts` one compaction step merges (see `compact_search_index`).
const FTS_MERGE_PAGES: i64 = 200;
/// Compaction steps after one ranking refresh at most; what is left waits for the next.
const FTS_MERGE_STEPS: usize = 1_000;
/// `apps_fts`'s rowid is a search key: popularity step (descending) in the high 32 bits,
/// the app's rowid in the low 32 (migration 0015); this joins a match to its app.
const FTS_JOIN: &str = "apps_fts CROSS JOIN apps a ON a.rowid = (apps_fts.rowid & 4294967295)";

const COLUMNS: &str = "a.app_id, a.name, a.short_description, a.category, a.classification, \
     a.developer_name, a.version, json_extract(a.metadata, '$.branding.icon_url') AS icon_url, \
     a.featured, a.install_count, a.rating_count, a.rating_mean, a.published_at";

fn app_from_row(row: &SqliteRow) -> RepoResult<CatalogueApp> {
    let read = || -> sqlx::Result<(CatalogueApp, Option<String>)> {
        Ok((
            CatalogueApp {
                app_id: row.try_get(0)?,
                name: row.try_get(1)?,
                short_description: row.try_get(2)?,
                category: row.try_get(3)?,
                classification: row.try_get(4)?,
                developer_name: row.try_get(5)?,
                version: row.try_get(6)?,
                icon_url: row.try_get(7)?,
                featured: row.try_get(8)?,
                install_count: row.try_get(9)?,
                rating_count: row.try_get(10)?,
                rating_mean: row.try_get(11)?,
                published_at: None,
            },
            row.try_get(12)?,
        ))
    };
    let (mut app, published) = read().map_err(map_sqlx_error)?;
    app.published_at = from_opt_text(published)?;
    Ok(app)
}

/// `text` as one FTS5 string (a phrase when it holds several tokens).
fn fts_string(text: &str) -> String {
    format!("\"{}\"", text.replace('"', "\"\""))
}

/// The FTS5 query: the words AND-ed, each word's alternatives (itself and its corrections)
/// OR-ed, the last word's alternatives as prefixes. Every token is a quoted string, so
/// nothing in a word is read as query syntax.
pub(crate) fn match_text(words: &[String], corrections: &[Vec<String>]) -> String {
    let last = words.len().saturating_sub(1);
    let groups: Vec<String> = words
        .iter()
        .enumerate()
        .map(|(i, word)| {
            let mut alternatives = vec![word.as_str()];
            if let Some(more) = corrections.get(i) {
                alternatives.extend(more.iter().map(String::as_str).filter(|m| *m != word));
            }
            let tokens: Vec<String> = alternatives
                .iter()
                .map(|alt| {
                    let quoted = fts_string(alt);
                    if i == last {
                        format!("{quoted}*")
                    } else {
                        quoted
                    }
                })
                .collect();
            format!("({})", tokens.join(" OR "))
        })
        .collect();
    groups.join(" AND ")
}

/// pg_trgm's trigrams of one word: lower-cased, padded with two spaces before and one
/// after.
fn trigrams(word: &str) -> HashSet<String> {
    let padded: Vec<char> = format!("  {} ", word.to_lowercase()).chars().collect();
    padded.windows(3).map(|w| w.iter().collect()).collect()
}

/// pg_trgm's similarity: shared trigrams over all distinct trigrams of both.
fn similarity(a: &HashSet<String>, b: &HashSet<String>) -> f64 {
    let shared = a.intersection(b).count();
    let all = a.len() + b.len() - shared;
    if all == 0 {
        0.0
    } else {
        shared as f64 / all as f64
    }
}

fn push_filters(builder: &mut QueryBuilder<'_, Sqlite>, query: &CatalogueQuery) {
    builder.push(" a.status = 'active'");
    if let Some(category) = &query.category {
        builder
            .push(" AND a.category = ")
            .push_bind(category.clone());
    }
    if let Some(classification) = &query.classification {
        builder
            .push(" AND a.classification = ")
            .push_bind(classification.clone());
    }
}

fn push_order(builder: &mut QueryBuilder<'_, Sqlite>, sort: CatalogueSort, searching: bool) {
    builder.push(" ORDER BY ");
    match sort {
        CatalogueSort::Relevance if searching => {
            builder.push("exact DESC, rank, a.popularity DESC, ");
        }
        CatalogueSort::Relevance | CatalogueSort::Popular => {
            builder.push("a.popularity DESC, ");
        }
        CatalogueSort::Recent => {
            // Unpublished (NULL) last, as PostgreSQL's NULLS LAST.
            builder.push("a.published_at IS NULL, a.published_at DESC, ");
        }
        CatalogueSort::Rating => {
            builder.push("a.rating_mean DESC, ");
        }
        CatalogueSort::Name => {
            builder.push("lower(a.name), ");
        }
    }
    builder.push("a.app_id");
}

/// Rows `refresh_rankings` reads per app.
type RankingInputs = (
    String,
    Option<String>,
    i64,
    i64,
    i64,
    f64,
    i64,
    i64,
    i64,
    f64,
    f64,
);

#[async_trait]
impl StoreSearchRepository for SqliteDatabase {
    async fn search_apps(&self, query: &CatalogueQuery) -> RepoResult<CataloguePage> {
        if query.words.is_empty() {
            let mut builder: QueryBuilder<'_, Sqlite> = QueryBuilder::new("SELECT ");
            builder.push(COLUMNS).push(" FROM apps a WHERE");
            push_filters(&mut builder, query);
            push_order(&mut builder, query.sort, false);
            builder
                .push(" LIMIT ")
                .push_bind(query.limit)
                .push(" OFFSET ")
                .push_bind(query.offset);
            let rows = builder
                .build()
                .fetch_all(&self.reader)
                .await
                .map_err(map_sqlx_error)?;
            let apps = rows.iter().map(app_from_row).collect::<RepoResult<_>>()?;
            let total = self.count_matches(query).await?;
            return Ok(CataloguePage { apps, total });
        }

        let total = self.count_matches(query).await?;
        let matching = match_text(&query.words, &query.corrections);
        let exact = query.exact.clone().unwrap_or_default();
        let exact_chars = i64::try_from(exact.chars().count()).unwrap_or(i64::MAX);
        // Exact name. An ASCII query is compared with the lower-cased name through the name
        // index, as PostgreSQL does; SQLite's lower() folds ASCII only, so a query in another
        // script is matched through FTS5 (which folds every script): the name column starts
        // with the query as a phrase and is as long as the query. The phrase costs a walk of
        // its words' document lists, which for words in every description is the whole
        // catalogue; the index costs one lookup.
        let ascii = exact.is_ascii();
        let push_exact = |builder: &mut QueryBuilder<'_, Sqlite>| {
            if ascii {
                builder
                    .push("(lower(a.name) = ")
                    .push_bind(exact.clone())
                    .push(")");
            } else {
                builder
                    .push("(length(a.name) = ")
                    .push_bind(exact_chars)
                    .push(" AND a.rowid IN (SELECT rowid & 4294967295 FROM apps_fts WHERE apps_fts MATCH ")
                    .push_bind(format!("name : ^ {}", fts_string(&exact)))
                    .push("))");
            }
        };
        let mut builder: QueryBuilder<'_, Sqlite> = QueryBuilder::new("");
        if query.sort != CatalogueSort::Relevance || total < query.window {
            // Ranked whole: every match's bm25 (at most `window` of them).
            builder
                .push("SELECT * FROM (SELECT ")
                .push(COLUMNS)
                .push(", a.popularity, ");
            push_exact(&mut builder);
            builder
                .push(" AS exact, ")
                .push(BM25)
                .push(" AS rank FROM ")
                .push(FTS_JOIN)
                .push(" WHERE apps_fts MATCH ")
                .push_bind(matching)
                .push(" AND");
            push_filters(&mut builder, query);
            builder.push(") AS a");
            // The outer query sees the inner columns under the same alias.
            push_order(&mut builder, query.sort, true);
            builder
                .push(" LIMIT ")
                .push_bind(query.limit)
                .push(" OFFSET ")
                .push_bind(query.offset);
        } else {
            // Broad: exact names (found through the name phrase, a handful of rows); then
            // the TEXT_RANKED most popular other matches, those whose name holds the words
            // first; then the other matches by popularity. `apps_fts` hands out matches in
            // rowid order, which is popularity order (migration 0015), so only the matches
            // the page needs are read: the first `needed` in that order, plus the rest of
            // the last one's popularity step (ties are then ordered by app id).
            let ranked = query.window.min(TEXT_RANKED);
            let needed = (query.offset + query.limit).max(ranked);
            let push_hits = |builder: &mut QueryBuilder<'_, Sqlite>| {
                builder
                    .push(" FROM ")
                    .push(FTS_JOIN)
                    .push(" WHERE apps_fts MATCH ")
                    .push_bind(matching.clone())
                    .push(" AND");
                push_filters(builder, query);
                builder.push(" AND NOT ");
                push_exact(builder);
            };
            builder.push(
                "WITH head AS MATERIALIZED (SELECT a.app_id, a.popularity, apps_fts.rowid AS k",
            );
            push_hits(&mut builder);
            builder
                .push(" ORDER BY apps_fts.rowid LIMIT ")
                .push_bind(needed)
                .push(
                    "), edge AS MATERIALIZED (SELECT a.app_id, a.popularity, apps_fts.rowid AS k",
                );
            push_hits(&mut builder);
            builder
                .push(
                    " AND apps_fts.rowid > (SELECT max(k) FROM head) \
                      AND apps_fts.rowid < ((((SELECT max(k) FROM head) >> 32) + 1) << 32)), \
                      t AS MATERIALIZED (SELECT *, row_number() OVER (ORDER BY popularity DESC, \
                      app_id) AS pos FROM (SELECT * FROM head UNION ALL SELECT * FROM edge) \
                      ORDER BY popularity DESC, app_id LIMIT ",
                )
                .push_bind(needed)
                .push(
                    "), named AS MATERIALIZED (SELECT rowid AS k FROM apps_fts \
                       WHERE apps_fts MATCH ",
                )
                .push_bind(format!("{{name}} : ({matching})"))
                .push(" AND rowid <= (SELECT max(k) FROM t WHERE pos <= ")
                .push_bind(ranked)
                .push(")) SELECT ")
                .push(COLUMNS)
                .push(" FROM (SELECT * FROM (SELECT a.app_id, 0 AS part, a.popularity FROM apps a WHERE ");
            // An exact name holds every word, so it is a match without consulting the text.
            push_exact(&mut builder);
            builder.push(" AND");
            push_filters(&mut builder, query);
            builder
                .push(" UNION ALL SELECT t.app_id, CASE WHEN t.pos > ")
                .push_bind(ranked)
                .push(
                    " THEN 3 WHEN t.k IN (SELECT k FROM named) THEN 1 ELSE 2 END, t.popularity \
                       FROM t",
                )
                // The page is cut before the join, so only its rows are looked up.
                .push(") ORDER BY part, popularity DESC, app_id LIMIT ")
                .push_bind(query.limit)
                .push(" OFFSET ")
                .push_bind(query.offset)
                .push(
                    ") AS o JOIN apps a ON a.app_id = o.app_id \
                       ORDER BY o.part, o.popularity DESC, o.app_id",
                );
        }
        let rows = builder
            .build()
            .fetch_all(&self.reader)
            .await
            .map_err(map_sqlx_error)?;
        let apps: Vec<CatalogueApp> = rows.iter().map(app_from_row).collect::<RepoResult<_>>()?;
        Ok(CataloguePage { apps, total })
    }

    async fn featured_apps(&self, limit: i64) -> RepoResult<Vec<CatalogueApp>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM apps a WHERE a.status = 'active' AND a.featured = 1 \
             ORDER BY a.popularity DESC, a.app_id LIMIT ?1"
        );
        let rows = sqlx::query(&sql)
            .bind(limit)
            .fetch_all(&self.reader)
            .await
            .map_err(map_sqlx_error)?;
        rows.iter().map(app_from_row).collect()
    }

    async fn term_candidates(&self, word: &str, limit: i64) -> RepoResult<Vec<String>> {
        let wanted = trigrams(word);
        if wanted.is_empty() || limit <= 0 {
            return Ok(Vec::new());
        }
        let mut sorted: Vec<&String> = wanted.iter().collect();
        sorted.sort();
        let expression = sorted
            .iter()
            .map(|t| fts_string(t))
            .collect::<Vec<_>>()
            .join(" OR ");
        // bm25 over the shared trigrams shortlists; the exact trigram similarity orders.
        let shortlist: Vec<String> = sqlx::query_scalar(
            "SELECT t.term FROM app_search_terms_trigram g \
               JOIN app_search_terms t ON t.rowid = g.rowid \
              WHERE app_search_terms_trigram MATCH ?1 \
              ORDER BY g.rank LIMIT ?2",
        )
        .bind(expression)
        .bind(limit.saturating_mul(4).min(1000))
        .fetch_all(&self.reader)
        .await
        .map_err(map_sqlx_error)?;
        let mut scored: Vec<(f64, String)> = shortlist
            .into_iter()
            .map(|term| (similarity(&wanted, &trigrams(&term)), term))
            .filter(|(score, _)| *score > SIMILARITY_THRESHOLD)
            .collect();
        scored.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
        scored.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        Ok(scored.into_iter().map(|(_, term)| term).collect())
    }

    async fn refresh_rankings(&self, now: OffsetDateTime) -> RepoResult<u64> {
        let active_since = now - time::Duration::days(ranking::ACTIVE_WINDOW_DAYS);
        // SQLite has no ln()/pow() in this build: the aggregates come from SQL, the blend
        // from `ranking::popularity`, and one UPDATE … FROM json_each writes the changes.
        let mut tx = self.writer.begin().await.map_err(map_sqlx_error)?;
        let prior: f64 = sqlx::query_scalar(
            "SELECT coalesce(avg(rating), 0.0) FROM app_reviews \
              WHERE status = 'active' AND rating IS NOT NULL",
        )
        .fetch_one(&mut *tx)
        .await
        .map_err(map_sqlx_error)?;
        let rows: Vec<RankingInputs> = sqlx::query_as(
            "SELECT a.app_id, a.published_at, \
                    coalesce(i.installs, 0), coalesce(i.active, 0), \
                    coalesce(r.n, 0), coalesce(r.total, 0.0), \
                    a.install_count, a.active_users_30d, a.rating_count, a.rating_mean, \
                    a.popularity \
               FROM apps a \
               LEFT JOIN (SELECT app_id, sum(status = 'installed') AS installs, \
                                 count(DISTINCT CASE WHEN max(installed_at, \
                                       coalesce(last_used_at, installed_at)) \
                                       BETWEEN ?2 AND ?1 THEN user_id END) AS active \
                            FROM app_installations GROUP BY app_id) i ON i.app_id = a.app_id \
               LEFT JOIN (SELECT app_id, count(*) AS n, CAST(sum(rating) AS REAL) AS total \
                            FROM app_reviews WHERE status = 'active' AND rating IS NOT NULL \
                           GROUP BY app_id) r ON r.app_id = a.app_id",
        )
        .bind(to_text(now))
        .bind(to_text(active_since))
        .fetch_all(&mut *tx)
        .await
        .map_err(map_sqlx_error)?;
        let mut changes = Vec::new();
        for (app_id, published, installs, active, n, total, old_i, old_a, old_n, old_m, old_p) in
            rows
        {
            let mean = ranking::bayesian_mean(n, total, prior);
            let days = from_opt_text(published)?.map(|at| (now - at).as_seconds_f64() / 86_400.0);
            let popularity = ranking::popularity(installs, active, mean, days);
            // REAL values come back from their JSON text: compare with a tolerance.
            if (installs, active, n) != (old_i, old_a, old_n)
                || (mean - old_m).abs() > 1e-9
                || (popularity - old_p).abs() > 1e-9
            {
                changes.push(serde_json::json!([
                    app_id, installs, active, n, mean, popularity
                ]));
            }
        }
        if changes.is_empty() {
            tx.commit().await.map_err(map_sqlx_error)?;
            return Ok(0);
        }
        let result = sqlx::query(
            "UPDATE apps SET install_count = v.value ->> 1, active_users_30d = v.value ->> 2, \
                    rating_count = v.value ->> 3, rating_mean = v.value ->> 4, \
                    popularity = v.value ->> 5 \
               FROM json_each(?1) AS v WHERE apps.app_id = v.value ->> 0",
        )
        .bind(serde_json::Value::Array(changes).to_string())
        .execute(&mut *tx)
        .await
        .map_err(map_sqlx_error)?;
        tx.commit().await.map_err(map_sqlx_error)?;
        self.compact_search_index().await?;
        Ok(result.rows_affected())
    }
}

impl SqliteDatabase {
    /// Merges `apps_fts`'s segments after a ranking refresh. Every app whose popularity step
    /// changed moved to a new rowid (migration 0015), so a refresh leaves many small
    /// segments behind; a word's matches are then read from all of them (measured over
    /// 100,000 apps: the index at 162 MB instead of 89 MB, searches at about half the
    /// throughput). Each step merges at most `FTS_MERGE_PAGES` pages in its own short write
    /// transaction (about 100 ms at most on the benchmark machine), so other writers wait
    /// for one step, not for the whole merge; the steps stop when one finds nothing to do.
    async fn compact_search_index(&self) -> RepoResult<()> {
        for _ in 0..FTS_MERGE_STEPS {
            let mut tx = self.writer.begin().await.map_err(map_sqlx_error)?;
            let before: i64 = sqlx::query_scalar("SELECT total_changes()")
                .fetch_one(&mut *tx)
                .await
                .map_err(map_sqlx_error)?;
            // A negative page count merges segments of every level, towards one segment.
            sqlx::query("INSERT INTO apps_fts (apps_fts, rank) VALUES ('merge', ?1)")
                .bind(-FTS_MERGE_PAGES)
                .execute(&mut *tx)
                .await
                .map_err(map_sqlx_error)?;
            let after: i64 = sqlx::query_scalar("SELECT total_changes()")
                .fetch_one(&mut *tx)
                .await
                .map_err(map_sqlx_error)?;
            tx.commit().await.map_err(map_sqlx_error)?;
            // FTS5 counts fewer than two changes when a merge found no work.
            if after - before < 2 {
                break;
            }
        }
        Ok(())
    }

    /// How many listed apps match: all when browsing, at most `window` when searching.
    async fn count_matches(&self, query: &CatalogueQuery) -> RepoResult<i64> {
        let mut builder: QueryBuilder<'_, Sqlite> =
            QueryBuilder::new("SELECT count(*) FROM (SELECT 1 FROM ");
        if query.words.is_empty() {
            builder.push("apps a WHERE");
            push_filters(&mut builder, query);
        } else {
            builder
                .push(FTS_JOIN)
                .push(" WHERE apps_fts MATCH ")
                .push_bind(match_text(&query.words, &query.corrections))
                .push(" AND");
            push_filters(&mut builder, query);
            builder.push(" LIMIT ").push_bind(query.window.max(1));
        }
        builder.push(")");
        builder
            .build_query_scalar::<i64>()
            .fetch_one(&self.reader)
            .await
            .map_err(map_sqlx_error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn match_text_quotes_groups_and_prefixes() {
        let words = vec!["photo".to_owned(), "edtor".to_owned()];
        let corrections = vec![vec![], vec!["editor".to_owned()]];
        assert_eq!(
            match_text(&words, &corrections),
            "(\"photo\") AND (\"edtor\"* OR \"editor\"*)"
        );
        assert_eq!(match_text(&["a\"b".to_owned()], &[]), "(\"a\"\"b\"*)");
    }

    #[test]
    fn trigram_similarity_matches_pg_trgm() {
        let a = trigrams("calcluatro");
        let b = trigrams("calculator");
        assert!((similarity(&a, &b) - 4.0 / 18.0).abs() < 1e-9);
        assert_eq!(similarity(&a, &a), 1.0);
    }
}
