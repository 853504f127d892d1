//! `[store]` (`TMCP_STORE__*`): where the mini-app store keeps packages — a local directory
//! by default, or an S3-compatible bucket — and how large they may be.

use anyhow::bail;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Largest package limit accepted: a download is read whole into memory and checked
/// against its SHA-256 before it is served.
pub const MAX_PACKAGE_LIMIT: u64 = 512 * 1024 * 1024;

/// Which object store keeps the packages.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PackagesBackend {
    /// A directory on this machine (`packages_dir`).
    #[default]
    Local,
    /// An S3 bucket, or any S3-compatible service (`s3_*`).
    S3,
}

#[derive(Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreConfig {
    /// `local` (default) or `s3`.
    pub packages_backend: PackagesBackend,
    /// Directory of the package objects (local backend); unset means `<data_dir>/packages`.
    /// Created at start if missing.
    pub packages_dir: Option<PathBuf>,
    /// The bucket (s3 backend; required there).
    pub s3_bucket: Option<String>,
    /// The bucket's region; unset means `AWS_REGION`/`AWS_DEFAULT_REGION`, else `us-east-1`.
    pub s3_region: Option<String>,
    /// Base URL of an S3-compatible service (MinIO, Ceph, R2, moto…); unset means AWS.
    /// Requests are path-style (`<endpoint>/<bucket>/<key>`).
    pub s3_endpoint: Option<String>,
    /// Static credentials; unset means the standard AWS chain (`AWS_*` variables, web
    /// identity, container or instance credentials). Both or neither.
    pub s3_access_key_id: Option<String>,
    pub s3_secret_access_key: Option<String>,
    /// Allows an `http://` endpoint (loopback or development services only: credentials
    /// and packages would cross the network in clear).
    pub s3_allow_http: bool,
    /// Key prefix inside the bucket (e.g. `tmcp/prod`), so deployments can share a bucket.
    pub s3_prefix: Option<String>,
    /// Largest package a developer may upload, in bytes (20 MiB).
    pub max_package_bytes: u64,
    /// How long a store listing answer (browse or search) is reused for the same query, in
    /// milliseconds; 0 turns the cache off (docs/store_search.md, "Answer cache").
    pub search_cache_ms: u64,
}

/// The longest a listing answer may be reused: a minute-old catalogue is already stale.
pub const MAX_SEARCH_CACHE_MS: u64 = 60_000;

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            packages_backend: PackagesBackend::Local,
            packages_dir: None,
            s3_bucket: None,
            s3_region: None,
            s3_endpoint: None,
            s3_access_key_id: None,
            s3_secret_access_key: None,
            s3_allow_http: false,
            s3_prefix: None,
            max_package_bytes: tmcp_usecases::store::StoreSettings::default().max_package_bytes,
            search_cache_ms: 2_000,
        }
    }
}

// By hand so the secret access key never reaches a log line or an error message.
impl std::fmt::Debug for StoreConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreConfig")
            .field("packages_backend", &self.packages_backend)
            .field("packages_dir", &self.packages_dir)
            .field("s3_bucket", &self.s3_bucket)
            .field("s3_region", &self.s3_region)
            .field("s3_endpoint", &self.s3_endpoint)
            .field("s3_access_key_id", &self.s3_access_key_id)
            .field(
                "s3_secret_access_key",
                &self.s3_secret_access_key.as_ref().map(|_| "<redacted>"),
            )
            .field("s3_allow_http", &self.s3_allow_http)
            .field("s3_prefix", &self.s3_prefix)
            .field("max_package_bytes", &self.max_package_bytes)
            .field("search_cache_ms", &self.search_cache_ms)
            .finish()
    }
}

impl StoreConfig {
    /// The packages directory, defaulting under `data_dir`.
    pub fn packages_dir(&self, data_dir: &Path) -> PathBuf {
        self.packages_dir
            .clone()
            .unwrap_or_else(|| data_dir.join("packages"))
    }

