use crate::RepoResult;
use async_trait::async_trait;
use time::OffsetDateTime;
use tmcp_domain::{AppId, UserId};

#[derive(Debug, Clone)]
pub struct NewApp {
    pub app_id: AppId,
    pub name: String,
    pub version: String,
    pub classification: String,
    pub developer_id: UserId,
    pub developer_name: String,
    pub status: String,
    pub created_at: OffsetDateTime,
}

/// A row of the `app_summary` view.
#[derive(Debug, Clone, PartialEq)]
pub struct AppSummary {
    pub app_id: String,
    pub name: String,
    pub install_count: i64,
    pub review_count: i64,
    pub average_rating: f64,
    pub purchase_count: i64,
    pub total_revenue: i64,
}

#[async_trait]
pub trait AppRepository: Send + Sync {
    async fn create_app(&self, app: NewApp) -> RepoResult<()>;
    /// Records a live installation; a second live one for the same (user, app) is a `Conflict`.
    async fn record_installation(
        &self,
        user: UserId,
        app: &AppId,
        version: &str,
        at: OffsetDateTime,
    ) -> RepoResult<uuid::Uuid>;
    /// One active review per (user, app): a second call replaces the rating.
    async fn upsert_review(
        &self,
        user: UserId,
        app: &AppId,
        rating: i32,
        at: OffsetDateTime,
    ) -> RepoResult<uuid::Uuid>;
    async fn app_summary(&self, app: &AppId) -> RepoResult<Option<AppSummary>>;
    /// The mini-app's display name: one primary-key read, for request paths (the summary
    /// view aggregates installs, reviews and payments).
    async fn app_name(&self, app: &AppId) -> RepoResult<Option<String>>;
}
