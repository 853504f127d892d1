//! Versions of an app and their packages (`app_versions`). The package bytes live in object
//! storage under `object_key`; the row keeps their size and SHA-256.

use crate::RepoResult;
use async_trait::async_trait;
use time::OffsetDateTime;
use tmcp_domain::store::{AppStatus, VersionStatus};
use tmcp_domain::UserId;
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq)]
pub struct StoredVersion {
    pub id: Uuid,
    pub app_id: String,
    pub version: String,
    pub release_notes: Option<String>,
    pub download_url: Option<String>,
    pub package_size: Option<i64>,
    /// Lower-case hex SHA-256 of the package.
    pub checksum: Option<String>,
    pub object_key: Option<String>,
    pub min_os_version: Option<String>,
    pub status: VersionStatus,
    pub submitted_at: Option<OffsetDateTime>,
    pub created_at: OffsetDateTime,
}

/// An app as update checks and downloads see it: its status, its developer, its published version and that version's
/// row (none when the published version has no package, e.g. `0.0.0`).
#[derive(Debug, Clone, PartialEq)]
pub struct PublishedPackage {
    pub app_id: String,
    pub status: AppStatus,
    pub developer_id: UserId,
    /// `apps.version`.
    pub version: String,
    pub package: Option<StoredVersion>,
}

#[async_trait]
pub trait AppVersionRepository: Send + Sync {
    /// Inserts `version`, or replaces a `pending` version of the same number that was never
    /// submitted; `Conflict` when that number exists otherwise. Returns the previous
    /// object key when one was replaced (the caller deletes that object).
    async fn put_version(&self, version: StoredVersion) -> RepoResult<Option<String>>;
    async fn find_version(&self, app_id: &str, version: &str) -> RepoResult<Option<StoredVersion>>;
    /// Every version of the app, newest first.
    async fn versions(&self, app_id: &str) -> RepoResult<Vec<StoredVersion>>;
    /// Marks a pending, unsubmitted version submitted; false otherwise.
    async fn submit_version(
        &self,
        app_id: &str,
        version: &str,
        at: OffsetDateTime,
    ) -> RepoResult<bool>;
    /// Moves a version from `from` to `to`; false when it is not in `from`.
    async fn set_version_status(
        &self,
        app_id: &str,
        version: &str,
        from: VersionStatus,
        to: VersionStatus,
    ) -> RepoResult<bool>;
    /// The newest submitted, pending version of the app (what a reviewer decides on).
    async fn submitted_version(&self, app_id: &str) -> RepoResult<Option<StoredVersion>>;
    /// For update checks: each of `app_ids` that exists, with its published version's row, in
    /// one read. Unknown ids are left out.
    async fn published_packages(&self, app_ids: &[String]) -> RepoResult<Vec<PublishedPackage>>;
}
