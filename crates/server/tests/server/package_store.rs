//! The package store chosen by configuration: an S3 backend without a bucket stops the
//! start with a message naming the setting (and never the secret key), and a complete S3
//! configuration reaches its bucket under its prefix (the S3 test server of
//! `tmcp_contract_tests::s3`), while a wrong bucket stops the start.

use object_store::ObjectStoreExt;
use std::process::Stdio;
use std::time::Duration;
use tmcp_contract_tests::s3::{self, S3Target};
use tmcp_server::config::store::{PackagesBackend, StoreConfig};
use tokio::process::Command;

const SECRET: &str = "s3-secret-never-printed";

/// Runs the binary with only the given `TMCP_*` variables; its exit status and output.
async fn run(args: &[&str], vars: &[(&str, &str)]) -> (bool, String, String) {
    let dir = tempfile::tempdir().expect("data dir");
    let mut command = Command::new(env!("CARGO_BIN_EXE_tmcp-server"));
    command
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("TMCP_DATA_DIR", dir.path())
        .env("TMCP_LISTEN", "127.0.0.1:0")
        .env("TMCP_LOG_LEVEL", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    for (name, value) in vars {
        command.env(name, value);
    }
    let output = tokio::time::timeout(Duration::from_secs(30), command.output())
        .await
        .expect("the binary exits by itself")
        .expect("the binary runs");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test]
async fn an_s3_backend_without_a_bucket_stops_the_start() {
    let (started, _, stderr) = run(
        &["serve"],
        &[
            ("TMCP_STORE__PACKAGES_BACKEND", "s3"),
            ("TMCP_STORE__S3_ACCESS_KEY_ID", "AKIDEXAMPLE"),
            ("TMCP_STORE__S3_SECRET_ACCESS_KEY", SECRET),
        ],
    )
    .await;
    assert!(!started, "{stderr}");
    assert!(
        stderr.contains("store.s3_bucket") && stderr.contains("TMCP_STORE__S3_BUCKET"),
        "{stderr}"
    );
    assert!(!stderr.contains(SECRET), "{stderr}");

    // A complete configuration prints back without the secret; an empty variable is unset.
    let (printed, stdout, stderr) = run(
        &["config"],
        &[
            ("TMCP_STORE__PACKAGES_BACKEND", "s3"),
            ("TMCP_STORE__S3_BUCKET", "tmcp-packages"),
            ("TMCP_STORE__S3_ACCESS_KEY_ID", "AKIDEXAMPLE"),
            ("TMCP_STORE__S3_SECRET_ACCESS_KEY", SECRET),
            ("TMCP_STORE__S3_PREFIX", ""),
        ],
    )
    .await;
    assert!(printed, "{stderr}");
    assert!(!stdout.contains(SECRET), "{stdout}");
    assert!(
        stdout.contains("# store.s3_secret_access_key = \"<set>\""),
        "{stdout}"
    );
    assert!(stdout.contains("s3_bucket = \"tmcp-packages\""), "{stdout}");
    assert!(!stdout.contains("s3_prefix"), "{stdout}");
}

fn s3_config(target: &S3Target, bucket: &str, prefix: &str) -> StoreConfig {
    let config = StoreConfig {
        packages_backend: PackagesBackend::S3,
        s3_bucket: Some(bucket.into()),
        s3_region: Some("us-east-1".into()),
        s3_endpoint: Some(target.endpoint.clone()),
        s3_access_key_id: Some(s3::ACCESS_KEY_ID.into()),
        s3_secret_access_key: Some(s3::SECRET_ACCESS_KEY.into()),
        s3_allow_http: true,
        s3_prefix: Some(prefix.into()),
        ..StoreConfig::default()
    };
    config.validate().expect("valid S3 configuration");
    config
}

#[tokio::test]
async fn the_s3_backend_uses_the_configured_bucket_and_prefix() {
    let Some(target) = s3::target("the_s3_backend_uses_the_configured_bucket_and_prefix") else {
        return;
    };
    let dir = tempfile::tempdir().expect("data dir");
    let prefix = S3Target::fresh_prefix();
    let opened =
        tmcp_server::packages::open(&s3_config(&target, &target.bucket, &prefix), dir.path())
            .await
            .expect("the configured bucket is reachable");
    opened
        .put(&"apps/ma_probe/a.pkg".into(), b"bytes".to_vec().into())
        .await
        .expect("written through the configured store");
    // Seen under the prefix by an independent client of the same bucket.
    let seen = target
        .store(&prefix)
        .get(&"apps/ma_probe/a.pkg".into())
        .await
        .expect("object under the prefix")
        .bytes()
        .await
        .expect("bytes");
    assert_eq!(seen.as_ref(), b"bytes");
    assert!(
        std::fs::read_dir(dir.path())
            .expect("data dir")
            .next()
            .is_none(),
        "nothing is written to the data dir"
    );

    let missing = tmcp_server::packages::open(
        &s3_config(&target, "tmcp-no-such-bucket", &prefix),
        dir.path(),
    )
    .await
    .err()
    .map(|e| format!("{e:#}"))
    .unwrap_or_default();
    assert!(
        missing.contains("cannot use the S3 package store")
            && missing.contains("tmcp-no-such-bucket"),
        "{missing}"
    );
    assert!(!missing.contains(s3::SECRET_ACCESS_KEY), "{missing}");
}
