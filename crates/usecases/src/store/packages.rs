//! Versions and their packages (docs/store_packages.md): a developer uploads a package for a
//! version number, the store keeps the bytes in object storage and their size and SHA-256
//! in `app_versions`; clients download verified bytes and ask which of their apps have a
//! newer published version.
//!
//! An upload streams: every chunk is hashed, counted and handed to a multipart upload, and
//! the upload is aborted as soon as the count passes the limit, so an oversized package
//! never fills the disk or memory. Only a finished object gets a row; a row that cannot be
//! written takes its object with it.

use super::{Caller, StoreError, StoreSettings};
use crate::fields::FieldErrors;
use bytes::Bytes;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, WriteMultipart};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use tmcp_domain::ids::uuid_v7_at;
use tmcp_domain::store::version::{is_newer, AppVersion};
use tmcp_domain::store::{AppStatus, VersionStatus};
use tmcp_domain::Clock;
use tmcp_repository::{Database, PublishedPackage, RepoError, StoredVersion};
use uuid::Uuid;

/// Longest release notes, in characters.
pub const MAX_RELEASE_NOTES: usize = 5000;
/// Longest `min_os_version`, in characters (the column's width).
pub const MAX_MIN_OS_VERSION: usize = 50;
/// Most apps one update check may list.
pub const MAX_UPDATE_CHECK_APPS: usize = 100;
/// Upload parts in flight at once per upload (back pressure on the request body).
const PARTS_IN_FLIGHT: usize = 2;

/// What the package use cases need.
#[derive(Clone, Copy)]
pub struct PackagePorts<'a> {
    pub db: &'a dyn Database,
    pub clock: &'a dyn Clock,
    pub objects: &'a dyn ObjectStore,
    pub settings: &'a StoreSettings,
}

/// The path a version's package is served at (the row's `download_url`), relative to the
/// API's base URL.
pub fn download_path(app_id: &str, version: &str) -> String {
    format!("/api/v1/store/apps/{app_id}/versions/{version}/package")
}

/// `sha256:<hex>`, as the API spells a checksum.
pub fn checksum_label(hex: &str) -> String {
    format!("sha256:{hex}")
}

fn object_error(error: object_store::Error) -> StoreError {
    StoreError::ObjectStore(error.to_string())
}

/// The app's id, when the caller may manage it: a developer or admin role first (403), then
/// the app's developer or an admin (404 for anyone else, as for an unknown app).
async fn managed_app(
    db: &dyn Database,
    caller: Caller,
    app_id: &str,
) -> Result<String, StoreError> {
    super::apps::require_developer(caller)?;
    Ok(super::apps::owned_app(db, caller, app_id).await?.app_id)
}

async fn app_facts(
    db: &dyn Database,
    app_id: &str,
) -> Result<Option<PublishedPackage>, StoreError> {
    Ok(db
        .published_packages(&[app_id.to_owned()])
        .await?
        .into_iter()
        .next())
}

/// A package being written to object storage.
pub struct PackageUpload {
    app_id: String,
    id: Uuid,
    created_at: OffsetDateTime,
    key: ObjectPath,
    pending: Unfinished,
    hasher: Sha256,
    size: u64,
    limit: u64,
}

/// The multipart upload of a [`PackageUpload`] until it is finished or aborted. A request
/// that is dropped (client gone, timeout) never reaches `abort`, and S3 keeps the parts of
/// an unfinished multipart upload (billed, invisible) until it is aborted, so dropping one
/// aborts it in the background.
struct Unfinished {
    writer: Option<WriteMultipart>,
    key: ObjectPath,
}

impl Drop for Unfinished {
    fn drop(&mut self) {
        let Some(writer) = self.writer.take() else {
            return;
        };
        let key = self.key.clone();
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(async move {
                    if let Err(error) = writer.abort().await {
                        tracing::warn!(key = %key, error = %error, "aborting a dropped package upload failed");
                    }
                });
            }
            Err(_) => {
                tracing::warn!(key = %key, "a package upload was dropped outside the runtime and not aborted");
            }
        }
    }
}

/// A package written in full.
#[derive(Debug, Clone)]
pub struct WrittenPackage {
    app_id: String,
    id: Uuid,
    created_at: OffsetDateTime,
    key: ObjectPath,
    pub size: u64,
    /// Lower-case hex SHA-256.
    pub sha256: String,
}

