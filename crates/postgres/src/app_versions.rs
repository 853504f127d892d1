//! Versions of an app and their package rows (`app_versions`). No row-level security on this
//! table: the use cases decide who may see or change a version.

use crate::tx::PgTx;
use crate::{map_sqlx_error, PgDatabase};
use async_trait::async_trait;
use sqlx::postgres::PgRow;
use sqlx::Row;
use time::OffsetDateTime;
use tmcp_domain::store::{AppStatus, VersionStatus};
use tmcp_domain::UserId;
use tmcp_repository::{
    AppVersionRepository, PublishedPackage, RepoError, RepoResult, StoredVersion,
};

const COLUMNS: &str = "v.id, v.app_id, v.version, v.changelog, v.download_url, v.package_size, \
     v.checksum, v.object_key, v.min_os_version, v.status, v.submitted_at, v.created_at";

/// The unique index a second row of one (app, version) breaks.
const UNIQUE: &str = "idx_app_versions_unique";

fn version_from_row(row: &PgRow) -> RepoResult<StoredVersion> {
    let status: String = row.try_get("status").map_err(map_sqlx_error)?;
    Ok(StoredVersion {
        id: row.try_get("id").map_err(map_sqlx_error)?,
        app_id: row.try_get("app_id").map_err(map_sqlx_error)?,
        version: row.try_get("version").map_err(map_sqlx_error)?,
        release_notes: row.try_get("changelog").map_err(map_sqlx_error)?,
        download_url: row.try_get("download_url").map_err(map_sqlx_error)?,
        package_size: row.try_get("package_size").map_err(map_sqlx_error)?,
        checksum: row.try_get("checksum").map_err(map_sqlx_error)?,
        object_key: row.try_get("object_key").map_err(map_sqlx_error)?,
        min_os_version: row.try_get("min_os_version").map_err(map_sqlx_error)?,
        status: VersionStatus::from_db(&status)
            .ok_or_else(|| RepoError::Internal(format!("unknown version status {status:?}")))?,
        submitted_at: row.try_get("submitted_at").map_err(map_sqlx_error)?,
        created_at: row.try_get("created_at").map_err(map_sqlx_error)?,
    })
}

async fn finish<T>(tx: PgTx, value: T) -> RepoResult<T> {
    tx.commit().await.map_err(map_sqlx_error)?;
    Ok(value)
}

#[async_trait]
impl AppVersionRepository for PgDatabase {
    async fn put_version(&self, version: StoredVersion) -> RepoResult<Option<String>> {
        let mut tx = PgTx::begin(self.app(), None)
            .await
            .map_err(map_sqlx_error)?;
        let existing: Option<(String, bool, Option<String>)> = sqlx::query_as(
            "SELECT status, submitted_at IS NOT NULL, object_key FROM app_versions \
             WHERE app_id = $1 AND version = $2 FOR UPDATE",
        )
        .bind(&version.app_id)
        .bind(&version.version)
        .fetch_optional(&mut *tx)
        .await
        .map_err(map_sqlx_error)?;
        let replaced = match existing {
            None => {
                sqlx::query(
                    "INSERT INTO app_versions (id, app_id, version, changelog, download_url, \
                     package_size, checksum, object_key, min_os_version, status, submitted_at, \
                     created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
                )
                .bind(version.id)
                .bind(&version.app_id)
                .bind(&version.version)
                .bind(&version.release_notes)
                .bind(&version.download_url)
                .bind(version.package_size)
                .bind(&version.checksum)
                .bind(&version.object_key)
                .bind(&version.min_os_version)
                .bind(version.status.as_db())
                .bind(version.submitted_at)
                .bind(version.created_at)
                .execute(&mut *tx)
                .await
                .map_err(map_sqlx_error)?;
                None
            }
            Some((status, false, old_key)) if status == VersionStatus::Pending.as_db() => {
                sqlx::query(
                    "UPDATE app_versions SET id = $3, changelog = $4, download_url = $5, \
                     package_size = $6, checksum = $7, object_key = $8, min_os_version = $9, \
                     status = $10, submitted_at = $11, created_at = $12 \
                     WHERE app_id = $1 AND version = $2",
                )
                .bind(&version.app_id)
                .bind(&version.version)
                .bind(version.id)
                .bind(&version.release_notes)
                .bind(&version.download_url)
                .bind(version.package_size)
                .bind(&version.checksum)
                .bind(&version.object_key)
                .bind(&version.min_os_version)
                .bind(version.status.as_db())
                .bind(version.submitted_at)
                .bind(version.created_at)
                .execute(&mut *tx)
                .await
                .map_err(map_sqlx_error)?;
                old_key
            }
            Some(_) => {
                return Err(RepoError::Conflict {
                    constraint: UNIQUE.to_owned(),
                })
            }
        };
        finish(tx, replaced).await
    }

