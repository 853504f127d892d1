//! The store's apps as the registry, the review workflow, installs and reviews see them
//! (`apps`, `app_categories`, `app_installations`, `app_reviews`, `store_audit_log`). Search
//! and browse are in [`crate::store_search`], versions and packages in
//! [`crate::app_versions`].

use crate::{OAuthClient, RepoResult, WebhookEndpoint};
use async_trait::async_trait;
use time::OffsetDateTime;
use tmcp_domain::store::AppStatus;
use tmcp_domain::UserId;
use uuid::Uuid;

/// An app's listing as its developer describes it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AppListing {
    pub name: String,
    pub short_description: Option<String>,
    pub description: Option<String>,
    /// The primary category's `name` (`app_categories.name`).
    pub category: Option<String>,
    pub website: Option<String>,
    pub support_email: Option<String>,
    /// `{company_name, email, website}` as registered.
    pub developer: serde_json::Value,
    /// `{entry_url, redirect_uris, webhook_url, scopes_requested, client_type}`.
    pub technical: serde_json::Value,
    /// `{icon_url, primary_color}`.
    pub branding: serde_json::Value,
}

/// A whole app row.
#[derive(Debug, Clone, PartialEq)]
pub struct StoreApp {
    pub app_id: String,
    pub listing: AppListing,
    /// The published version (`0.0.0` until the first approval).
    pub version: String,
    pub classification: String,
    pub developer_id: UserId,
    pub developer_name: String,
    pub status: AppStatus,
    pub featured: bool,
    pub mandatory: bool,
    pub rejection_reason: Option<String>,
    pub submitted_at: Option<OffsetDateTime>,
    pub published_at: Option<OffsetDateTime>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

/// A row of `store_audit_log`.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEntry {
    pub id: Uuid,
    pub actor_id: Option<UserId>,
    pub app_id: Option<String>,
    pub action: String,
    pub detail: serde_json::Value,
    pub created_at: OffsetDateTime,
}

/// Everything a registration writes, in one transaction: the app, its OAuth clients, its
/// webhook endpoint, its name's search terms and the audit row.
#[derive(Debug, Clone)]
pub struct NewRegistration {
    pub app: StoreApp,
    pub clients: Vec<OAuthClient>,
    pub webhook: Option<WebhookEndpoint>,
    pub audit: AuditEntry,
}

/// A status change, applied only if the app is still in `from` (the SQL checks it).
#[derive(Debug, Clone)]
pub struct StatusChange {
    pub app_id: String,
    pub from: AppStatus,
    pub to: AppStatus,
    /// A new published version (approval).
    pub version: Option<String>,
    /// `Some(None)` clears the reason.
    pub rejection_reason: Option<Option<String>>,
    pub submitted_at: Option<OffsetDateTime>,
    /// Set on approval when the app was never published.
    pub published_at: Option<OffsetDateTime>,
    pub at: OffsetDateTime,
    pub audit: AuditEntry,
    /// A webhook for the app's backend (`app.approved`, `app.rejected`), written with the
    /// change.
    pub outbox: Option<crate::OutboxEvent>,
}

/// A category of the store (a tree through `parent_id`).
#[derive(Debug, Clone, PartialEq)]
pub struct Category {
    pub id: Uuid,
    pub name: String,
    pub display_name: String,
    pub description: Option<String>,
    pub icon_url: Option<String>,
    pub parent_id: Option<Uuid>,
    pub sort_order: i32,
    pub is_active: bool,
    pub created_at: OffsetDateTime,
}

