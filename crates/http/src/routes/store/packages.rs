//! Versions and packages (docs/store_packages.md):
//! `POST/GET /api/v1/developer/apps/{app_id}/versions` (the app's developer or an admin),
//! `GET /api/v1/store/apps/{app_id}/versions/{version}/package` (the download, with ETag and
//! single ranges) and `POST /api/v1/client/check-updates`.
//!
//! The upload is streamed: the body is never buffered (the request-text check skips this
//! route, see `middleware::boundary`, and its body limit is the package limit plus room for
//! the text fields), the package part goes chunk by chunk to object storage.

use super::caller;
use crate::auth::{SessionOrTep, SessionPrincipal};
use crate::error::{field_errors, ApiError, ErrorEnvelope};
use crate::extract::ApiJson;
use crate::middleware::boundary;
use crate::AppState;
use axum::body::Body;
use axum::extract::multipart::{Field, MultipartError};
use axum::extract::{DefaultBodyLimit, FromRequest, Multipart, Path, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use tmcp_repository::StoredVersion;
use tmcp_usecases::fields::FieldErrors;
use tmcp_usecases::store::packages::{
    self, checksum_label, InstalledApp, PackageUpload, UploadFields, MAX_RELEASE_NOTES,
};
use tmcp_usecases::store::StoreError;
use utoipa::ToSchema;

/// Room for the text fields and the multipart framing beyond the package itself.
const FIELDS_ALLOWANCE: u64 = 64 * 1024;
/// Longest text field read, in bytes (release notes: 5000 characters of up to 4 bytes).
pub const MAX_TEXT_FIELD_BYTES: usize = MAX_RELEASE_NOTES * 4;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/api/v1/developer/apps/{app_id}/versions",
            // The handler bounds the body itself (the package limit is a setting).
            post(upload).layer(DefaultBodyLimit::disable()).get(list),
        )
        .route(
            "/api/v1/store/apps/{app_id}/versions/{version}/package",
            get(download),
        )
        .route("/api/v1/client/check-updates", post(check_updates))
}

/// The multipart form of an upload. Text fields may come before or after the package.
#[derive(Debug, ToSchema)]
#[allow(dead_code)] // documentation only: the handler reads the parts as they stream
pub struct UploadVersionForm {
    /// A semantic version (`1.2.3`, `2.0.0-beta.1`; no build metadata).
    #[schema(min_length = 1, max_length = 50)]
    version: String,
    #[schema(max_length = 5000)]
    release_notes: Option<String>,
    #[schema(max_length = 50)]
    min_os_version: Option<String>,
    /// The package file, at most the configured limit (20 MiB by default).
    #[schema(value_type = String, format = Binary)]
    package: Vec<u8>,
}

