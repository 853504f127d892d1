//! Browse and search over listed apps: FTS5 over `apps_fts` ranked with per-column bm25
//! weights (name > short description > category and developer > description), typo
//! candidates from the trigram index over `app_search_terms`, and the ranking refresh.

use crate::time_text::{from_opt_text, to_text};
use crate::{map_sqlx_error, SqliteDatabase};
use async_trait::async_trait;
use sqlx::sqlite::SqliteRow;
use sqlx::{QueryBuilder, Row, Sqlite};
use std::collections::{HashMap, HashSet};
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
/// The full-text tables a ranking refresh leaves segments in (both keyed by popularity).
const FTS_TABLES: [&str; 2] = ["apps_fts", "apps_name_fts"];

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
    match_groups(words, corrections, &vec![true; words.len()])
}

/// [`match_text`] over the words whose `keep` is true (the last word of the query stays a
/// prefix whether or not the words before it are kept).
fn match_groups(words: &[String], corrections: &[Vec<String>], keep: &[bool]) -> String {
    let last = words.len().saturating_sub(1);
    let groups: Vec<String> = words
        .iter()
        .enumerate()
        .filter(|(i, _)| keep.get(*i).copied().unwrap_or(true))
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

/// Whether the query filters on columns of `apps`. `apps_fts` holds listed apps only
/// (migration 0021), so an unfiltered search never needs to join `apps` to find its matches.
fn filtered(query: &CatalogueQuery) -> bool {
    query.category.is_some() || query.classification.is_some()
}

/// ` FROM apps_fts … WHERE apps_fts MATCH …`: the matches, joined to `apps` only when the
/// caller reads its columns (`join`) or the query filters on them.
fn push_matches(
    builder: &mut QueryBuilder<'_, Sqlite>,
    query: &CatalogueQuery,
    matching: &str,
    join: bool,
) {
    let join = join || filtered(query);
    builder
        .push(" FROM ")
        .push(if join { FTS_JOIN } else { "apps_fts" })
        .push(" WHERE apps_fts MATCH ")
        .push_bind(matching.to_owned());
    if join {
        builder.push(" AND");
        push_filters(builder, query);
    }
}

/// `x AS MATERIALIZED (…)`: the rowids of the listed apps (within the filters) whose name is
/// the query. An ASCII query is compared with the lower-cased name through the name index,
/// as PostgreSQL does; SQLite's lower() folds ASCII only, so a query in another script is
/// matched through the names-only index (FTS5 folds every script): the name starts with the
/// query as a phrase and is as long as the query.
fn push_exact_ids(builder: &mut QueryBuilder<'_, Sqlite>, query: &CatalogueQuery) {
    let exact = query.exact.clone().unwrap_or_default();
    builder.push("x AS MATERIALIZED (SELECT a.rowid AS id FROM ");
    if exact.is_ascii() {
        builder
            .push("apps a WHERE lower(a.name) = ")
            .push_bind(exact);
    } else {
        let chars = i64::try_from(exact.chars().count()).unwrap_or(i64::MAX);
        builder
            .push(
                "apps_name_fts CROSS JOIN apps a ON a.rowid = (apps_name_fts.rowid & 4294967295) \
                 WHERE apps_name_fts MATCH ",
            )
            .push_bind(format!("^ {}", fts_string(&exact)))
            .push(" AND length(a.name) = ")
            .push_bind(chars);
    }
    builder.push(" AND");
    push_filters(builder, query);
    builder.push(")");
}

/// A query with fewer matches than its window, ranked whole: exact names, then bm25 (best
/// first), then popularity and app id. Ranking reads the index alone; `apps` is joined for
/// the page's rows plus the rows tied with its last one on (exact, bm25, popularity step),
/// which is all the exact popularity order needs (a step holds the popularities that round
/// to it, so the step order never contradicts the popularity order).
///
/// `ranking`, when given, is the expression bm25 ranks by: the query without the words that
/// carry no weight (see [`SqliteDatabase::ranking_text`]), with the keys of the whole
/// query's matches (a JSON array, from [`SqliteDatabase::search_matches`]); the matches
/// are still those of the whole query.
fn push_ranked_whole(
    builder: &mut QueryBuilder<'_, Sqlite>,
    query: &CatalogueQuery,
    matching: &str,
    ranking: Option<(String, String)>,
) {
    builder.push("WITH ");
    push_exact_ids(builder, query);
    builder
        .push(", m AS MATERIALIZED (SELECT apps_fts.rowid AS k, ")
        .push(BM25)
        .push(" AS r, (apps_fts.rowid & 4294967295) IN (SELECT id FROM x) AS exact");
    match ranking {
        // `+` keeps the rowid test off the full-text index: as an index constraint FTS5
        // would run the expression once per key.
        Some((ranking, keys)) => {
            builder
                .push(" FROM apps_fts WHERE apps_fts MATCH ")
                .push_bind(ranking)
                .push(" AND +apps_fts.rowid IN (SELECT value FROM json_each(")
                .push_bind(keys)
                .push("))");
        }
        None => push_matches(builder, query, matching, false),
    }
    builder
        .push(
            "), e AS (SELECT exact, r, k >> 32 AS step FROM m ORDER BY exact DESC, r, k \
             LIMIT 1 OFFSET ",
        )
        .push_bind(query.offset + query.limit - 1)
        .push(
            "), c AS MATERIALIZED (SELECT m.* FROM m LEFT JOIN e ON 1 WHERE e.r IS NULL \
               OR m.exact > e.exact OR (m.exact = e.exact AND (m.r < e.r \
               OR (m.r = e.r AND (m.k >> 32) <= e.step)))) SELECT ",
        )
        .push(COLUMNS)
        .push(
            " FROM c CROSS JOIN apps a ON a.rowid = (c.k & 4294967295) \
             ORDER BY c.exact DESC, c.r, a.popularity DESC, a.app_id LIMIT ",
        )
        .push_bind(query.limit)
        .push(" OFFSET ")
        .push_bind(query.offset);
}

/// A broad query (at least its window of matches): exact names; then the TEXT_RANKED most
/// popular other matches, those whose name holds the words first; then the other matches by
/// popularity. `apps_fts` hands out matches in rowid order, which is popularity order
/// (migration 0015), so only the matches the page needs are read: the first `needed` in that
/// order, plus the rest of the last one's popularity step (ties are then ordered by app id).
/// Whether a name holds the words is asked of the names-only index, up to the last ranked
/// match's key.
fn push_broad(builder: &mut QueryBuilder<'_, Sqlite>, query: &CatalogueQuery, matching: &str) {
    let ranked = query.window.min(TEXT_RANKED);
    let needed = (query.offset + query.limit).max(ranked);
    let push_hits = |builder: &mut QueryBuilder<'_, Sqlite>| {
        builder.push("SELECT apps_fts.rowid AS k");
        push_matches(builder, query, matching, false);
        // An exact name holds every word, so it is a match without consulting the text.
        builder.push(" AND (apps_fts.rowid & 4294967295) NOT IN (SELECT id FROM x)");
    };
    builder.push("WITH ");
    push_exact_ids(builder, query);
    builder.push(", head AS MATERIALIZED (");
    push_hits(builder);
    builder
        .push(" ORDER BY apps_fts.rowid LIMIT ")
        .push_bind(needed)
        .push("), edge AS MATERIALIZED (");
    push_hits(builder);
    builder
        .push(
            " AND apps_fts.rowid > (SELECT max(k) FROM head) \
              AND apps_fts.rowid < ((((SELECT max(k) FROM head) >> 32) + 1) << 32)), \
              t AS MATERIALIZED (SELECT h.k, a.app_id, a.popularity, row_number() OVER \
              (ORDER BY a.popularity DESC, a.app_id) AS pos \
              FROM (SELECT k FROM head UNION ALL SELECT k FROM edge) h \
              CROSS JOIN apps a ON a.rowid = (h.k & 4294967295) \
              ORDER BY a.popularity DESC, a.app_id LIMIT ",
        )
        .push_bind(needed)
        .push("), named AS MATERIALIZED (SELECT rowid AS k FROM apps_name_fts WHERE apps_name_fts MATCH ")
        .push_bind(matching.to_owned())
        .push(" AND rowid <= (SELECT max(k) FROM t WHERE pos <= ")
        .push_bind(ranked)
        .push(")) SELECT ")
        .push(COLUMNS)
        .push(
            " FROM (SELECT * FROM (SELECT a.app_id, 0 AS part, a.popularity \
               FROM x CROSS JOIN apps a ON a.rowid = x.id \
               UNION ALL SELECT t.app_id, CASE WHEN t.pos > ",
        )
        .push_bind(ranked)
        .push(" THEN 3 WHEN t.k IN (SELECT k FROM named) THEN 1 ELSE 2 END, t.popularity FROM t")
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

/// Query words whose document counts a database remembers at most; past it, it starts over.
const TERM_COUNTS_REMEMBERED: usize = 10_000;

/// Document counts of the listed apps and of query words (see
/// `SqliteDatabase::ranking_text`). Forgotten at each ranking refresh: a word's share of the
/// catalogue drifts slowly, and a stale count only moves which of two equally ranked apps
/// comes first.
#[derive(Debug, Default)]
pub(crate) struct TermDocuments(std::sync::Mutex<TermCounts>);

#[derive(Debug, Default)]
pub(crate) struct TermCounts {
    listed: Option<i64>,
    words: HashMap<String, i64>,
}

impl TermDocuments {
    fn lock_counts(&self) -> std::sync::MutexGuard<'_, TermCounts> {
        // The counts are a cache: whatever a panicking holder left is still usable.
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn forget(&self) {
        *self.lock_counts() = TermCounts::default();
    }
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
                .fetch_all(&self.search_reader)
                .await
                .map_err(map_sqlx_error)?;
            let apps = rows.iter().map(app_from_row).collect::<RepoResult<_>>()?;
            let total = self.count_listed(query).await?;
            return Ok(CataloguePage { apps, total });
        }

        let matching = match_text(&query.words, &query.corrections);
        let (total, keys) = self.search_matches(query, &matching).await?;
        let mut builder: QueryBuilder<'_, Sqlite> = QueryBuilder::new("");
        if query.sort != CatalogueSort::Relevance {
            // The query only filters; the order is the sort's.
            builder.push("SELECT ").push(COLUMNS);
            push_matches(&mut builder, query, &matching, true);
            push_order(&mut builder, query.sort, false);
            builder
                .push(" LIMIT ")
                .push_bind(query.limit)
                .push(" OFFSET ")
                .push_bind(query.offset);
        } else if total < query.window {
            let ranking = self.ranking_text(query).await?;
            let ranking = ranking.map(|text| (text, keys));
            push_ranked_whole(&mut builder, query, &matching, ranking);
        } else {
            push_broad(&mut builder, query, &matching);
        }
        let rows = builder
            .build()
            .fetch_all(&self.search_reader)
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
            .fetch_all(&self.search_reader)
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
        .fetch_all(&self.search_reader)
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
        self.term_documents.forget();
        Ok(result.rows_affected())
    }
}

