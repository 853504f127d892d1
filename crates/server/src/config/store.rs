//! `[store]` (`TMCP_STORE__*`): where the mini-app store keeps packages, and how large they
//! may be.

use anyhow::bail;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Largest package limit accepted: a download is read whole into memory and checked
/// against its SHA-256 before it is served.
pub const MAX_PACKAGE_LIMIT: u64 = 512 * 1024 * 1024;

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreConfig {
    /// Directory of the package objects; unset means `<data_dir>/packages`. Created at
    /// start if missing.
    pub packages_dir: Option<PathBuf>,
    /// Largest package a developer may upload, in bytes (20 MiB).
    pub max_package_bytes: u64,
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            packages_dir: None,
            max_package_bytes: tmcp_usecases::store::StoreSettings::default().max_package_bytes,
        }
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

    pub fn validate(&self) -> anyhow::Result<()> {
        if !(1024..=MAX_PACKAGE_LIMIT).contains(&self.max_package_bytes) {
            bail!("store.max_package_bytes must be between 1024 and {MAX_PACKAGE_LIMIT}");
        }
        if self
            .packages_dir
            .as_ref()
            .is_some_and(|dir| dir.as_os_str().is_empty())
        {
            bail!("store.packages_dir must not be empty (unset it for <data_dir>/packages)");
        }
        Ok(())
    }
}
