//! Browse and search over listed apps: the weighted `search_document` (name A, short
//! description B, category and developer C, description D) ranked with `ts_rank_cd`, typo
//! candidates from the trigram index on `app_search_terms`, and the ranking refresh.

use crate::tx::PgTx;
use crate::{map_sqlx_error, PgDatabase};
use async_trait::async_trait;
use sqlx::postgres::PgRow;
use sqlx::{Postgres, QueryBuilder, Row};
use time::OffsetDateTime;
use tmcp_repository::store_search::ranking;
use tmcp_repository::{
    CatalogueApp, CataloguePage, CatalogueQuery, CatalogueSort, RepoResult, StoreSearchRepository,
};

/// Trigram similarity a vocabulary term needs to be a typo candidate. Low enough for two
/// typos in a 9-letter word ("calcluatro" → "calculator" shares 4 of 18 trigrams, 0.22).
const SIMILARITY_THRESHOLD: &str = "0.2";
/// Matches of a broad query ranked by text: its most popular ones (`ts_rank_cd` costs
/// microseconds per document, so it runs on a bounded set).
const TEXT_RANKED: i64 = 200;

/// The listing columns, in [`app_from_row`]'s order.
const COLUMNS: &str = "a.app_id, a.name, a.short_description, a.category, a.classification, \
     a.developer_name, a.version, a.metadata -> 'branding' ->> 'icon_url' AS icon_url, \
     a.featured, a.install_count, a.rating_count, a.rating_mean, a.published_at";

fn app_from_row(row: &PgRow) -> sqlx::Result<CatalogueApp> {
    Ok(CatalogueApp {
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
        published_at: row.try_get(12)?,
    })
}

/// A `to_tsquery('simple', …)` text: the words AND-ed, each word's alternatives (itself and
/// its corrections) OR-ed in a group, the last group's lexemes as prefixes. Every lexeme is
/// quoted, so nothing in a word is read as an operator.
pub(crate) fn tsquery_text(words: &[String], corrections: &[Vec<String>]) -> String {
    let last = words.len().saturating_sub(1);
    let groups: Vec<String> = words
        .iter()
        .enumerate()
        .map(|(i, word)| {
            let mut alternatives = vec![word.as_str()];
            if let Some(more) = corrections.get(i) {
                alternatives.extend(more.iter().map(String::as_str).filter(|m| *m != word));
            }
            let lexemes: Vec<String> = alternatives
                .iter()
                .map(|alt| {
                    let quoted = format!("'{}'", alt.replace('\\', "\\\\").replace('\'', "''"));
                    if i == last {
                        format!("{quoted}:*")
                    } else {
                        quoted
                    }
                })
                .collect();
            format!("({})", lexemes.join(" | "))
        })
        .collect();
    groups.join(" & ")
}