impl SqliteDatabase {
    /// Merges the segments of `apps_fts` and `apps_name_fts` after a ranking refresh. Every
    /// app whose popularity step changed moved to a new rowid (migration 0015), so a refresh
    /// leaves many small
    /// segments behind; a word's matches are then read from all of them (measured over
    /// 100,000 apps: the index at 162 MB instead of 89 MB, searches at about half the
    /// throughput). Each step merges at most `FTS_MERGE_PAGES` pages in its own short write
    /// transaction (about 100 ms at most on the benchmark machine), so other writers wait
    /// for one step, not for the whole merge; the steps stop when one finds nothing to do.
    async fn compact_search_index(&self) -> RepoResult<()> {
        for table in FTS_TABLES {
            // A negative page count merges segments of every level, towards one segment.
            let merge = format!("INSERT INTO {table} ({table}, rank) VALUES ('merge', ?1)");
            for _ in 0..FTS_MERGE_STEPS {
                let mut tx = self.writer.begin().await.map_err(map_sqlx_error)?;
                let before: i64 = sqlx::query_scalar("SELECT total_changes()")
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(map_sqlx_error)?;
                sqlx::query(&merge)
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
        }
        Ok(())
    }

    /// The expression bm25 should rank `query`'s matches by, when it differs from the query:
    /// the query without the words that at least half of the listed apps hold. bm25 gives
    /// such a word no weight (its inverse document frequency is clamped to 1e-6), yet FTS5
    /// computes that weight by walking the word's whole document list on every query: for a
    /// word in every description ("app") that was 5-8 ms of a 10 ms search. The word still
    /// has to match. A word with corrections is always kept. `None`: rank by the query.
    async fn ranking_text(&self, query: &CatalogueQuery) -> RepoResult<Option<String>> {
        let mut keep = vec![true; query.words.len()];
        let mut listed = None;
        for (i, word) in query.words.iter().enumerate() {
            let corrected = query
                .corrections
                .get(i)
                .is_some_and(|more| more.iter().any(|m| m != word));
            if corrected {
                continue;
            }
            let listed = match listed {
                Some(listed) => listed,
                None => *listed.insert(self.listed_documents().await?),
            };
            // The last word matches as a prefix, which holds at least the word's documents.
            keep[i] = self.word_documents(word).await?.saturating_mul(2) < listed;
        }
        if keep.iter().all(|k| *k) || keep.iter().all(|k| !*k) {
            return Ok(None);
        }
        Ok(Some(match_groups(&query.words, &query.corrections, &keep)))
    }

    /// Rows of `apps_fts` (the listed apps), remembered until the next ranking refresh.
    async fn listed_documents(&self) -> RepoResult<i64> {
        if let Some(listed) = self.term_documents.lock_counts().listed {
            return Ok(listed);
        }
        let listed: i64 = sqlx::query_scalar("SELECT count(*) FROM apps_fts_docsize")
            .fetch_one(&self.search_reader)
            .await
            .map_err(map_sqlx_error)?;
        self.term_documents.lock_counts().listed = Some(listed);
        Ok(listed)
    }

    /// Listed apps whose document holds `word`, remembered until the next ranking refresh.
    async fn word_documents(&self, word: &str) -> RepoResult<i64> {
        if let Some(documents) = self.term_documents.lock_counts().words.get(word) {
            return Ok(*documents);
        }
        let documents: i64 =
            sqlx::query_scalar("SELECT coalesce(max(doc), 0) FROM apps_fts_terms WHERE term = ?1")
                .bind(word)
                .fetch_one(&self.search_reader)
                .await
                .map_err(map_sqlx_error)?;
        let mut counts = self.term_documents.lock_counts();
        if counts.words.len() >= TERM_COUNTS_REMEMBERED {
            counts.words.clear();
        }
        counts.words.insert(word.to_owned(), documents);
        Ok(documents)
    }

    /// How many listed apps a browse (no words) lists.
    async fn count_listed(&self, query: &CatalogueQuery) -> RepoResult<i64> {
        let mut builder: QueryBuilder<'_, Sqlite> =
            QueryBuilder::new("SELECT count(*) FROM apps a WHERE");
        push_filters(&mut builder, query);
        builder
            .build_query_scalar::<i64>()
            .fetch_one(&self.search_reader)
            .await
            .map_err(map_sqlx_error)
    }

    /// A search's matches, at most `window` of them: how many, and their `apps_fts` keys as
    /// a JSON array. A query ranked whole reads its matches from these keys instead of
    /// walking the full-text index a second time.
    async fn search_matches(
        &self,
        query: &CatalogueQuery,
        matching: &str,
    ) -> RepoResult<(i64, String)> {
        let mut builder: QueryBuilder<'_, Sqlite> = QueryBuilder::new(
            "SELECT count(*), json_group_array(k) FROM (SELECT apps_fts.rowid AS k",
        );
        push_matches(&mut builder, query, matching, false);
        builder
            .push(" LIMIT ")
            .push_bind(query.window.max(1))
            .push(")");
        builder
            .build_query_as::<(i64, String)>()
            .fetch_one(&self.search_reader)
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
    fn match_groups_leave_words_out_and_keep_the_prefix() {
        let words = vec!["super".to_owned(), "app".to_owned(), "pro".to_owned()];
        assert_eq!(
            match_groups(&words, &[], &[true, false, true]),
            "(\"super\") AND (\"pro\"*)"
        );
        // The last word stays a prefix only in its own place.
        assert_eq!(
            match_groups(&words, &[], &[true, true, false]),
            "(\"super\") AND (\"app\")"
        );
    }

    #[test]
    fn trigram_similarity_matches_pg_trgm() {
        let a = trigrams("calcluatro");
        let b = trigrams("calculator");
        assert!((similarity(&a, &b) - 4.0 / 18.0).abs() < 1e-9);
        assert_eq!(similarity(&a, &a), 1.0);
    }
}