/// A user's installation of an app.
#[derive(Debug, Clone, PartialEq)]
pub struct Installation {
    pub installation_id: Uuid,
    pub app_id: String,
    pub user_id: UserId,
    pub version: String,
    pub status: String,
    pub installed_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

/// What an install did.
#[derive(Debug, Clone, PartialEq)]
pub enum InstallOutcome {
    /// A new live installation.
    Installed(Installation),
    /// The user's earlier, uninstalled installation is live again.
    Reactivated(Installation),
    /// It was installed already; nothing changed.
    AlreadyInstalled(Installation),
}

/// A review as readers see it.
#[derive(Debug, Clone, PartialEq)]
pub struct Review {
    pub review_id: Uuid,
    pub app_id: String,
    pub user_id: UserId,
    pub username: String,
    pub version: Option<String>,
    pub rating: i32,
    pub title: Option<String>,
    pub comment: Option<String>,
    pub helpful_count: i32,
    pub verified: bool,
    pub status: String,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

/// A review to write (insert, or update the user's active one).
#[derive(Debug, Clone)]
pub struct ReviewWrite {
    pub app_id: String,
    pub user_id: UserId,
    pub version: Option<String>,
    pub rating: i32,
    pub title: Option<String>,
    pub comment: Option<String>,
    pub at: OffsetDateTime,
}

/// Active reviews of an app: how many per star (index 0 = one star) and their mean.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RatingSummary {
    pub count: i64,
    pub average: f64,
    pub histogram: [i64; 5],
}

/// A lifecycle event the store writes with the change it records.
#[derive(Debug, Clone, PartialEq)]
pub struct StoreEvent {
    pub event_id: Uuid,
    pub event_type: &'static str,
    pub data: serde_json::Value,
}

#[async_trait]
pub trait StoreRepository: Send + Sync {
    /// Writes the whole registration or nothing: `Conflict` when the app id or a client id
    /// is taken.
    async fn register_app(&self, registration: NewRegistration) -> RepoResult<()>;
    async fn find_store_app(&self, app_id: &str) -> RepoResult<Option<StoreApp>>;
    /// The developer's apps, newest first.
    async fn developer_apps(&self, developer: UserId) -> RepoResult<Vec<StoreApp>>;
    /// Replaces the listing (and the name's search terms); false when the app is gone.
    async fn update_listing(
        &self,
        app_id: &str,
        listing: &AppListing,
        at: OffsetDateTime,
        audit: AuditEntry,
    ) -> RepoResult<bool>;
    /// Applies `change` if the app is still in `change.from`; false otherwise.
    async fn change_status(&self, change: StatusChange) -> RepoResult<bool>;
    /// Sets `featured`, `mandatory` and/or `classification`; false when the app is gone.
    async fn set_flags(
        &self,
        app_id: &str,
        featured: Option<bool>,
        mandatory: Option<bool>,
        classification: Option<&str>,
        at: OffsetDateTime,
        audit: AuditEntry,
    ) -> RepoResult<bool>;
    /// Pending apps with a submission, oldest submission first.
    async fn review_queue(&self, limit: i64, offset: i64) -> RepoResult<Vec<StoreApp>>;
    async fn audit_log(&self, app_id: &str, limit: i64) -> RepoResult<Vec<AuditEntry>>;
    async fn append_audit(&self, entry: AuditEntry) -> RepoResult<()>;

    async fn categories(&self) -> RepoResult<Vec<Category>>;
    /// `Conflict` on a taken name, `Constraint` on an unknown parent.
    async fn create_category(&self, category: Category, audit: AuditEntry) -> RepoResult<()>;
    async fn update_category(&self, category: Category, audit: AuditEntry) -> RepoResult<bool>;
    /// Deletes a category without children; `Constraint` when it still has some.
    async fn delete_category(&self, id: Uuid, audit: AuditEntry) -> RepoResult<bool>;

    /// Installs `app_id` for `user` at `version` and records `event` (`installed`), in one
    /// transaction; reactivates an uninstalled installation.
    async fn install_app(
        &self,
        user: UserId,
        app_id: &str,
        version: &str,
        at: OffsetDateTime,
        event: StoreEvent,
    ) -> RepoResult<InstallOutcome>;
    /// Marks the live installation uninstalled and records `event`; false when there was
    /// none. The caller wipes storage and withdraws the grant.
    async fn uninstall_app(
        &self,
        user: UserId,
        app_id: &str,
        at: OffsetDateTime,
        event: StoreEvent,
    ) -> RepoResult<bool>;
    async fn installation(&self, user: UserId, app_id: &str) -> RepoResult<Option<Installation>>;
    /// The user's live installations, newest first.
    async fn installed_apps(&self, user: UserId) -> RepoResult<Vec<Installation>>;

    /// Inserts the user's review or updates their active one; `verified` is computed from
    /// their installations in the same statement.
    async fn write_review(&self, review: ReviewWrite) -> RepoResult<Review>;
    /// Visible (active) reviews, most helpful then newest first.
    async fn reviews(&self, app_id: &str, limit: i64, offset: i64) -> RepoResult<Vec<Review>>;
    async fn find_review(&self, review_id: Uuid) -> RepoResult<Option<Review>>;
    /// One vote per (review, user): false when the user voted already.
    async fn vote_helpful(
        &self,
        review_id: Uuid,
        user: UserId,
        at: OffsetDateTime,
    ) -> RepoResult<bool>;
    /// Sets a review's status (`active`, `hidden`, `removed`); false when it is gone.
    async fn set_review_status(
        &self,
        review_id: Uuid,
        status: &str,
        audit: AuditEntry,
    ) -> RepoResult<bool>;
    async fn rating_summary(&self, app_id: &str) -> RepoResult<RatingSummary>;
}

/// A [`RatingSummary`] from `(rating, count)` rows; ratings outside 1–5 are ignored.
pub fn summarize_ratings(rows: &[(i32, i64)]) -> RatingSummary {
    let mut summary = RatingSummary::default();
    let mut sum = 0i64;
    for &(rating, count) in rows {
        if let Ok(index @ 0..=4) = usize::try_from(rating - 1) {
            summary.histogram[index] += count;
            summary.count += count;
            sum += i64::from(rating) * count;
        }
    }
    if summary.count > 0 {
        summary.average = sum as f64 / summary.count as f64;
    }
    summary
}