/// Starts an upload for `app_id` after checking the caller may manage it.
pub async fn begin_upload(
    ports: PackagePorts<'_>,
    caller: Caller,
    app_id: &str,
) -> Result<PackageUpload, StoreError> {
    let app_id = managed_app(ports.db, caller, app_id).await?;
    let created_at = ports.clock.now();
    let id = uuid_v7_at(created_at);
    let key = ObjectPath::from(format!("apps/{app_id}/{}.pkg", id.hyphenated()));
    let upload = ports
        .objects
        .put_multipart(&key)
        .await
        .map_err(object_error)?;
    Ok(PackageUpload {
        app_id,
        id,
        created_at,
        pending: Unfinished {
            writer: Some(WriteMultipart::new(upload)),
            key: key.clone(),
        },
        key,
        hasher: Sha256::new(),
        size: 0,
        limit: ports.settings.max_package_bytes,
    })
}

impl PackageUpload {
    /// Adds a chunk. Past the limit the upload is aborted (nothing stays in storage) and
    /// the answer is `PackageTooLarge`; later calls fail the same way.
    pub async fn write(&mut self, chunk: Bytes) -> Result<(), StoreError> {
        let size = self.size.saturating_add(chunk.len() as u64);
        if size > self.limit {
            self.abort().await;
            return Err(StoreError::PackageTooLarge { limit: self.limit });
        }
        let Some(writer) = self.pending.writer.as_mut() else {
            return Err(StoreError::Internal("write after the upload ended".into()));
        };
        if let Err(error) = writer.wait_for_capacity(PARTS_IN_FLIGHT).await {
            self.abort().await;
            return Err(object_error(error));
        }
        self.size = size;
        self.hasher.update(&chunk);
        if let Some(writer) = self.pending.writer.as_mut() {
            writer.put(chunk);
        }
        Ok(())
    }

    /// Gives up: aborts the multipart upload, whose parts are then removed. Failures are
    /// logged; an upload dropped without this is aborted in the background (`Unfinished`).
    pub async fn abort(&mut self) {
        if let Some(writer) = self.pending.writer.take() {
            if let Err(error) = writer.abort().await {
                tracing::warn!(key = %self.key, error = %error, "aborting a package upload failed");
            }
        }
    }

    /// Completes the object. An empty package is refused (and nothing kept).
    pub async fn finish(mut self) -> Result<WrittenPackage, StoreError> {
        if self.size == 0 {
            self.abort().await;
            let mut errors = FieldErrors::new();
            errors.add("package", "must not be empty");
            return Err(errors.into());
        }
        let writer = self
            .pending
            .writer
            .take()
            .ok_or_else(|| StoreError::Internal("finish after the upload ended".into()))?;
        writer.finish().await.map_err(object_error)?;
        Ok(WrittenPackage {
            app_id: self.app_id,
            id: self.id,
            created_at: self.created_at,
            key: self.key,
            size: self.size,
            sha256: hex::encode(self.hasher.finalize()),
        })
    }
}

/// The text fields of an upload, as sent.
#[derive(Debug, Clone, Default)]
pub struct UploadFields {
    pub version: Option<String>,
    pub release_notes: Option<String>,
    pub min_os_version: Option<String>,
}

/// The text fields of an upload once they passed the rules.
#[derive(Debug, Clone)]
pub struct CheckedFields {
    /// The canonical form of a semantic version without build metadata.
    pub version: String,
    pub release_notes: Option<String>,
    pub min_os_version: Option<String>,
}

/// Checks an upload's text fields (public for the multipart fuzz target).
pub fn check_fields(fields: UploadFields) -> Result<CheckedFields, FieldErrors> {
    let mut errors = FieldErrors::new();
    let version = match fields.version.as_deref().map(str::trim) {
        None | Some("") => {
            errors.add("version", "is required");
            None
        }
        Some(text) => match AppVersion::parse(text) {
            Ok(parsed) => Some(parsed.as_string()),
            Err(message) => {
                errors.add("version", message);
                None
            }
        },
    };
    let release_notes = fields
        .release_notes
        .filter(|notes| !notes.trim().is_empty());
    if let Some(notes) = &release_notes {
        if notes.chars().count() > MAX_RELEASE_NOTES {
            errors.add(
                "release_notes",
                format!("must be at most {MAX_RELEASE_NOTES} characters"),
            );
        } else if notes.contains('\0') {
            errors.add("release_notes", "must not contain NUL characters");
        }
    }
    let min_os_version = fields
        .min_os_version
        .map(|text| text.trim().to_owned())
        .filter(|text| !text.is_empty());
    if let Some(text) = &min_os_version {
        if text.chars().count() > MAX_MIN_OS_VERSION || text.chars().any(char::is_control) {
            errors.add(
                "min_os_version",
                format!("must be at most {MAX_MIN_OS_VERSION} printable characters"),
            );
        }
    }
    errors.into_result()?;
    Ok(CheckedFields {
        version: version.unwrap_or_default(),
        release_notes,
        min_os_version,
    })
}

