//! What users do in the store on PostgreSQL: installs (with their lifecycle event, in one
//! transaction) and reviews.

use crate::{map_sqlx_error, PgDatabase};
use sqlx::PgConnection;
use time::OffsetDateTime;
use tmcp_domain::ids::uuid_v7_at;
use tmcp_domain::UserId;
use tmcp_repository::{
    InstallOutcome, Installation, RatingSummary, RepoResult, Review, ReviewWrite, StoreEvent,
};
use uuid::Uuid;

const INSTALL_COLUMNS: &str =
    "installation_id, app_id, user_id, version, status, installed_at, updated_at";

type InstallRow = (
    Uuid,
    String,
    Uuid,
    String,
    String,
    OffsetDateTime,
    OffsetDateTime,
);

fn to_installation(
    (id, app_id, user, version, status, installed_at, updated_at): InstallRow,
) -> Installation {
    Installation {
        installation_id: id,
        app_id,
        user_id: UserId(user),
        version,
        status,
        installed_at,
        updated_at,
    }
}

async fn record_event(
    conn: &mut PgConnection,
    user: UserId,
    app_id: &str,
    at: OffsetDateTime,
    event: &StoreEvent,
) -> RepoResult<()> {
    sqlx::query(
        "INSERT INTO app_lifecycle_events (event_id, app_id, user_id, event_type, event_data, \
         \"timestamp\") VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(event.event_id)
    .bind(app_id)
    .bind(user.0)
    .bind(event.event_type)
    .bind(&event.data)
    .bind(at)
    .execute(&mut *conn)
    .await
    .map_err(map_sqlx_error)?;
    // The analytics rollup recomputes the event's hour.
    let bucket = (app_id.to_owned(), tmcp_domain::analytics::hour_of(at));
    crate::analytics::mark_dirty(conn, &std::collections::BTreeSet::from([bucket]), at).await
}

pub(crate) async fn install_app(
    db: &PgDatabase,
    user: UserId,
    app_id: &str,
    version: &str,
    at: OffsetDateTime,
    event: StoreEvent,
) -> RepoResult<InstallOutcome> {
    let mut tx = db.system_tx().await?;
    // The user's newest row, live ones first; locked, so a concurrent install of the same
    // pair waits here and then finds the row this one leaves.
    let current: Option<InstallRow> = sqlx::query_as(&format!(
        "SELECT {INSTALL_COLUMNS} FROM app_installations WHERE user_id = $1 AND app_id = $2 \
         ORDER BY (status <> 'uninstalled') DESC, updated_at DESC LIMIT 1 FOR UPDATE"
    ))
    .bind(user.0)
    .bind(app_id)
    .fetch_optional(&mut *tx)
    .await
    .map_err(map_sqlx_error)?;
    let outcome = match current.map(to_installation) {
        Some(live) if live.status != "uninstalled" => {
            return Ok(InstallOutcome::AlreadyInstalled(live));
        }
        Some(old) => {
            let row: InstallRow = sqlx::query_as(&format!(
                "UPDATE app_installations SET status = 'installed', version = $2, \
                 source = 'store', installed_at = $3, updated_at = $3 \
                 WHERE installation_id = $1 RETURNING {INSTALL_COLUMNS}"
            ))
            .bind(old.installation_id)
            .bind(version)
            .bind(at)
            .fetch_one(&mut *tx)
            .await
            .map_err(map_sqlx_error)?;
            InstallOutcome::Reactivated(to_installation(row))
        }
        None => {
            let row: Option<InstallRow> = sqlx::query_as(&format!(
                "INSERT INTO app_installations (installation_id, app_id, user_id, version, \
                 source, status, installed_at, updated_at) \
                 VALUES ($1, $2, $3, $4, 'store', 'installed', $5, $5) \
                 ON CONFLICT (user_id, app_id) WHERE status <> 'uninstalled' DO NOTHING \
                 RETURNING {INSTALL_COLUMNS}"
            ))
            .bind(uuid_v7_at(at))
            .bind(app_id)
            .bind(user.0)
            .bind(version)
            .bind(at)
            .fetch_optional(&mut *tx)
            .await
            .map_err(map_sqlx_error)?;
            match row {
                Some(row) => InstallOutcome::Installed(to_installation(row)),
                None => {
                    drop(tx);
                    let live = installation_of(db, user, app_id).await?;
                    return live.map(InstallOutcome::AlreadyInstalled).ok_or_else(|| {
                        tmcp_repository::RepoError::Internal(
                            "installation vanished during install".into(),
                        )
                    });
                }
            }
        }
    };
    record_event(&mut tx, user, app_id, at, &event).await?;
    tx.commit().await.map_err(map_sqlx_error)?;
    Ok(outcome)
}

pub(crate) async fn uninstall_app(
    db: &PgDatabase,
    user: UserId,
    app_id: &str,
    at: OffsetDateTime,
    event: StoreEvent,
) -> RepoResult<bool> {
    let mut tx = db.system_tx().await?;
    let updated = sqlx::query(
        "UPDATE app_installations SET status = 'uninstalled', updated_at = $3 \
         WHERE user_id = $1 AND app_id = $2 AND status <> 'uninstalled'",
    )
    .bind(user.0)
    .bind(app_id)
    .bind(at)
    .execute(&mut *tx)
    .await
    .map_err(map_sqlx_error)?
    .rows_affected();
    if updated == 0 {
        return Ok(false);
    }
    record_event(&mut tx, user, app_id, at, &event).await?;
    tx.commit().await.map_err(map_sqlx_error)?;
    Ok(true)
}

async fn installation_of(
    db: &PgDatabase,
    user: UserId,
    app_id: &str,
) -> RepoResult<Option<Installation>> {
    let row: Option<InstallRow> = sqlx::query_as(&format!(
        "SELECT {INSTALL_COLUMNS} FROM app_installations \
         WHERE user_id = $1 AND app_id = $2 AND status <> 'uninstalled'"
    ))
    .bind(user.0)
    .bind(app_id)
    .fetch_optional(db.system())
    .await
    .map_err(map_sqlx_error)?;
    Ok(row.map(to_installation))
}

pub(crate) async fn installation(
    db: &PgDatabase,
    user: UserId,
    app_id: &str,
) -> RepoResult<Option<Installation>> {
    installation_of(db, user, app_id).await
}

pub(crate) async fn installed_apps(db: &PgDatabase, user: UserId) -> RepoResult<Vec<Installation>> {
    let rows: Vec<InstallRow> = sqlx::query_as(&format!(
        "SELECT {INSTALL_COLUMNS} FROM app_installations \
         WHERE user_id = $1 AND status <> 'uninstalled' \
         ORDER BY installed_at DESC, installation_id LIMIT 1000"
    ))
    .bind(user.0)
    .fetch_all(db.system())
    .await
    .map_err(map_sqlx_error)?;
    Ok(rows.into_iter().map(to_installation).collect())
}

const REVIEW_COLUMNS: &str = "r.review_id, r.app_id, r.user_id, u.username, r.version, \
     r.rating, r.title, r.comment, r.helpful_count, r.verified, r.status, r.created_at, \
     r.updated_at";

#[derive(sqlx::FromRow)]
struct ReviewRow {
    review_id: Uuid,
    app_id: String,
    user_id: Uuid,
    username: String,
    version: Option<String>,
    rating: Option<i32>,
    title: Option<String>,
    comment: Option<String>,
    helpful_count: i32,
    verified: bool,
    status: String,
    created_at: OffsetDateTime,
    updated_at: OffsetDateTime,
}

impl From<ReviewRow> for Review {
    fn from(r: ReviewRow) -> Self {
        Review {
            review_id: r.review_id,
            app_id: r.app_id,
            user_id: UserId(r.user_id),
            username: r.username,
            version: r.version,
            rating: r.rating.unwrap_or(0),
            title: r.title,
            comment: r.comment,
            helpful_count: r.helpful_count,
            verified: r.verified,
            status: r.status,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

pub(crate) async fn write_review(db: &PgDatabase, review: ReviewWrite) -> RepoResult<Review> {
    let mut tx = db.system_tx().await?;
    // A hidden review stays hidden when its author edits it: writing again must not be a
    // way around moderation.
    let existing: Option<Uuid> = sqlx::query_scalar(
        "SELECT review_id FROM app_reviews WHERE app_id = $1 AND user_id = $2 \
         AND status IN ('active', 'hidden') ORDER BY (status = 'active') DESC, created_at DESC \
         LIMIT 1 FOR UPDATE",
    )
    .bind(&review.app_id)
    .bind(review.user_id.0)
    .fetch_optional(&mut *tx)
    .await
    .map_err(map_sqlx_error)?;
    let verified = "EXISTS (SELECT 1 FROM app_installations i \
                    WHERE i.user_id = $2 AND i.app_id = $1)";
    let id: Uuid = match existing {
        Some(id) => sqlx::query_scalar(&format!(
            "UPDATE app_reviews SET version = $3, rating = $4, title = $5, comment = $6, \
             verified = {verified}, updated_at = $7 WHERE review_id = $8 RETURNING review_id"
        ))
        .bind(&review.app_id)
        .bind(review.user_id.0)
        .bind(&review.version)
        .bind(review.rating)
        .bind(&review.title)
        .bind(&review.comment)
        .bind(review.at)
        .bind(id)
        .fetch_one(&mut *tx)
        .await
        .map_err(map_sqlx_error)?,
        None => sqlx::query_scalar(&format!(
            "INSERT INTO app_reviews (review_id, app_id, user_id, version, rating, title, \
             comment, verified, status, created_at, updated_at) \
             VALUES ($8, $1, $2, $3, $4, $5, $6, {verified}, 'active', $7, $7) \
             ON CONFLICT (app_id, user_id) WHERE status = 'active' DO UPDATE SET \
             version = EXCLUDED.version, rating = EXCLUDED.rating, title = EXCLUDED.title, \
             comment = EXCLUDED.comment, verified = EXCLUDED.verified, \
             updated_at = EXCLUDED.updated_at RETURNING review_id"
        ))
        .bind(&review.app_id)
        .bind(review.user_id.0)
        .bind(&review.version)
        .bind(review.rating)
        .bind(&review.title)
        .bind(&review.comment)
        .bind(review.at)
        .bind(uuid_v7_at(review.at))
        .fetch_one(&mut *tx)
        .await
        .map_err(map_sqlx_error)?,
    };
    let row: ReviewRow = sqlx::query_as(&format!(
        "SELECT {REVIEW_COLUMNS} FROM app_reviews r JOIN users u ON u.id = r.user_id \
         WHERE r.review_id = $1"
    ))
    .bind(id)
    .fetch_one(&mut *tx)
    .await
    .map_err(map_sqlx_error)?;
    tx.commit().await.map_err(map_sqlx_error)?;
    Ok(row.into())
}

pub(crate) async fn reviews(
    db: &PgDatabase,
    app_id: &str,
    limit: i64,
    offset: i64,
) -> RepoResult<Vec<Review>> {
    let rows: Vec<ReviewRow> = sqlx::query_as(&format!(
        "SELECT {REVIEW_COLUMNS} FROM app_reviews r JOIN users u ON u.id = r.user_id \
         WHERE r.app_id = $1 AND r.status = 'active' \
         ORDER BY r.helpful_count DESC, r.created_at DESC, r.review_id LIMIT $2 OFFSET $3"
    ))
    .bind(app_id)
    .bind(limit)
    .bind(offset)
    .fetch_all(db.system())
    .await
    .map_err(map_sqlx_error)?;
    Ok(rows.into_iter().map(Review::from).collect())
}

pub(crate) async fn find_review(db: &PgDatabase, review_id: Uuid) -> RepoResult<Option<Review>> {
    let row: Option<ReviewRow> = sqlx::query_as(&format!(
        "SELECT {REVIEW_COLUMNS} FROM app_reviews r JOIN users u ON u.id = r.user_id \
         WHERE r.review_id = $1"
    ))
    .bind(review_id)
    .fetch_optional(db.system())
    .await
    .map_err(map_sqlx_error)?;
    Ok(row.map(Review::from))
}

pub(crate) async fn vote_helpful(
    db: &PgDatabase,
    review_id: Uuid,
    user: UserId,
    at: OffsetDateTime,
) -> RepoResult<bool> {
    let mut tx = db.system_tx().await?;
    let inserted = sqlx::query(
        "INSERT INTO app_review_votes (review_id, user_id, created_at) VALUES ($1, $2, $3) \
         ON CONFLICT DO NOTHING",
    )
    .bind(review_id)
    .bind(user.0)
    .bind(at)
    .execute(&mut *tx)
    .await
    .map_err(map_sqlx_error)?
    .rows_affected();
    if inserted == 0 {
        return Ok(false);
    }
    sqlx::query("UPDATE app_reviews SET helpful_count = helpful_count + 1 WHERE review_id = $1")
        .bind(review_id)
        .execute(&mut *tx)
        .await
        .map_err(map_sqlx_error)?;
    tx.commit().await.map_err(map_sqlx_error)?;
    Ok(true)
}

pub(crate) async fn rating_summary(db: &PgDatabase, app_id: &str) -> RepoResult<RatingSummary> {
    let rows: Vec<(i32, i64)> = sqlx::query_as(
        "SELECT rating, count(*) FROM app_reviews WHERE app_id = $1 AND status = 'active' \
         AND rating IS NOT NULL GROUP BY rating",
    )
    .bind(app_id)
    .fetch_all(db.system())
    .await
    .map_err(map_sqlx_error)?;
    Ok(tmcp_repository::store::summarize_ratings(&rows))
}