fn push_filters(builder: &mut QueryBuilder<'_, Postgres>, query: &CatalogueQuery) {
    builder.push(" WHERE a.status = 'active'");
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

fn push_order(builder: &mut QueryBuilder<'_, Postgres>, sort: CatalogueSort, searching: bool) {
    builder.push(" ORDER BY ");
    match sort {
        CatalogueSort::Relevance if searching => {
            builder.push("exact DESC, rank DESC, a.popularity DESC, ");
        }
        CatalogueSort::Relevance | CatalogueSort::Popular => {
            builder.push("a.popularity DESC, ");
        }
        CatalogueSort::Recent => {
            builder.push("a.published_at DESC NULLS LAST, ");
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

/// `a` is a listed app matching `query`'s filters and, when `tsquery` is given, its text.
fn push_match(builder: &mut QueryBuilder<'_, Postgres>, query: &CatalogueQuery, tsquery: &str) {
    push_filters(builder, query);
    if !tsquery.is_empty() {
        builder
            .push(" AND a.search_document @@ to_tsquery('simple', ")
            .push_bind(tsquery.to_owned())
            .push(")");
    }
}

/// `s` is a row of `app_search_rows` (listed apps only, migration 0017) matching `query`'s
/// filters and text. Matching reads this narrow copy rather than the wide `apps` rows.
fn push_search_match(
    builder: &mut QueryBuilder<'_, Postgres>,
    query: &CatalogueQuery,
    tsquery: &str,
) {
    builder
        .push(" WHERE s.search_document @@ to_tsquery('simple', ")
        .push_bind(tsquery.to_owned())
        .push(")");
    if let Some(category) = &query.category {
        builder
            .push(" AND s.category = ")
            .push_bind(category.clone());
    }
    if let Some(classification) = &query.classification {
        builder
            .push(" AND s.classification = ")
            .push_bind(classification.clone());
    }
}

/// Opens the read-only transaction an unnamed statement runs in. sqlx sends an unnamed
/// statement's Parse and its Bind in two round trips; outside a transaction a
/// transaction-pooling PgBouncer may pass each to a different server connection ("unnamed
/// prepared statement does not exist", or another client's statement bound to these
/// parameters). Inside one, both reach the same server connection.
async fn unnamed_tx(pool: &sqlx::PgPool) -> RepoResult<PgTx> {
    PgTx::begin(pool, Some("BEGIN READ ONLY".to_owned()))
        .await
        .map_err(map_sqlx_error)
}

async fn fetch_apps(
    builder: &mut QueryBuilder<'_, Postgres>,
    pool: &sqlx::PgPool,
) -> RepoResult<Vec<CatalogueApp>> {
    let mut tx = unnamed_tx(pool).await?;
    let rows = builder
        .build()
        // Unnamed: planned with the actual text each time (a cached generic plan cannot
        // know whether a word is rare or in every document).
        .persistent(false)
        .fetch_all(&mut *tx)
        .await
        .map_err(map_sqlx_error)?;
    tx.commit().await.map_err(map_sqlx_error)?;
    rows.iter()
        .map(|row| app_from_row(row).map_err(map_sqlx_error))
        .collect()
}

#[async_trait]
impl StoreSearchRepository for PgDatabase {
    async fn search_apps(&self, query: &CatalogueQuery) -> RepoResult<CataloguePage> {
        if query.words.is_empty() {
            // Browse walks a partial index in the sort's order and stops at the page; the
            // count is a separate (index-only) query.
            let mut builder: QueryBuilder<'_, Postgres> = QueryBuilder::new("SELECT ");
            builder.push(COLUMNS).push(" FROM apps a");
            push_match(&mut builder, query, "");
            push_order(&mut builder, query.sort, false);
            builder
                .push(" LIMIT ")
                .push_bind(query.limit)
                .push(" OFFSET ")
                .push_bind(query.offset);
            let apps = fetch_apps(&mut builder, self.app()).await?;
            let total = self.count_matches(query).await?;
            return Ok(CataloguePage { apps, total });
        }
        let tsquery = tsquery_text(&query.words, &query.corrections);
        if query.sort != CatalogueSort::Relevance {
            // The sort's index, walked with the text as a filter; the count stops at the
            // window.
            let mut builder: QueryBuilder<'_, Postgres> = QueryBuilder::new("SELECT ");
            builder.push(COLUMNS).push(" FROM apps a");
            push_match(&mut builder, query, &tsquery);
            push_order(&mut builder, query.sort, false);
            builder
                .push(" LIMIT ")
                .push_bind(query.limit)
                .push(" OFFSET ")
                .push_bind(query.offset);
            let apps = fetch_apps(&mut builder, self.app()).await?;
            let total = self.count_matches(query).await?;
            return Ok(CataloguePage { apps, total });
        }
        // Relevance, in one statement: exact names first; then the most popular other
        // matches (at most TEXT_RANKED) by text rank; then the rest by popularity. With at
        // most TEXT_RANKED matches that is every match by text rank. Only as many matches
        // as the page needs are read in popularity order (at least TEXT_RANKED); the
        // count is separate and stops at the window, so a common word costs about as much
        // as a rare one.
        let exact = query.exact.clone().unwrap_or_default();
        let ranked = query.window.min(TEXT_RANKED);
        let needed = (query.offset + query.limit).max(ranked);
        let mut builder: QueryBuilder<'_, Postgres> = QueryBuilder::new(
            "WITH exact AS MATERIALIZED (SELECT s.app_id, s.popularity FROM app_search_rows s",
        );
        push_search_match(&mut builder, query, &tsquery);
        builder
            .push(" AND s.name_lower = ")
            .push_bind(exact.clone())
            .push(
                "), top AS MATERIALIZED (SELECT s.app_id, s.popularity, s.search_document \
                 FROM app_search_rows s",
            );
        push_search_match(&mut builder, query, &tsquery);
        builder
            .push(" AND s.name_lower <> ")
            .push_bind(exact.clone())
            .push(" ORDER BY s.popularity DESC, s.app_id LIMIT ")
            .push_bind(needed)
            // When `top` holds fewer rows than it was allowed, it holds every match and
            // counts them; only a full `top` needs the separate count (PostgreSQL runs the
            // subquery of the branch not taken not at all).
            .push("), others AS (SELECT CASE WHEN (SELECT count(*) FROM top) < ")
            .push_bind(needed)
            .push(
                " THEN (SELECT count(*) FROM top) \
                 ELSE (SELECT count(*) FROM (SELECT 1 FROM app_search_rows s",
            );
        push_search_match(&mut builder, query, &tsquery);
        builder
            .push(" AND s.name_lower <> ")
            .push_bind(exact.clone())
            .push(" LIMIT ")
            .push_bind(query.window.max(1))
            .push(
                ") c) END AS n), ordered AS (SELECT app_id, 0 AS part, 0::float8 AS rank, popularity FROM exact \
                 UNION ALL SELECT app_id, 1, ts_rank_cd(search_document, to_tsquery('simple', ",
            )
            .push_bind(tsquery.clone())
            .push(
                "))::float8, popularity FROM (SELECT * FROM top ORDER BY popularity DESC, app_id \
                 LIMIT ",
            )
            .push_bind(ranked)
            .push(
                ") r UNION ALL SELECT app_id, 2, 0::float8, popularity FROM (SELECT * FROM top \
                 ORDER BY popularity DESC, app_id OFFSET ",
            )
            .push_bind(ranked)
            .push(") u");
        // The page is cut before the join, so only its rows are looked up.
        builder
            .push(
                "), page AS (SELECT * FROM ordered \
                   ORDER BY part, rank DESC, popularity DESC, app_id LIMIT ",
            )
            .push_bind(query.limit)
            .push(" OFFSET ")
            .push_bind(query.offset)
            .push(") SELECT ")
            .push(COLUMNS)
            .push(", least(")
            .push_bind(query.window)
            .push(
                ", (SELECT count(*) FROM exact) + (SELECT n FROM others)) AS total \
                   FROM page o JOIN apps a ON a.app_id = o.app_id \
                   ORDER BY o.part, o.rank DESC, o.popularity DESC, o.app_id",
            );
        let mut tx = unnamed_tx(self.app()).await?;
        let rows = builder
            .build()
            .persistent(false)
            .fetch_all(&mut *tx)
            .await
            .map_err(map_sqlx_error)?;
        tx.commit().await.map_err(map_sqlx_error)?;
        let mut apps = Vec::with_capacity(rows.len());
        let mut total = None;
        for row in &rows {
            apps.push(app_from_row(row).map_err(map_sqlx_error)?);
            total = Some(row.try_get::<i64, _>("total").map_err(map_sqlx_error)?);
        }
        let total = match total {
            Some(total) => total,
            // A page past the end carries no row to read the count from.
            None if query.offset > 0 => self.count_matches(query).await?,
            None => 0,
        };
        Ok(CataloguePage { apps, total })
    }

    async fn featured_apps(&self, limit: i64) -> RepoResult<Vec<CatalogueApp>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM apps a WHERE a.status = 'active' AND a.featured \
             ORDER BY a.popularity DESC, a.app_id LIMIT $1"
        );
        let rows = sqlx::query(&sql)
            .bind(limit)
            .fetch_all(self.app())
            .await
            .map_err(map_sqlx_error)?;
        rows.iter()
            .map(|row| app_from_row(row).map_err(map_sqlx_error))
            .collect()
    }

    async fn term_candidates(&self, word: &str, limit: i64) -> RepoResult<Vec<String>> {
        // `%` is the operator the trigram index serves; its threshold is a setting, set for
        // this transaction only.
        let mut tx = PgTx::begin(
            self.app(),
            Some(format!(
                "BEGIN READ ONLY; SET LOCAL pg_trgm.similarity_threshold = {SIMILARITY_THRESHOLD}"
            )),
        )
        .await
        .map_err(map_sqlx_error)?;
        let terms: Vec<String> = sqlx::query_scalar(
            "SELECT term FROM app_search_terms WHERE term % $1 \
             ORDER BY similarity(term, $1) DESC, app_count DESC, term LIMIT $2",
        )
        .bind(word)
        .bind(limit)
        .fetch_all(&mut *tx)
        .await
        .map_err(map_sqlx_error)?;
        tx.commit().await.map_err(map_sqlx_error)?;
        Ok(terms)
    }

    async fn refresh_rankings(&self, now: OffsetDateTime) -> RepoResult<u64> {
        let active_since = now - time::Duration::days(ranking::ACTIVE_WINDOW_DAYS);
        let result = sqlx::query(
            "WITH inst AS ( \
                 SELECT app_id, \
                        count(*) FILTER (WHERE status = 'installed') AS installs, \
                        count(DISTINCT user_id) FILTER ( \
                            WHERE greatest(installed_at, coalesce(last_used_at, installed_at)) \
                                  BETWEEN $2 AND $1) AS active \
                   FROM app_installations GROUP BY app_id), \
             rev AS ( \
                 SELECT app_id, count(*) AS n, sum(rating)::float8 AS total \
                   FROM app_reviews WHERE status = 'active' AND rating IS NOT NULL \
                  GROUP BY app_id), \
             prior AS ( \
                 SELECT coalesce(avg(rating)::float8, 0) AS m \
                   FROM app_reviews WHERE status = 'active' AND rating IS NOT NULL), \
             fresh AS ( \
                 SELECT a.app_id, a.published_at, \
                        coalesce(i.installs, 0) AS installs, coalesce(i.active, 0) AS active, \
                        coalesce(r.n, 0) AS n, \
                        CASE WHEN r.n IS NULL THEN 0::float8 \
                             ELSE ($3 * p.m + r.total) / ($3 + r.n) END AS mean \
                   FROM apps a CROSS JOIN prior p \
                   LEFT JOIN inst i ON i.app_id = a.app_id \
                   LEFT JOIN rev r ON r.app_id = a.app_id), \
             ranked AS ( \
                 SELECT f.*, round(( \
                     ln(1 + f.installs::float8) * $4 + ln(1 + f.active::float8) * $5 \
                     + f.mean * $6 \
                     + CASE WHEN f.published_at IS NULL THEN 0::float8 ELSE $7 * power(0.5::float8, \
                           least($9, greatest(0, extract(epoch FROM ($1 - f.published_at))::float8 \
                                                  / 86400.0) / $8)) END \
                 )::numeric, 4)::float8 AS pop \
                   FROM fresh f) \
             UPDATE apps a SET install_count = k.installs, active_users_30d = k.active, \
                    rating_count = k.n, rating_mean = k.mean, popularity = k.pop \
               FROM ranked k \
              WHERE a.app_id = k.app_id \
                AND (a.install_count, a.active_users_30d, a.rating_count, a.rating_mean, \
                     a.popularity) \
                    IS DISTINCT FROM (k.installs, k.active, k.n, k.mean, k.pop)",
        )
        .bind(now)
        .bind(active_since)
        .bind(ranking::RATING_PRIOR_REVIEWS)
        .bind(ranking::INSTALLS_WEIGHT)
        .bind(ranking::ACTIVE_WEIGHT)
        .bind(ranking::RATING_WEIGHT)
        .bind(ranking::RECENCY_BOOST)
        .bind(ranking::RECENCY_HALF_LIFE_DAYS)
        .bind(ranking::RECENCY_HORIZON_HALF_LIVES)
        .execute(self.system())
        .await
        .map_err(map_sqlx_error)?;
        Ok(result.rows_affected())
    }
}

impl PgDatabase {
    /// How many listed apps match: all when browsing, at most `window` when searching.
    async fn count_matches(&self, query: &CatalogueQuery) -> RepoResult<i64> {
        let mut builder: QueryBuilder<'_, Postgres> = QueryBuilder::new("SELECT count(*) FROM (");
        if query.words.is_empty() {
            builder.push("SELECT 1 FROM apps a");
            push_match(&mut builder, query, "");
            builder.push(") c");
        } else {
            builder.push("SELECT 1 FROM app_search_rows s");
            push_search_match(
                &mut builder,
                query,
                &tsquery_text(&query.words, &query.corrections),
            );
            builder
                .push(" LIMIT ")
                .push_bind(query.window.max(1))
                .push(") c");
        }
        let mut tx = unnamed_tx(self.app()).await?;
        let count = builder
            .build_query_scalar::<i64>()
            .persistent(false)
            .fetch_one(&mut *tx)
            .await
            .map_err(map_sqlx_error)?;
        tx.commit().await.map_err(map_sqlx_error)?;
        Ok(count)
    }
}

#[cfg(test)]
mod tests {
    use super::tsquery_text;

    #[test]
    fn tsquery_groups_alternatives_and_prefixes_the_last_word() {
        let words = vec!["photo".to_owned(), "edtor".to_owned()];
        let corrections = vec![vec![], vec!["editor".to_owned(), "edito".to_owned()]];
        assert_eq!(
            tsquery_text(&words, &corrections),
            "('photo') & ('edtor':* | 'editor':* | 'edito':*)"
        );
        assert_eq!(tsquery_text(&["o'k".to_owned()], &[]), "('o''k':*)");
    }
}
