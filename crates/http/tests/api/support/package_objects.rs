//! Where a package test's objects live — a temporary local directory or a prefix of the S3
//! test bucket (`tmcp_contract_tests::s3`) — and what each backend holds, unfinished
//! uploads included, so the same tests check "nothing left behind" on both.

use object_store::local::LocalFileSystem;
use object_store::{ObjectStore, ObjectStoreExt};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tempfile::TempDir;
use tmcp_contract_tests::s3::S3Target;

/// Marks an unfinished upload in [`PackageObjects::held`].
pub const UNFINISHED: &str = " (unfinished)";

pub enum PackageObjects {
    Local {
        dir: TempDir,
        store: Arc<dyn ObjectStore>,
    },
    S3 {
        target: S3Target,
        prefix: String,
        store: Arc<dyn ObjectStore>,
    },
}

impl PackageObjects {
    pub fn local() -> Self {
        let dir = tempfile::tempdir().expect("packages dir");
        let store = Arc::new(LocalFileSystem::new_with_prefix(dir.path()).expect("local store"));
        Self::Local { dir, store }
    }

    /// `None` when the S3 tests are skipped (see `tmcp_contract_tests::s3::target`).
    pub fn s3(test: &str) -> Option<Self> {
        let target = tmcp_contract_tests::s3::target(test)?;
        let prefix = S3Target::fresh_prefix();
        let store = target.store(&prefix);
        Some(Self::S3 {
            target,
            prefix,
            store,
        })
    }

    pub fn store(&self) -> Arc<dyn ObjectStore> {
        match self {
            Self::Local { store, .. } | Self::S3 { store, .. } => Arc::clone(store),
        }
    }

    /// Everything stored, sorted: the keys of complete objects and, marked [`UNFINISHED`],
    /// those of uploads in progress (a local staging file, an S3 multipart upload).
    pub async fn held(&self) -> Vec<String> {
        let mut held = match self {
            // The files themselves: staging files of unfinished uploads are not listed by
            // the store.
            Self::Local { dir, .. } => files(dir.path())
                .into_iter()
                .map(|key| match key.split_once('#') {
                    Some((object, _)) => format!("{object}{UNFINISHED}"),
                    None => key,
                })
                .collect(),
            Self::S3 {
                target,
                prefix,
                store,
            } => {
                let mut keys = list_keys(store.as_ref()).await;
                keys.extend(
                    target
                        .unfinished_uploads(prefix)
                        .await
                        .into_iter()
                        .map(|key| format!("{key}{UNFINISHED}")),
                );
                keys
            }
        };
        held.sort();
        held
    }

    /// Replaces an object's bytes behind the server's back.
    pub async fn overwrite(&self, key: &str, bytes: Vec<u8>) {
        self.store()
            .put(&key.into(), bytes.into())
            .await
            .expect("object overwritten");
    }

    pub async fn remove(&self, key: &str) {
        self.store()
            .delete(&key.into())
            .await
            .expect("object removed");
    }

    /// Waits (up to 10 s) until what is held passes `check`.
    pub async fn wait_until(&self, what: &str, check: impl Fn(&[String]) -> bool) {
        let mut held = Vec::new();
        for _ in 0..200 {
            held = self.held().await;
            if check(&held) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("waited in vain for {what}; held: {held:?}");
    }
}

async fn list_keys(store: &dyn ObjectStore) -> Vec<String> {
    use futures::TryStreamExt;
    store
        .list(None)
        .map_ok(|meta| meta.location.to_string())
        .try_collect()
        .await
        .expect("objects listed")
}

/// Every file under `dir`, as a `/`-separated path relative to it.
fn files(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(next) = pending.pop() {
        for entry in std::fs::read_dir(&next).expect("read dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                pending.push(path);
            } else if let Ok(relative) = path.strip_prefix(dir) {
                let parts: Vec<String> = relative
                    .components()
                    .map(|part| part.as_os_str().to_string_lossy().into_owned())
                    .collect();
                found.push(parts.join("/"));
            }
        }
    }
    found
}