/// Records a written package as a pending version (or the new package of a pending,
/// never-submitted one). Whatever goes wrong, the new object is deleted; a replaced
/// version's old object is deleted once the row names the new one.
pub async fn record_upload(
    ports: PackagePorts<'_>,
    package: WrittenPackage,
    fields: UploadFields,
) -> Result<StoredVersion, StoreError> {
    let outcome = record(ports, &package, fields).await;
    if outcome.is_err() {
        delete_object(ports.objects, &package.key).await;
    }
    let (version, replaced) = outcome?;
    if let Some(old) = replaced {
        delete_object(ports.objects, &ObjectPath::from(old)).await;
    }
    Ok(version)
}

async fn record(
    ports: PackagePorts<'_>,
    package: &WrittenPackage,
    fields: UploadFields,
) -> Result<(StoredVersion, Option<String>), StoreError> {
    let fields = check_fields(fields)?;
    let size = i64::try_from(package.size).map_err(|_| StoreError::PackageTooLarge {
        limit: ports.settings.max_package_bytes,
    })?;
    let version = StoredVersion {
        id: package.id,
        app_id: package.app_id.clone(),
        download_url: Some(download_path(&package.app_id, &fields.version)),
        version: fields.version,
        release_notes: fields.release_notes,
        package_size: Some(size),
        checksum: Some(package.sha256.clone()),
        object_key: Some(package.key.to_string()),
        min_os_version: fields.min_os_version,
        status: VersionStatus::Pending,
        submitted_at: None,
        created_at: package.created_at,
    };
    match ports.db.put_version(version.clone()).await {
        Ok(replaced) => Ok((version, replaced)),
        Err(RepoError::Conflict { .. }) => Err(StoreError::VersionImmutable(version.version)),
        Err(RepoError::Constraint { .. }) => Err(StoreError::AppNotFound),
        Err(other) => Err(other.into()),
    }
}

async fn delete_object(objects: &dyn ObjectStore, key: &ObjectPath) {
    match objects.delete(key).await {
        Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
        Err(error) => tracing::warn!(key = %key, error = %error, "deleting a package failed"),
    }
}

/// The versions of an app its developer (or an admin) manages, newest first.
pub async fn list_versions(
    ports: PackagePorts<'_>,
    caller: Caller,
    app_id: &str,
) -> Result<Vec<StoredVersion>, StoreError> {
    let app_id = managed_app(ports.db, caller, app_id).await?;
    Ok(ports.db.versions(&app_id).await?)
}

/// The version row a caller may download. `reviewer` is the session's caller, `None` for a
/// TEP: everyone may fetch an `active` version of an `active` or `deprecated` app; the
/// app's developer and admins may fetch any version (to review it). Anything else is not
/// found.
pub async fn downloadable(
    db: &dyn Database,
    reviewer: Option<Caller>,
    app_id: &str,
    version: &str,
) -> Result<StoredVersion, StoreError> {
    let app = app_facts(db, app_id)
        .await?
        .ok_or(StoreError::AppNotFound)?;
    let privileged =
        reviewer.is_some_and(|caller| caller.is_admin() || caller.user == app.developer_id);
    let listed = matches!(app.status, AppStatus::Active | AppStatus::Deprecated);
    if !privileged && !listed {
        return Err(StoreError::AppNotFound);
    }
    let row = db
        .find_version(app_id, version)
        .await?
        .filter(|row| privileged || row.status == VersionStatus::Active)
        .ok_or(StoreError::VersionNotFound)?;
    if row.object_key.is_none() || row.checksum.is_none() {
        // A version recorded without a package (imported rows) has nothing to serve.
        return Err(StoreError::VersionNotFound);
    }
    Ok(row)
}

