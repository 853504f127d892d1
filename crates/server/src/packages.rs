//! The object store of the mini-app store's packages (docs/store_packages.md): a local
//! directory under the data dir by default, or an S3-compatible bucket by configuration.
//! Everything above this module sees only `object_store::ObjectStore`.

use crate::config::store::{PackagesBackend, StoreConfig};
use anyhow::Context;
use object_store::aws::AmazonS3Builder;
use object_store::path::Path as ObjectPath;
use object_store::prefix::PrefixStore;
use object_store::{ObjectStore, RetryConfig};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// How long the start-up check of the bucket may take. A generous bound: the check exists
/// to fail fast on a wrong bucket, endpoint or credentials rather than on the first upload.
const PROBE_TIMEOUT: Duration = Duration::from_secs(15);

/// Opens the configured package store. For S3 the bucket is listed once, so a wrong bucket,
/// endpoint or credentials stop the start with a message instead of failing uploads later.
pub async fn open(config: &StoreConfig, data_dir: &Path) -> anyhow::Result<Arc<dyn ObjectStore>> {
    match config.packages_backend {
        PackagesBackend::Local => open_local(config, data_dir),
        PackagesBackend::S3 => {
            let store = open_s3(config)?;
            probe(store.as_ref(), config).await?;
            Ok(store)
        }
    }
}

/// A local directory (created if missing).
fn open_local(config: &StoreConfig, data_dir: &Path) -> anyhow::Result<Arc<dyn ObjectStore>> {
    let dir = config.packages_dir(data_dir);
    std::fs::create_dir_all(&dir)
        .with_context(|| format!("cannot create the packages directory {}", dir.display()))?;
    let store = object_store::local::LocalFileSystem::new_with_prefix(&dir)
        .with_context(|| format!("cannot open the packages directory {}", dir.display()))?
        .with_automatic_cleanup(true);
    Ok(Arc::new(store))
}

/// The S3 client of the configuration (validated before), without touching the network.
pub fn open_s3(config: &StoreConfig) -> anyhow::Result<Arc<dyn ObjectStore>> {
    let bucket = config
        .s3_bucket
        .as_deref()
        .context("store.s3_bucket is required with store.packages_backend = \"s3\"")?;
    // From the environment first, so the standard AWS credential chain (AWS_* variables,
    // web identity, container and instance credentials) works when no keys are configured;
    // every configured setting then takes precedence.
    let mut builder = AmazonS3Builder::from_env()
        .with_bucket_name(bucket)
        .with_allow_http(config.s3_allow_http)
        // Few, quick retries: an upload or download shares the request timeout (30 s by
        // default), and the library's default would retry for up to three minutes.
        .with_retry(RetryConfig {
            max_retries: 3,
            retry_timeout: Duration::from_secs(10),
            ..RetryConfig::default()
        });
    if let Some(region) = &config.s3_region {
        builder = builder.with_region(region);
    }
    if let Some(endpoint) = &config.s3_endpoint {
        builder = builder.with_endpoint(endpoint);
    }
    if let (Some(id), Some(secret)) = (&config.s3_access_key_id, &config.s3_secret_access_key) {
        builder = builder
            .with_access_key_id(id)
            .with_secret_access_key(secret);
    }
    let store = builder
        .build()
        .context("cannot configure the S3 package store (store.s3_*)")?;
    Ok(match &config.s3_prefix {
        Some(prefix) => Arc::new(PrefixStore::new(store, ObjectPath::from(prefix.as_str()))),
        None => Arc::new(store),
    })
}

/// Lists at most one key of the store's `apps/` tree.
async fn probe(store: &dyn ObjectStore, config: &StoreConfig) -> anyhow::Result<()> {
    let place = || {
        format!(
            "bucket {:?} at {}",
            config.s3_bucket.as_deref().unwrap_or_default(),
            config.s3_endpoint.as_deref().unwrap_or("AWS S3")
        )
    };
    let listed = tokio::time::timeout(
        PROBE_TIMEOUT,
        store.list_with_delimiter(Some(&"apps".into())),
    )
    .await
    .with_context(|| {
        format!(
            "the S3 package store ({}) did not answer within {} s",
            place(),
            PROBE_TIMEOUT.as_secs()
        )
    })?;
    listed.with_context(|| {
        format!(
            "cannot use the S3 package store ({}); check store.s3_bucket, s3_endpoint, \
             s3_region and the credentials",
            place()
        )
    })?;
    Ok(())
}