/// A version of an app.
#[derive(Debug, Serialize, ToSchema)]
pub struct VersionView {
    pub version: String,
    /// `pending` (uploaded, replaceable until submitted), `active`, `deprecated`, `removed`.
    pub status: String,
    pub package_size: Option<i64>,
    /// `sha256:<hex>` of the package.
    pub checksum: Option<String>,
    /// Where the package is served, relative to the API's base URL.
    pub download_url: Option<String>,
    pub release_notes: Option<String>,
    pub min_os_version: Option<String>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub submitted_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

impl From<&StoredVersion> for VersionView {
    fn from(row: &StoredVersion) -> Self {
        Self {
            version: row.version.clone(),
            status: row.status.as_db().to_owned(),
            package_size: row.package_size,
            checksum: row.checksum.as_deref().map(checksum_label),
            download_url: row.download_url.clone(),
            release_notes: row.release_notes.clone(),
            min_os_version: row.min_os_version.clone(),
            submitted_at: row.submitted_at,
            created_at: row.created_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct VersionList {
    /// Newest upload first.
    pub versions: Vec<VersionView>,
}

fn multipart_error(error: &MultipartError, limit: u64) -> StoreError {
    if error.status() == StatusCode::PAYLOAD_TOO_LARGE {
        StoreError::PackageTooLarge { limit }
    } else {
        StoreError::InvalidRequest(format!("the multipart body could not be read: {error}"))
    }
}

fn field_error(field: &str, message: &str) -> ApiError {
    let mut errors = FieldErrors::new();
    errors.add(field, message);
    field_errors(&errors)
}

/// Reads a text field of at most [`MAX_TEXT_FIELD_BYTES`]. Text breaking the request-text
/// rule (UTF-8 without NUL) is refused as the boundary middleware refuses it elsewhere.
async fn text_field(mut field: Field<'_>, name: &str, limit: u64) -> Result<String, ApiError> {
    let mut bytes = Vec::new();
    while let Some(chunk) = field
        .chunk()
        .await
        .map_err(|e| multipart_error(&e, limit))?
    {
        if bytes.len() + chunk.len() > MAX_TEXT_FIELD_BYTES {
            return Err(field_error(name, "is too long"));
        }
        bytes.extend_from_slice(&chunk);
    }
    if !boundary::is_clean_text(&bytes) {
        return Err(boundary::text_refusal(boundary::Location::Body));
    }
    String::from_utf8(bytes).map_err(|_| boundary::text_refusal(boundary::Location::Body))
}

/// Where the package part of an upload form goes, chunk by chunk, while the form is read.
/// The handler streams into object storage; the multipart fuzz target counts bytes in
/// memory, so it can drive [`read_form`] without a database or a store.
pub trait PackageSink {
    fn write(
        &mut self,
        chunk: axum::body::Bytes,
    ) -> impl std::future::Future<Output = Result<(), StoreError>> + Send;
}

impl PackageSink for PackageUpload {
    fn write(
        &mut self,
        chunk: axum::body::Bytes,
    ) -> impl std::future::Future<Output = Result<(), StoreError>> + Send {
        PackageUpload::write(self, chunk)
    }
}

/// Reads an upload form, streaming the package part into `upload`; the text parts come
/// back as sent (UTF-8 without NUL, each at most [`MAX_TEXT_FIELD_BYTES`]), to be checked
/// by `packages::check_fields`. `limit` only names the package limit in the 413 answer.
pub async fn read_form<S: PackageSink>(
    multipart: &mut Multipart,
    upload: &mut S,
    limit: u64,
) -> Result<UploadFields, ApiError> {
    let mut fields = UploadFields::default();
    let mut package_seen = false;
    while let Some(mut field) = multipart
        .next_field()
        .await
        .map_err(|e| multipart_error(&e, limit))?
    {
        let name = field.name().unwrap_or_default().to_owned();
        match name.as_str() {
            "package" if !package_seen => {
                package_seen = true;
                while let Some(chunk) = field
                    .chunk()
                    .await
                    .map_err(|e| multipart_error(&e, limit))?
                {
                    upload.write(chunk).await?;
                }
            }
            "version" if fields.version.is_none() => {
                fields.version = Some(text_field(field, &name, limit).await?);
            }
            "release_notes" if fields.release_notes.is_none() => {
                fields.release_notes = Some(text_field(field, &name, limit).await?);
            }
            "min_os_version" if fields.min_os_version.is_none() => {
                fields.min_os_version = Some(text_field(field, &name, limit).await?);
            }
            "package" | "version" | "release_notes" | "min_os_version" => {
                return Err(field_error(&name, "must be sent once"));
            }
            _ => return Err(field_error(&name, "is not a field of an upload")),
        }
    }
    if !package_seen {
        return Err(field_error(
            "package",
            "is required (the package file part)",
        ));
    }
    Ok(fields)
}

/// Uploads the package of a version: a new pending version, or a new package for a pending
/// version that was never submitted.
#[utoipa::path(post, path = "/api/v1/developer/apps/{app_id}/versions", tag = "store",
    security(("session" = [])),
    params(("app_id" = String, Path, max_length = 255, description = "the app's id")),
    request_body(content = UploadVersionForm, content_type = "multipart/form-data",
        description = "parts `version`, `release_notes` (optional, at most 5000 characters), \
                       `min_os_version` (optional) and the file part `package` (at most the \
                       configured limit, 20 MiB by default; not empty). Text parts must be \
                       UTF-8 without NUL."),
    responses(
        (status = 201, description = "stored: the version, `pending`", body = VersionView),
        (status = 400, description = "`INVALID_REQUEST`: not a readable `multipart/form-data` body, or a text part that is not UTF-8 or holds NUL (`details.location` `body`)", body = ErrorEnvelope),
        (status = 403, description = "`INSUFFICIENT_PERMISSIONS`: the caller is not a developer or an admin", body = ErrorEnvelope),
        (status = 404, description = "`APP_NOT_FOUND`: no such app of the caller", body = ErrorEnvelope),
        (status = 409, description = "`CONFLICT`: that version was submitted or decided and cannot change", body = ErrorEnvelope),
        (status = 413, description = "`PAYLOAD_TOO_LARGE`: the package passes the limit (`details.limit_bytes`); nothing is kept", body = ErrorEnvelope),
        (status = 422, description = "`VALIDATION_FAILED`: a bad or missing `version`, missing or empty `package`, over-long text, an unknown or repeated part (`details.fields`)", body = ErrorEnvelope),
        (status = 503, description = "`SERVICE_UNAVAILABLE`: object storage or the database is unreachable", body = ErrorEnvelope)))]
pub async fn upload(
    State(state): State<AppState>,
    principal: SessionPrincipal,
    Path(app_id): Path<String>,
    request: Request,
) -> Result<(StatusCode, Json<VersionView>), ApiError> {
    let limit = state.settings.store.max_package_bytes;
    let cap = limit.saturating_add(FIELDS_ALLOWANCE);
    let announced = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if announced.is_some_and(|length| length > cap) {
        return Err(StoreError::PackageTooLarge { limit }.into());
    }
    let (parts, body) = request.into_parts();
    let cap = usize::try_from(cap).unwrap_or(usize::MAX);
    let limited = Body::new(http_body_util::Limited::new(body, cap));
    let mut multipart = Multipart::from_request(Request::from_parts(parts, limited), &())
        .await
        .map_err(|rejection| {
            ApiError::invalid_request(format!(
                "the body must be multipart/form-data with a boundary ({rejection})"
            ))
        })?;
    let ports = state.package_ports();
    let mut upload = packages::begin_upload(ports, caller(&principal), &app_id).await?;
    let fields = match read_form(&mut multipart, &mut upload, limit).await {
        Ok(fields) => fields,
        Err(error) => {
            upload.abort().await;
            return Err(error);
        }
    };
    let written = upload.finish().await?;
    let version = packages::record_upload(ports, written, fields).await?;
    Ok((StatusCode::CREATED, Json(VersionView::from(&version))))
}

/// The app's versions, newest upload first.
#[utoipa::path(get, path = "/api/v1/developer/apps/{app_id}/versions", tag = "store",
    security(("session" = [])),
    params(("app_id" = String, Path, max_length = 255, description = "the app's id")),
    responses(
        (status = 200, description = "the versions", body = VersionList),
        (status = 403, description = "`INSUFFICIENT_PERMISSIONS`: the caller is not a developer or an admin", body = ErrorEnvelope),
        (status = 404, description = "`APP_NOT_FOUND`: no such app of the caller", body = ErrorEnvelope)))]