/// The package's bytes, read in full and checked against the row's size and SHA-256
/// before any of them is served. A mismatch is `PackageCorrupt`.
pub async fn read_package(
    objects: &dyn ObjectStore,
    row: &StoredVersion,
) -> Result<Bytes, StoreError> {
    let (Some(key), Some(expected)) = (row.object_key.as_deref(), row.checksum.as_deref()) else {
        return Err(StoreError::VersionNotFound);
    };
    let object = match objects.get(&ObjectPath::from(key)).await {
        Ok(object) => object,
        Err(object_store::Error::NotFound { .. }) => {
            tracing::error!(key, "a version's package object is missing");
            return Err(StoreError::PackageCorrupt);
        }
        Err(error) => return Err(object_error(error)),
    };
    // The size is known before reading: a grown object is not read into memory.
    if row
        .package_size
        .is_some_and(|size| u64::try_from(size).ok() != Some(object.meta.size))
    {
        return Err(StoreError::PackageCorrupt);
    }
    let bytes = object.bytes().await.map_err(object_error)?;
    if hex::encode(Sha256::digest(&bytes)) != expected {
        return Err(StoreError::PackageCorrupt);
    }
    Ok(bytes)
}

/// One installed app in an update check.
#[derive(Debug, Clone)]
pub struct InstalledApp {
    pub miniapp_id: String,
    pub current_version: String,
}

/// An update offered by [`check_updates`].
#[derive(Debug, Clone, PartialEq)]
pub struct AvailableUpdate {
    pub miniapp_id: String,
    pub current_version: String,
    pub new_version: String,
    pub release_notes: Option<String>,
    pub download_url: String,
    pub size_bytes: i64,
    /// Lower-case hex SHA-256.
    pub sha256: String,
}

/// For each listed app whose published version is newer (by semver) than the one
/// installed, that version and its package. Apps that are unknown, not listed (`active`
/// or `deprecated`) or whose published version has no package are skipped. `platform`
/// and `client_version` are accepted for the protocol; packages are not per platform yet.
pub async fn check_updates(
    db: &dyn Database,
    installed: &[InstalledApp],
) -> Result<Vec<AvailableUpdate>, StoreError> {
    let mut errors = FieldErrors::new();
    if installed.len() > MAX_UPDATE_CHECK_APPS {
        errors.add(
            "installed_apps",
            format!("must list at most {MAX_UPDATE_CHECK_APPS} apps"),
        );
    }
    for (index, app) in installed.iter().enumerate() {
        if app.miniapp_id.is_empty() || app.miniapp_id.len() > 255 {
            errors.add(
                format!("installed_apps[{index}].miniapp_id"),
                "must be 1-255 characters",
            );
        }
        if app.current_version.is_empty() || app.current_version.len() > 50 {
            errors.add(
                format!("installed_apps[{index}].current_version"),
                "must be 1-50 characters",
            );
        }
    }
    errors.into_result()?;
    if installed.is_empty() {
        return Ok(Vec::new());
    }
    let mut ids: Vec<String> = installed.iter().map(|a| a.miniapp_id.clone()).collect();
    ids.sort();
    ids.dedup();
    let published = db.published_packages(&ids).await?;
    let mut updates = Vec::new();
    for app in installed {
        let Some(found) = published.iter().find(|p| p.app_id == app.miniapp_id) else {
            continue;
        };
        if !matches!(found.status, AppStatus::Active | AppStatus::Deprecated) {
            continue;
        }
        let Some(package) = found.package.as_ref() else {
            continue;
        };
        let (Some(size), Some(sha256)) = (package.package_size, package.checksum.as_ref()) else {
            continue;
        };
        if package.status != VersionStatus::Active
            || !is_newer(&found.version, &app.current_version)
        {
            continue;
        }
        updates.push(AvailableUpdate {
            miniapp_id: app.miniapp_id.clone(),
            current_version: app.current_version.clone(),
            new_version: found.version.clone(),
            release_notes: package.release_notes.clone(),
            download_url: download_path(&found.app_id, &found.version),
            size_bytes: size,
            sha256: sha256.clone(),
        });
    }
    Ok(updates)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_checked() {
        let ok = check_fields(UploadFields {
            version: Some(" 1.2.3 ".into()),
            release_notes: Some("  ".into()),
            min_os_version: Some("14.0".into()),
        })
        .expect("valid");
        assert_eq!(ok.version, "1.2.3");
        assert_eq!(ok.release_notes, None);
        assert_eq!(ok.min_os_version.as_deref(), Some("14.0"));

        let errors = check_fields(UploadFields {
            version: Some("1.2".into()),
            release_notes: Some("x".repeat(MAX_RELEASE_NOTES + 1)),
            min_os_version: None,
        })
        .expect_err("invalid");
        let fields: Vec<&str> = errors.iter().map(|(f, _)| f).collect();
        assert_eq!(fields, ["version", "release_notes"]);
        assert!(check_fields(UploadFields::default()).is_err());
    }
}