    async fn find_version(&self, app_id: &str, version: &str) -> RepoResult<Option<StoredVersion>> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM app_versions v WHERE v.app_id = $1 AND v.version = $2"
        ))
        .bind(app_id)
        .bind(version)
        .fetch_optional(self.app())
        .await
        .map_err(map_sqlx_error)?;
        row.as_ref().map(version_from_row).transpose()
    }

    async fn versions(&self, app_id: &str) -> RepoResult<Vec<StoredVersion>> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM app_versions v WHERE v.app_id = $1 \
             ORDER BY v.created_at DESC, v.id DESC"
        ))
        .bind(app_id)
        .fetch_all(self.app())
        .await
        .map_err(map_sqlx_error)?;
        rows.iter().map(version_from_row).collect()
    }

    async fn submit_version(
        &self,
        app_id: &str,
        version: &str,
        at: OffsetDateTime,
    ) -> RepoResult<bool> {
        let done = sqlx::query(
            "UPDATE app_versions SET submitted_at = $3 WHERE app_id = $1 AND version = $2 \
             AND status = 'pending' AND submitted_at IS NULL",
        )
        .bind(app_id)
        .bind(version)
        .bind(at)
        .execute(self.app())
        .await
        .map_err(map_sqlx_error)?;
        Ok(done.rows_affected() == 1)
    }

    async fn set_version_status(
        &self,
        app_id: &str,
        version: &str,
        from: VersionStatus,
        to: VersionStatus,
    ) -> RepoResult<bool> {
        let done = sqlx::query(
            "UPDATE app_versions SET status = $4 WHERE app_id = $1 AND version = $2 \
             AND status = $3",
        )
        .bind(app_id)
        .bind(version)
        .bind(from.as_db())
        .bind(to.as_db())
        .execute(self.app())
        .await
        .map_err(map_sqlx_error)?;
        Ok(done.rows_affected() == 1)
    }

    async fn submitted_version(&self, app_id: &str) -> RepoResult<Option<StoredVersion>> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM app_versions v WHERE v.app_id = $1 \
             AND v.status = 'pending' AND v.submitted_at IS NOT NULL \
             ORDER BY v.submitted_at DESC, v.id DESC LIMIT 1"
        ))
        .bind(app_id)
        .fetch_optional(self.app())
        .await
        .map_err(map_sqlx_error)?;
        row.as_ref().map(version_from_row).transpose()
    }

    async fn published_packages(&self, app_ids: &[String]) -> RepoResult<Vec<PublishedPackage>> {
        if app_ids.is_empty() {
            return Ok(Vec::new());
        }
        let rows = sqlx::query(&format!(
            "SELECT a.app_id AS listed_app, a.status AS app_status, a.version AS published, a.developer_id AS developer, \
             v.id IS NOT NULL AS has_package, {COLUMNS} \
             FROM apps a LEFT JOIN app_versions v ON v.app_id = a.app_id AND v.version = a.version \
             WHERE a.app_id = ANY($1) ORDER BY a.app_id"
        ))
        .bind(app_ids)
        .fetch_all(self.app())
        .await
        .map_err(map_sqlx_error)?;
        rows.iter()
            .map(|row| {
                let status: String = row.try_get("app_status").map_err(map_sqlx_error)?;
                let has_package: bool = row.try_get("has_package").map_err(map_sqlx_error)?;
                Ok(PublishedPackage {
                    app_id: row.try_get("listed_app").map_err(map_sqlx_error)?,
                    status: AppStatus::from_db(&status).ok_or_else(|| {
                        RepoError::Internal(format!("unknown app status {status:?}"))
                    })?,
                    developer_id: UserId(row.try_get("developer").map_err(map_sqlx_error)?),
                    version: row.try_get("published").map_err(map_sqlx_error)?,
                    package: if has_package {
                        Some(version_from_row(row)?)
                    } else {
                        None
                    },
                })
            })
            .collect()
    }
}
