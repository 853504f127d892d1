//! The review workflow: a developer submits a version; an admin approves it (the app goes
//! `active` and publishes that version), rejects it with a reason the developer sees,
//! deprecates, removes or features the app. Each decision is checked against
//! [`AppStatus::apply`], applied only if the app is still where the decision found it, and
//! written with its audit row (and the app's webhook) in one transaction.

use super::apps::{audit, owned_app, require_admin, require_developer};
use super::{Caller, StoreError};
use serde_json::json;
use tmcp_domain::ids::uuid_v7_at;
use tmcp_domain::store::{AppAction, AppStatus, VersionStatus};
use tmcp_domain::Clock;
use tmcp_repository::{AppVersionRepository, OutboxEvent, StatusChange, StoreApp, StoreRepository};

/// The store's two repositories, as the workflow needs them.
pub trait ReviewPorts: StoreRepository + AppVersionRepository {}
impl<T: StoreRepository + AppVersionRepository + ?Sized> ReviewPorts for T {}

async fn app_for_admin<D: ReviewPorts + ?Sized>(
    db: &D,
    caller: Caller,
    app_id: &str,
) -> Result<StoreApp, StoreError> {
    require_admin(caller)?;
    owned_app(db, caller, app_id).await
}

/// Submits an uploaded version for review. A rejected app becomes pending again; an active
/// one stays listed with its current version until the new one is approved.
pub async fn submit<D: ReviewPorts + ?Sized>(
    db: &D,
    clock: &dyn Clock,
    caller: Caller,
    app_id: &str,
    version: &str,
) -> Result<StoreApp, StoreError> {
    require_developer(caller)?;
    let app = owned_app(db, caller, app_id).await?;
    let stored = db
        .find_version(app_id, version)
        .await?
        .ok_or(StoreError::VersionNotFound)?;
    if stored.submitted_at.is_some() || stored.status != VersionStatus::Pending {
        return Err(StoreError::VersionImmutable(stored.version));
    }
    if stored.object_key.is_none() {
        return Err(StoreError::NothingToReview("the version has no package"));
    }
    let next = app.status.apply(AppAction::Submit)?;
    let now = clock.now();
    // The app first: if the version's mark fails after it, submitting again finds the app
    // pending (allowed) and the version still unsubmitted, so a retry completes the work.
    let changed = db
        .change_status(StatusChange {
            app_id: app_id.to_owned(),
            from: app.status,
            to: next,
            version: None,
            rejection_reason: (next != app.status).then_some(None),
            submitted_at: Some(now),
            published_at: None,
            at: now,
            audit: audit(
                clock,
                caller,
                Some(app_id),
                "submitted",
                json!({ "version": version }),
            ),
            outbox: None,
        })
        .await?;
    if !changed {
        return Err(StoreError::InvalidTransition(
            tmcp_domain::store::InvalidTransition {
                from: app.status,
                action: AppAction::Submit,
            },
        ));
    }
    if !db.submit_version(app_id, version, now).await? {
        return Err(StoreError::VersionImmutable(version.to_owned()));
    }
    owned_app(db, caller, app_id).await
}

/// Pending apps with a submission, oldest first.
pub async fn queue<D: ReviewPorts + ?Sized>(
    db: &D,
    caller: Caller,
    limit: i64,
    offset: i64,
) -> Result<Vec<StoreApp>, StoreError> {
    require_admin(caller)?;
    Ok(db.review_queue(limit, offset).await?)
}

fn webhook(
    app_id: &str,
    event: &str,
    now: time::OffsetDateTime,
    data: serde_json::Value,
) -> OutboxEvent {
    OutboxEvent {
        id: uuid_v7_at(now),
        app_id: app_id.to_owned(),
        event: event.to_owned(),
        payload: data,
        created_at: now,
    }
}

/// Approves the submitted version (publishing it), or reinstates a deprecated app.
pub async fn approve<D: ReviewPorts + ?Sized>(
    db: &D,
    clock: &dyn Clock,
    caller: Caller,
    app_id: &str,
) -> Result<StoreApp, StoreError> {
    let app = app_for_admin(db, caller, app_id).await?;
    let next = app.status.apply(AppAction::Approve)?;
    let submitted = db.submitted_version(app_id).await?;
    if submitted.is_none() && app.status != AppStatus::Deprecated {
        return Err(StoreError::NothingToReview(
            "no submitted version to approve",
        ));
    }
    let now = clock.now();
    if let Some(version) = &submitted {
        if !db
            .set_version_status(
                app_id,
                &version.version,
                VersionStatus::Pending,
                VersionStatus::Active,
            )
            .await?
        {
            return Err(StoreError::NothingToReview(
                "the submitted version changed; reload",
            ));
        }
    }
    let version = submitted.map(|v| v.version);
    let published = version.clone().unwrap_or_else(|| app.version.clone());
    let changed = db
        .change_status(StatusChange {
            app_id: app_id.to_owned(),
            from: app.status,
            to: next,
            version: version.clone(),
            rejection_reason: Some(None),
            submitted_at: None,
            published_at: Some(now),
            at: now,
            audit: audit(
                clock,
                caller,
                Some(app_id),
                "approved",
                json!({ "version": version }),
            ),
            outbox: Some(webhook(
                app_id,
                "app.approved",
                now,
                json!({ "miniapp_id": app_id, "version": published, "status": next.as_wire() }),
            )),
        })
        .await?;
    if !changed {
        return Err(StoreError::NothingToReview(
            "the app changed meanwhile; reload",
        ));
    }
    owned_app(db, caller, app_id).await
}

