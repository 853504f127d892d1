//! Ratings and reviews: one active review per (user, app) — writing again updates it —,
//! `verified` when the author has installed the app, one helpful vote per user, and hiding by
//! admins (a hidden review stays hidden when its author edits it).

use super::apps::{audit, require_admin, text};
use super::{Caller, StoreError};
use crate::fields::FieldErrors;
use serde_json::json;
use tmcp_domain::Clock;
use tmcp_repository::{Database, RatingSummary, Review, ReviewWrite};
use uuid::Uuid;

#[derive(Debug, Clone, Default)]
pub struct ReviewInput {
    pub rating: i64,
    pub title: Option<String>,
    pub comment: Option<String>,
}

/// Writes the caller's review of a listed app.
pub async fn write(
    db: &dyn Database,
    clock: &dyn Clock,
    caller: Caller,
    app_id: &str,
    input: ReviewInput,
) -> Result<Review, StoreError> {
    let app = db
        .find_store_app(app_id)
        .await?
        .filter(|app| app.published_at.is_some())
        .ok_or(StoreError::AppNotFound)?;
    let mut errors = FieldErrors::new();
    if !(1..=5).contains(&input.rating) {
        errors.add("rating", "must be an integer from 1 to 5");
    }
    let title = text(&mut errors, "title", input.title.as_deref(), 255, false);
    let comment = text(
        &mut errors,
        "comment",
        input.comment.as_deref(),
        5000,
        false,
    );
    errors.into_result()?;
    let rating = i32::try_from(input.rating).map_err(|_| StoreError::Internal("rating".into()))?;
    let installed = db.installation(caller.user, app_id).await?;
    Ok(db
        .write_review(ReviewWrite {
            app_id: app.app_id,
            user_id: caller.user,
            version: installed.map(|i| i.version),
            rating,
            title,
            comment,
            at: clock.now(),
        })
        .await?)
}

/// Visible reviews and the rating summary of a listed app.
pub async fn list(
    db: &dyn Database,
    app_id: &str,
    limit: i64,
    offset: i64,
) -> Result<(Vec<Review>, RatingSummary), StoreError> {
    db.find_store_app(app_id)
        .await?
        .filter(|app| app.published_at.is_some())
        .ok_or(StoreError::AppNotFound)?;
    let reviews = db.reviews(app_id, limit, offset).await?;
    let summary = db.rating_summary(app_id).await?;
    Ok((reviews, summary))
}

/// One helpful vote per user on someone else's visible review; returns the review and
/// whether this call counted.
pub async fn vote_helpful(
    db: &dyn Database,
    clock: &dyn Clock,
    caller: Caller,
    app_id: &str,
    review_id: Uuid,
) -> Result<(Review, bool), StoreError> {
    let review = db
        .find_review(review_id)
        .await?
        .filter(|r| r.app_id == app_id && r.status == "active")
        .ok_or(StoreError::ReviewNotFound)?;
    if review.user_id == caller.user {
        return Err(StoreError::InvalidRequest(
            "authors cannot vote for their own review".into(),
        ));
    }
    let counted = db.vote_helpful(review_id, caller.user, clock.now()).await?;
    let review = db
        .find_review(review_id)
        .await?
        .ok_or(StoreError::ReviewNotFound)?;
    Ok((review, counted))
}

/// An admin hides (`hidden`), removes (`removed`) or restores (`active`) a review.
pub async fn moderate(
    db: &dyn Database,
    clock: &dyn Clock,
    caller: Caller,
    review_id: Uuid,
    status: &str,
) -> Result<Review, StoreError> {
    require_admin(caller)?;
    if !matches!(status, "active" | "hidden" | "removed") {
        let mut errors = FieldErrors::new();
        errors.add("status", "must be active, hidden or removed");
        return Err(errors.into());
    }
    let review = db
        .find_review(review_id)
        .await?
        .ok_or(StoreError::ReviewNotFound)?;
    let entry = audit(
        clock,
        caller,
        Some(&review.app_id),
        "review_moderated",
        json!({ "review_id": review_id, "status": status }),
    );
    match db.set_review_status(review_id, status, entry).await {
        Ok(true) => {}
        Ok(false) => return Err(StoreError::ReviewNotFound),
        // Restoring a review whose author has written another active one.
        Err(tmcp_repository::RepoError::Conflict { .. }) => {
            return Err(StoreError::AlreadyExists(
                "an active review by this user".into(),
            ))
        }
        Err(e) => return Err(e.into()),
    }
    db.find_review(review_id)
        .await?
        .ok_or(StoreError::ReviewNotFound)
}