    pub fn settings(&self) -> tmcp_usecases::store::StoreSettings {
        tmcp_usecases::store::StoreSettings {
            max_package_bytes: self.max_package_bytes,
            ..tmcp_usecases::store::StoreSettings::default()
        }
    }

    /// The optional text settings, for "an empty variable means unset".
    pub(crate) fn optional_texts(&mut self) -> [&mut Option<String>; 6] {
        [
            &mut self.s3_bucket,
            &mut self.s3_region,
            &mut self.s3_endpoint,
            &mut self.s3_access_key_id,
            &mut self.s3_secret_access_key,
            &mut self.s3_prefix,
        ]
    }

    pub fn validate(&self) -> anyhow::Result<()> {
        if !(1024..=MAX_PACKAGE_LIMIT).contains(&self.max_package_bytes) {
            bail!("store.max_package_bytes must be between 1024 and {MAX_PACKAGE_LIMIT}");
        }
        if self.search_cache_ms > MAX_SEARCH_CACHE_MS {
            bail!("store.search_cache_ms must be between 0 and {MAX_SEARCH_CACHE_MS}");
        }
        if self
            .packages_dir
            .as_ref()
            .is_some_and(|dir| dir.as_os_str().is_empty())
        {
            bail!("store.packages_dir must not be empty (unset it for <data_dir>/packages)");
        }
        match self.packages_backend {
            // A bucket set without the backend would silently keep packages on local disk.
            PackagesBackend::Local if self.s3_bucket.is_some() => bail!(
                "store.s3_bucket is set but store.packages_backend is \"local\"; set \
                 store.packages_backend = \"s3\" (TMCP_STORE__PACKAGES_BACKEND=s3) to use it"
            ),
            PackagesBackend::Local => Ok(()),
            PackagesBackend::S3 => self.validate_s3(),
        }
    }

    fn validate_s3(&self) -> anyhow::Result<()> {
        if self.packages_dir.is_some() {
            bail!("store.packages_dir applies to the local backend only; unset it with store.packages_backend = \"s3\"");
        }
        let Some(bucket) = self.s3_bucket.as_deref() else {
            bail!("store.packages_backend is \"s3\" but store.s3_bucket (TMCP_STORE__S3_BUCKET) is not set");
        };
        if !(3..=63).contains(&bucket.len())
            || !bucket
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b))
        {
            bail!("store.s3_bucket must be a bucket name: 3-63 of [A-Za-z0-9._-]");
        }
        if self
            .s3_region
            .as_deref()
            .is_some_and(|region| region.is_empty() || region.chars().any(char::is_whitespace))
        {
            bail!("store.s3_region must be a region name such as eu-west-1");
        }
        match (&self.s3_access_key_id, &self.s3_secret_access_key) {
            (Some(_), Some(_)) | (None, None) => {}
            _ => bail!(
                "store.s3_access_key_id and store.s3_secret_access_key go together: set both, \
                 or neither for the standard AWS credential chain"
            ),
        }
        if let Some(endpoint) = &self.s3_endpoint {
            check_endpoint(endpoint, self.s3_allow_http)?;
        }
        if let Some(prefix) = &self.s3_prefix {
            let valid = object_store::path::Path::parse(prefix)
                .is_ok_and(|parsed| parsed.as_ref() == prefix && !prefix.is_empty());
            if !valid {
                bail!("store.s3_prefix must be a key prefix such as tmcp/prod: no leading, trailing or doubled '/', no '.' or '..' segments");
            }
        }
        Ok(())
    }
}