pub async fn list(
    State(state): State<AppState>,
    principal: SessionPrincipal,
    Path(app_id): Path<String>,
) -> Result<Json<VersionList>, ApiError> {
    let versions =
        packages::list_versions(state.package_ports(), caller(&principal), &app_id).await?;
    Ok(Json(VersionList {
        versions: versions.iter().map(VersionView::from).collect(),
    }))
}

/// What a `Range` header asks of a body of `len` bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeAsk {
    /// No usable range: the whole body (also for several ranges).
    Full,
    /// Bytes `start..=end`.
    Part(u64, u64),
    /// Nothing of the body is in the range: 416.
    Unsatisfiable,
}

/// Reads a `Range` header (RFC 9110 §14.2) for one range of bytes. A header that is not
/// `bytes=…` or does not parse is ignored, as the RFC allows.
pub fn range_ask(header: Option<&str>, len: u64) -> RangeAsk {
    let Some(spec) = header.and_then(|h| h.trim().strip_prefix("bytes=")) else {
        return RangeAsk::Full;
    };
    if spec.contains(',') {
        return RangeAsk::Full;
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return RangeAsk::Full;
    };
    let number = |text: &str| -> Option<u64> {
        let text = text.trim();
        if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
            None
        } else {
            text.parse().ok()
        }
    };
    match (first.trim().is_empty(), number(first), number(last)) {
        // `-n`: the last n bytes.
        (true, _, Some(suffix)) => {
            if suffix == 0 || len == 0 {
                RangeAsk::Unsatisfiable
            } else {
                RangeAsk::Part(len.saturating_sub(suffix), len - 1)
            }
        }
        (false, Some(start), end) if last.trim().is_empty() || end.is_some() => {
            if end.is_some_and(|end| end < start) {
                return RangeAsk::Full;
            }
            if start >= len {
                return RangeAsk::Unsatisfiable;
            }
            let end = end.map_or(len - 1, |end| end.min(len - 1));
            RangeAsk::Part(start, end)
        }
        _ => RangeAsk::Full,
    }
}

