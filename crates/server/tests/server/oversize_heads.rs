//! Oversize and malformed request heads answer the error envelope with an `X-Request-Id`,
//! whether the server's own limits refuse them or hyper's parser does.

use crate::raw_http::{exchange, get, Response};
use std::net::SocketAddr;
use std::sync::Arc;
use tmcp_domain::SystemClock;
use tmcp_server::config::Config;
use tmcp_server::serve;

fn assert_envelope(response: &Response, status: u16, code: &str) -> String {
    assert_eq!(response.status, status, "{:?}", response.headers);
    assert!(
        response
            .header("content-type")
            .is_some_and(|v| v.starts_with("application/json")),
        "{:?}",
        response.headers
    );
    let id = response
        .header("x-request-id")
        .expect("X-Request-Id header")
        .to_owned();
    let body = response.json();
    assert_eq!(body["error"]["code"], code, "{body}");
    assert_eq!(body["error"]["request_id"], id.as_str(), "{body}");
    assert!(body["error"]["timestamp"].is_string(), "{body}");
    id
}

async fn health(addr: SocketAddr) {
    let ok = exchange(addr, &get("/health", "")).await;
    assert_eq!(ok.status, 200, "server still answers");
}

#[tokio::test]
async fn oversize_and_malformed_heads_answer_the_envelope() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = Config {
        listen: "127.0.0.1:0".into(),
        data_dir: dir.path().to_path_buf(),
        ..Config::default()
    };
    let server = serve::start(&config, Arc::new(SystemClock))
        .await
        .expect("starts");
    let addr = server.addr;

    // Past hyper's fixed URI cap (64 KiB): hyper refuses, the envelope replaces its answer.
    let path = format!("/{}", "p".repeat(100 * 1024));
    let long_path = exchange(addr, &get(&path, "")).await;
    assert_envelope(&long_path, 414, "URI_TOO_LONG");

    let query = format!("/health?q={}", "q".repeat(1024 * 1024));
    let long_query = exchange(addr, &get(&query, "")).await;
    assert_envelope(&long_query, 414, "URI_TOO_LONG");

    // Over the configured limit (16 KiB) but under hyper's: the middleware answers, and
    // keeps the caller's request id.
    let path = format!("/api/v1/{}", "m".repeat(20 * 1024));
    let over_limit = exchange(addr, &get(&path, "X-Request-Id: probe-414\r\n")).await;
    let id = assert_envelope(&over_limit, 414, "URI_TOO_LONG");
    assert_eq!(id, "probe-414");
    assert_eq!(
        over_limit.json()["error"]["details"]["limit_bytes"],
        16 * 1024
    );

    let big_header = format!(
        "X-Request-Id: probe-431\r\nX-Large: {}\r\n",
        "h".repeat(100 * 1024)
    );
    let large = exchange(addr, &get("/health", &big_header)).await;
    let id = assert_envelope(&large, 431, "REQUEST_HEADERS_TOO_LARGE");
    assert_eq!(id, "probe-431");

    // More header fields than hyper accepts (100).
    let many: String = (0..150).map(|i| format!("X-Field-{i}: v\r\n")).collect();
    let too_many = exchange(addr, &get("/health", &many)).await;
    assert_envelope(&too_many, 431, "REQUEST_HEADERS_TOO_LARGE");

    let malformed = exchange(addr, b"GET /health HTTP/1.1\r\nBad Header\r\n\r\n").await;
    assert_envelope(&malformed, 400, "INVALID_REQUEST");

    // A 1 MiB header is still read whole and answered by the middleware.
    let huge_header = format!("X-Huge: {}\r\n", "h".repeat(1024 * 1024));
    let huge = exchange(addr, &get("/health", &huge_header)).await;
    assert_envelope(&huge, 431, "REQUEST_HEADERS_TOO_LARGE");

    health(addr).await;
    server.stop().await.expect("stops");
}

#[tokio::test]
async fn head_limits_are_configurable() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = Config {
        listen: "127.0.0.1:0".into(),
        data_dir: dir.path().to_path_buf(),
        ..Config::default()
    };
    config.http.max_uri_bytes = 1024;
    config.http.max_header_bytes = 2048;
    let server = serve::start(&config, Arc::new(SystemClock))
        .await
        .expect("starts");
    let path = format!("/health?q={}", "q".repeat(1100));
    let long = exchange(server.addr, &get(&path, "")).await;
    assert_envelope(&long, 414, "URI_TOO_LONG");
    let header = format!("X-Large: {}\r\n", "h".repeat(2100));
    let large = exchange(server.addr, &get("/health", &header)).await;
    assert_envelope(&large, 431, "REQUEST_HEADERS_TOO_LARGE");
    let fits = format!("/health?q={}", "q".repeat(900));
    assert_eq!(exchange(server.addr, &get(&fits, "")).await.status, 200);
    server.stop().await.expect("stops");
}