/// Rejects the submitted version with a reason the developer sees.
pub async fn reject<D: ReviewPorts + ?Sized>(
    db: &D,
    clock: &dyn Clock,
    caller: Caller,
    app_id: &str,
    reason: &str,
) -> Result<StoreApp, StoreError> {
    let app = app_for_admin(db, caller, app_id).await?;
    let reason = reason.trim();
    if reason.is_empty() || reason.chars().count() > 1000 || reason.chars().any(char::is_control) {
        let mut errors = crate::fields::FieldErrors::new();
        errors.add("reason", "1 to 1000 characters without control characters");
        return Err(errors.into());
    }
    let next = app.status.apply(AppAction::Reject)?;
    let now = clock.now();
    if let Some(version) = db.submitted_version(app_id).await? {
        db.set_version_status(
            app_id,
            &version.version,
            VersionStatus::Pending,
            VersionStatus::Removed,
        )
        .await?;
    }
    let changed = db
        .change_status(StatusChange {
            app_id: app_id.to_owned(),
            from: app.status,
            to: next,
            version: None,
            rejection_reason: Some(Some(reason.to_owned())),
            submitted_at: None,
            published_at: None,
            at: now,
            audit: audit(
                clock,
                caller,
                Some(app_id),
                "rejected",
                json!({ "reason": reason }),
            ),
            outbox: Some(webhook(
                app_id,
                "app.rejected",
                now,
                json!({ "miniapp_id": app_id, "reason": reason }),
            )),
        })
        .await?;
    if !changed {
        return Err(StoreError::NothingToReview(
            "the app changed meanwhile; reload",
        ));
    }
    owned_app(db, caller, app_id).await
}

/// Deprecates (hidden from the store, still usable) or removes (gone) the app.
pub async fn retire<D: ReviewPorts + ?Sized>(
    db: &D,
    clock: &dyn Clock,
    caller: Caller,
    app_id: &str,
    action: AppAction,
) -> Result<StoreApp, StoreError> {
    let app = app_for_admin(db, caller, app_id).await?;
    let next = app.status.apply(action)?;
    let now = clock.now();
    let changed = db
        .change_status(StatusChange {
            app_id: app_id.to_owned(),
            from: app.status,
            to: next,
            version: None,
            rejection_reason: None,
            submitted_at: None,
            published_at: None,
            at: now,
            audit: audit(clock, caller, Some(app_id), action.as_str(), json!({})),
            outbox: None,
        })
        .await?;
    if !changed {
        return Err(StoreError::NothingToReview(
            "the app changed meanwhile; reload",
        ));
    }
    owned_app(db, caller, app_id).await
}

/// What an admin may set on an app besides its status.
#[derive(Debug, Clone, Default)]
pub struct Flags {
    pub featured: Option<bool>,
    /// Only official apps may be mandatory.
    pub mandatory: Option<bool>,
    /// `official`, `verified`, `community` or `beta`.
    pub classification: Option<String>,
}

/// Sets `featured`, `mandatory` and/or `classification`.
pub async fn set_flags<D: ReviewPorts + ?Sized>(
    db: &D,
    clock: &dyn Clock,
    caller: Caller,
    app_id: &str,
    flags: Flags,
) -> Result<StoreApp, StoreError> {
    let app = app_for_admin(db, caller, app_id).await?;
    let mut errors = crate::fields::FieldErrors::new();
    if let Some(c) = flags.classification.as_deref() {
        if !tmcp_domain::store::CLASSIFICATIONS.contains(&c) {
            errors.add(
                "classification",
                "must be official, verified, community or beta",
            );
        }
    }
    let classification = flags
        .classification
        .as_deref()
        .unwrap_or(&app.classification);
    let mandatory = flags.mandatory.unwrap_or(app.mandatory);
    if mandatory && classification != "official" {
        errors.add("mandatory", "only official apps can be mandatory");
    }
    errors.into_result()?;
    let (featured, mandatory_flag) = (flags.featured, flags.mandatory);
    if featured.is_none() && mandatory_flag.is_none() && flags.classification.is_none() {
        return Err(StoreError::InvalidRequest(
            "give featured, mandatory and/or classification".into(),
        ));
    }
    let entry = audit(
        clock,
        caller,
        Some(app_id),
        "flags_changed",
        json!({ "featured": featured, "mandatory": mandatory_flag, "classification": flags.classification }),
    );
    if !db
        .set_flags(
            app_id,
            featured,
            mandatory_flag,
            flags.classification.as_deref(),
            clock.now(),
            entry,
        )
        .await?
    {
        return Err(StoreError::AppNotFound);
    }
    owned_app(db, caller, app_id).await
}