fn etag_matches(if_none_match: &str, etag: &str) -> bool {
    if_none_match.split(',').map(str::trim).any(|candidate| {
        candidate == "*" || candidate.strip_prefix("W/").unwrap_or(candidate) == etag
    })
}

fn header_value(text: &str) -> Result<HeaderValue, ApiError> {
    HeaderValue::from_str(text).map_err(ApiError::internal)
}

/// Downloads a version's package. The bytes are checked against the recorded SHA-256
/// before any is sent.
#[utoipa::path(get, path = "/api/v1/store/apps/{app_id}/versions/{version}/package", tag = "store",
    security(("session" = []), ("tep" = [])),
    params(
        ("app_id" = String, Path, max_length = 255, description = "the app's id"),
        ("version" = String, Path, max_length = 50, description = "the version number"),
        ("Range" = Option<String>, Header, description = "one range: `bytes=a-b`, `bytes=a-` or `bytes=-n` (several ranges answer the whole package)"),
        ("If-None-Match" = Option<String>, Header, description = "an ETag from an earlier download"),
        ("If-Range" = Option<String>, Header, description = "the range applies only while the ETag is this one")),
    responses(
        (status = 200, description = "the package (`ETag`: the quoted SHA-256 hex, `Accept-Ranges: bytes`)", content_type = "application/octet-stream", body = Vec<u8>),
        (status = 206, description = "one range of the package (`Content-Range`)", content_type = "application/octet-stream", body = Vec<u8>),
        (status = 304, description = "`If-None-Match` matched: the caller's copy is current"),
        (status = 404, description = "`APP_NOT_FOUND` or `NOT_FOUND`: no such app or version, or not one the caller may download (others may fetch only `active` versions of `active` or `deprecated` apps)", body = ErrorEnvelope),
        (status = 416, description = "the range is outside the package (`Content-Range: bytes */<size>`)", body = ErrorEnvelope),
        (status = 500, description = "`PACKAGE_CORRUPT`: the stored package does not match its checksum; nothing is served", body = ErrorEnvelope),
        (status = 503, description = "`SERVICE_UNAVAILABLE`: object storage or the database is unreachable", body = ErrorEnvelope)))]