fn check_endpoint(endpoint: &str, allow_http: bool) -> anyhow::Result<()> {
    let parsed = url::Url::parse(endpoint).ok().filter(|url| {
        matches!(url.scheme(), "http" | "https")
            && url.host().is_some()
            && url.username().is_empty()
            && url.password().is_none()
            && url.query().is_none()
            && url.fragment().is_none()
    });
    let Some(parsed) = parsed else {
        bail!("store.s3_endpoint must be an http(s) URL without credentials, query or fragment, such as https://minio.internal:9000");
    };
    if parsed.scheme() == "http" && !allow_http {
        bail!("store.s3_endpoint is plain http; set store.s3_allow_http = true (loopback or development services only) or use https");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s3() -> StoreConfig {
        StoreConfig {
            packages_backend: PackagesBackend::S3,
            s3_bucket: Some("tmcp-packages".into()),
            ..StoreConfig::default()
        }
    }

    fn refusal(config: &StoreConfig) -> String {
        config
            .validate()
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default()
    }

    #[test]
    fn search_cache_time_is_bounded() {
        for (ms, ok) in [(0, true), (2_000, true), (60_000, true), (60_001, false)] {
            let config = StoreConfig {
                search_cache_ms: ms,
                ..StoreConfig::default()
            };
            assert_eq!(config.validate().is_ok(), ok, "{ms}: {}", refusal(&config));
        }
    }

    #[test]
    fn s3_settings_are_validated() {
        assert!(StoreConfig::default().validate().is_ok());
        assert!(s3().validate().is_ok());
        let full = StoreConfig {
            s3_region: Some("eu-west-1".into()),
            s3_endpoint: Some("http://127.0.0.1:9000".into()),
            s3_allow_http: true,
            s3_access_key_id: Some("id".into()),
            s3_secret_access_key: Some("secret".into()),
            s3_prefix: Some("tmcp/prod".into()),
            ..s3()
        };
        assert!(full.validate().is_ok(), "{}", refusal(&full));

        let no_bucket = StoreConfig {
            s3_bucket: None,
            ..s3()
        };
        assert!(refusal(&no_bucket).contains("store.s3_bucket"));
        let forgotten_backend = StoreConfig {
            packages_backend: PackagesBackend::Local,
            ..s3()
        };
        assert!(refusal(&forgotten_backend).contains("packages_backend"));
        for (bad, named) in [
            (
                StoreConfig {
                    s3_bucket: Some("a/b".into()),
                    ..s3()
                },
                "store.s3_bucket",
            ),
            (
                StoreConfig {
                    s3_access_key_id: Some("id".into()),
                    ..s3()
                },
                "store.s3_secret_access_key",
            ),
            (
                StoreConfig {
                    s3_endpoint: Some("http://127.0.0.1:9000".into()),
                    ..s3()
                },
                "s3_allow_http",
            ),
            (
                StoreConfig {
                    s3_endpoint: Some("https://id:secret@minio.internal".into()),
                    ..s3()
                },
                "store.s3_endpoint",
            ),
            (
                StoreConfig {
                    s3_endpoint: Some("minio.internal:9000".into()),
                    ..s3()
                },
                "store.s3_endpoint",
            ),
            (
                StoreConfig {
                    s3_prefix: Some("/tmcp/".into()),
                    ..s3()
                },
                "store.s3_prefix",
            ),
            (
                StoreConfig {
                    s3_prefix: Some("a/../b".into()),
                    ..s3()
                },
                "store.s3_prefix",
            ),
            (
                StoreConfig {
                    packages_dir: Some("/srv/packages".into()),
                    ..s3()
                },
                "store.packages_dir",
            ),
        ] {
            let message = refusal(&bad);
            assert!(message.contains(named), "{named}: {message:?}");
        }
    }

    #[test]
    fn debug_output_hides_the_secret_key() {
        let config = StoreConfig {
            s3_access_key_id: Some("AKIDEXAMPLE".into()),
            s3_secret_access_key: Some("wJalrXUtnFEMI".into()),
            ..s3()
        };
        let shown = format!("{config:?}");
        assert!(!shown.contains("wJalrXUtnFEMI"), "{shown}");
        assert!(shown.contains("AKIDEXAMPLE") && shown.contains("<redacted>"));
    }
}
