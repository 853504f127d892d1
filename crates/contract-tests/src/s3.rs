//! The S3-compatible server of the package-storage tests, named by `TMCP_TEST_S3_URL`
//! (`http://<host>:<port>/<bucket>`, an existing bucket). `scripts/test.sh` starts a moto
//! server and sets it. Without it a test is skipped with a note, except under `CI`, where
//! it fails: CI must exercise S3.
//!
//! Every test works under a prefix of its own, so tests share the bucket and run in
//! parallel. Unfinished multipart uploads are listed with an unsigned request, which moto
//! accepts (it checks no signatures); real S3 or MinIO would refuse it.

use object_store::aws::AmazonS3Builder;
use object_store::path::Path as ObjectPath;
use object_store::prefix::PrefixStore;
use object_store::ObjectStore;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Credentials moto accepts (any would do).
pub const ACCESS_KEY_ID: &str = "tmcp-test";
pub const SECRET_ACCESS_KEY: &str = "tmcp-test-secret";

/// The test S3 server: its endpoint and the bucket to use.
#[derive(Debug, Clone)]
pub struct S3Target {
    /// `http://<host>:<port>`.
    pub endpoint: String,
    pub bucket: String,
}

/// The configured server, or `None` (with a note on stderr) when `TMCP_TEST_S3_URL` is
/// unset outside CI. Panics when it is unset under `CI` or malformed.
pub fn target(test: &str) -> Option<S3Target> {
    let Some(raw) = std::env::var("TMCP_TEST_S3_URL")
        .ok()
        .filter(|v| !v.is_empty())
    else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must run the S3 tests: TMCP_TEST_S3_URL is unset (scripts/test.sh starts moto and sets it)"
        );
        eprintln!("skipped {test}: TMCP_TEST_S3_URL is not set (scripts/test.sh sets it)");
        return None;
    };
    let parsed = url::Url::parse(&raw).unwrap_or_else(|_| {
        panic!("TMCP_TEST_S3_URL must look like http://127.0.0.1:<port>/<bucket>, got {raw:?}")
    });
    let bucket = parsed.path().trim_matches('/').to_owned();
    let host = parsed.host_str().unwrap_or_default();
    assert!(
        parsed.scheme() == "http" && !host.is_empty() && !bucket.is_empty(),
        "TMCP_TEST_S3_URL must look like http://127.0.0.1:<port>/<bucket>, got {raw:?}"
    );
    let endpoint = match parsed.port() {
        Some(port) => format!("http://{host}:{port}"),
        None => format!("http://{host}"),
    };
    Some(S3Target { endpoint, bucket })
}

impl S3Target {
    /// A fresh prefix for one test (`test-<uuid>`).
    pub fn fresh_prefix() -> String {
        format!("test-{}", uuid::Uuid::new_v4().simple())
    }

    /// An S3 client of the bucket, confined to `prefix`.
    pub fn store(&self, prefix: &str) -> Arc<dyn ObjectStore> {
        let s3 = AmazonS3Builder::new()
            .with_endpoint(&self.endpoint)
            .with_bucket_name(&self.bucket)
            .with_region("us-east-1")
            .with_access_key_id(ACCESS_KEY_ID)
            .with_secret_access_key(SECRET_ACCESS_KEY)
            .with_allow_http(true)
            .build()
            .expect("S3 client of TMCP_TEST_S3_URL");
        Arc::new(PrefixStore::new(s3, ObjectPath::from(prefix)))
    }

    /// The keys (relative to `prefix`) of the multipart uploads started and neither
    /// completed nor aborted under `prefix`.
    pub async fn unfinished_uploads(&self, prefix: &str) -> Vec<String> {
        let body = self
            .unsigned_get(&format!("/{}?uploads", self.bucket))
            .await;
        let wanted = format!("{prefix}/");
        body.split("<Upload>")
            .skip(1)
            .filter_map(|upload| {
                let start = upload.find("<Key>")? + "<Key>".len();
                let end = upload[start..].find("</Key>")? + start;
                upload[start..end].strip_prefix(&wanted).map(str::to_owned)
            })
            .collect()
    }

    /// The body of a plain HTTP/1.0 GET (no client library: one request, read to the end).
    async fn unsigned_get(&self, target: &str) -> String {
        let authority = self.endpoint.trim_start_matches("http://");
        let mut stream = tokio::net::TcpStream::connect(authority)
            .await
            .expect("connect to the S3 test server");
        let request = format!("GET {target} HTTP/1.0\r\nHost: {authority}\r\n\r\n");
        stream
            .write_all(request.as_bytes())
            .await
            .expect("request sent");
        let mut reply = Vec::new();
        stream.read_to_end(&mut reply).await.expect("reply read");
        let reply = String::from_utf8_lossy(&reply).into_owned();
        let (head, body) = reply.split_once("\r\n\r\n").unwrap_or((&reply, ""));
        assert!(
            head.starts_with("HTTP/1.0 200") || head.starts_with("HTTP/1.1 200"),
            "GET {target} on the S3 test server: {head}"
        );
        body.to_owned()
    }
}