pub async fn download(
    State(state): State<AppState>,
    principal: SessionOrTep,
    Path((app_id, version)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let reviewer = match &principal {
        SessionOrTep::Session(session) => Some(caller(session)),
        SessionOrTep::Tep(_) => None,
    };
    let row = packages::downloadable(state.db.as_ref(), reviewer, &app_id, &version).await?;
    let sha256 = row.checksum.clone().unwrap_or_default();
    let etag = format!("\"{sha256}\"");
    let etag_value = header_value(&etag)?;
    let text = |name: header::HeaderName| headers.get(name).and_then(|v| v.to_str().ok());
    if text(header::IF_NONE_MATCH).is_some_and(|value| etag_matches(value, &etag)) {
        return Ok((StatusCode::NOT_MODIFIED, [(header::ETAG, etag_value)]).into_response());
    }
    let bytes = packages::read_package(state.packages.as_ref(), &row).await?;
    let len = bytes.len() as u64;
    let range_applies = text(header::IF_RANGE).is_none_or(|value| value.trim() == etag);
    let ask = if range_applies {
        range_ask(text(header::RANGE), len)
    } else {
        RangeAsk::Full
    };
    let disposition = header_value(&format!(
        "attachment; filename=\"{}-{}.pkg\"",
        row.app_id, row.version
    ))?;
    let common = [
        (header::ETAG, etag_value),
        (header::ACCEPT_RANGES, HeaderValue::from_static("bytes")),
        (header::CONTENT_DISPOSITION, disposition),
    ];
    let octets = HeaderValue::from_static("application/octet-stream");
    match ask {
        RangeAsk::Full => Ok((
            StatusCode::OK,
            common,
            [
                (header::CONTENT_TYPE, octets),
                (header::CONTENT_LENGTH, HeaderValue::from(len)),
            ],
            Body::from(bytes),
        )
            .into_response()),
        RangeAsk::Part(start, end) => {
            let (Ok(from), Ok(to)) = (usize::try_from(start), usize::try_from(end)) else {
                return Err(ApiError::internal("range outside memory"));
            };
            let part = bytes.slice(from..=to);
            Ok((
                StatusCode::PARTIAL_CONTENT,
                common,
                [
                    (header::CONTENT_TYPE, octets),
                    (header::CONTENT_LENGTH, HeaderValue::from(part.len() as u64)),
                    (
                        header::CONTENT_RANGE,
                        header_value(&format!("bytes {start}-{end}/{len}"))?,
                    ),
                ],
                Body::from(part),
            )
                .into_response())
        }
        RangeAsk::Unsatisfiable => {
            let mut response = ApiError::new(
                StatusCode::RANGE_NOT_SATISFIABLE,
                "RANGE_NOT_SATISFIABLE",
                format!("the range is outside the package of {len} bytes"),
            )
            .into_response();
            response.headers_mut().insert(
                header::CONTENT_RANGE,
                header_value(&format!("bytes */{len}"))?,
            );
            Ok(response)
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InstalledAppBody {
    #[schema(min_length = 1, max_length = 255)]
    pub miniapp_id: String,
    /// The installed version (semver; one that does not parse is offered any update).
    #[schema(min_length = 1, max_length = 50)]
    pub current_version: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckUpdatesRequest {
    /// The apps the client has, at most 100.
    #[schema(max_items = 100)]
    pub installed_apps: Vec<InstalledAppBody>,
    /// The client's platform (`ios`, `android`, `web`, …); packages are not per platform yet.
    #[schema(max_length = 50)]
    pub platform: Option<String>,
    /// The host app's version.
    #[schema(max_length = 50)]
    pub client_version: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DownloadInfo {
    /// Relative to the API's base URL.
    pub url: String,
    pub size_bytes: i64,
    /// `sha256:<hex>`.
    pub hash: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UpdateView {
    pub miniapp_id: String,
    pub current_version: String,
    pub new_version: String,
    pub release_notes: Option<String>,
    pub download: DownloadInfo,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CheckUpdatesResponse {
    /// Only the apps with a newer published version, in request order.
    pub updates_available: Vec<UpdateView>,
}

/// Which of the client's apps have a newer published version (semver).
#[utoipa::path(post, path = "/api/v1/client/check-updates", tag = "store",
    security(("session" = []), ("tep" = [])),
    request_body = CheckUpdatesRequest,
    responses(
        (status = 200, description = "the updates; unknown or unlisted apps are skipped", body = CheckUpdatesResponse),
        (status = 422, description = "`VALIDATION_FAILED`: more than 100 apps, or an empty or over-long id or version (`details.fields`)", body = ErrorEnvelope)))]
pub async fn check_updates(
    State(state): State<AppState>,
    _principal: SessionOrTep,
    ApiJson(body): ApiJson<CheckUpdatesRequest>,
) -> Result<Json<CheckUpdatesResponse>, ApiError> {
    let mut errors = FieldErrors::new();
    for (field, value) in [
        ("platform", &body.platform),
        ("client_version", &body.client_version),
    ] {
        if value.as_ref().is_some_and(|v| v.chars().count() > 50) {
            errors.add(field, "must be at most 50 characters");
        }
    }
    if !errors.is_empty() {
        return Err(field_errors(&errors));
    }
    let installed: Vec<InstalledApp> = body
        .installed_apps
        .into_iter()
        .map(|app| InstalledApp {
            miniapp_id: app.miniapp_id,
            current_version: app.current_version,
        })
        .collect();
    let updates = packages::check_updates(state.db.as_ref(), &installed).await?;
    Ok(Json(CheckUpdatesResponse {
        updates_available: updates
            .into_iter()
            .map(|update| UpdateView {
                miniapp_id: update.miniapp_id,
                current_version: update.current_version,
                new_version: update.new_version,
                release_notes: update.release_notes,
                download: DownloadInfo {
                    url: update.download_url,
                    size_bytes: update.size_bytes,
                    hash: checksum_label(&update.sha256),
                },
            })
            .collect(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(range_ask(None, 10), RangeAsk::Full);
        assert_eq!(range_ask(Some("bytes=0-3"), 10), RangeAsk::Part(0, 3));
        assert_eq!(range_ask(Some("bytes=4-"), 10), RangeAsk::Part(4, 9));
        assert_eq!(range_ask(Some("bytes=-3"), 10), RangeAsk::Part(7, 9));
        assert_eq!(range_ask(Some("bytes=-30"), 10), RangeAsk::Part(0, 9));
        assert_eq!(range_ask(Some("bytes=5-100"), 10), RangeAsk::Part(5, 9));
        assert_eq!(range_ask(Some("bytes=10-"), 10), RangeAsk::Unsatisfiable);
        assert_eq!(range_ask(Some("bytes=-0"), 10), RangeAsk::Unsatisfiable);
        assert_eq!(range_ask(Some("bytes=5-2"), 10), RangeAsk::Full);
        assert_eq!(range_ask(Some("bytes=0-1,4-5"), 10), RangeAsk::Full);
        assert_eq!(range_ask(Some("items=0-1"), 10), RangeAsk::Full);
        assert_eq!(range_ask(Some("bytes=x-1"), 10), RangeAsk::Full);
        assert_eq!(range_ask(Some("bytes=-"), 10), RangeAsk::Full);
    }

    #[test]
    fn etags() {
        assert!(etag_matches("\"ab\"", "\"ab\""));
        assert!(etag_matches("W/\"ab\", \"cd\"", "\"ab\""));
        assert!(etag_matches("*", "\"ab\""));
        assert!(!etag_matches("\"cd\"", "\"ab\""));
    }
}
