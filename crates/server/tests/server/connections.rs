//! Connection limits of the real server over loopback TCP: header read timeout (slowloris),
//! idle keep-alive timeout, the connection cap, graceful shutdown of idle connections and
//! the client address handed to handlers.

use crate::raw_http::{closed_within, connect, read_response, stays_silent};
use axum::extract::ConnectInfo;
use axum::routing::get;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tmcp_domain::SystemClock;
use tmcp_http::transport::ConnectionLimits;
use tmcp_server::config::Config;
use tmcp_server::serve;
use tokio::io::AsyncWriteExt;

const HEALTH: &[u8] = b"GET /health HTTP/1.1\r\nHost: test\r\n\r\n";

async fn start(dir: &std::path::Path, tune: impl FnOnce(&mut Config)) -> serve::RunningServer {
    let mut config = Config {
        listen: "127.0.0.1:0".into(),
        data_dir: dir.to_path_buf(),
        ..Config::default()
    };
    tune(&mut config);
    config.validate().expect("valid test configuration");
    serve::start(&config, Arc::new(SystemClock))
        .await
        .expect("server starts")
}

#[tokio::test]
async fn a_half_sent_request_is_closed_after_the_header_timeout() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start(dir.path(), |c| {
        c.http.header_read_timeout_secs = 1;
        c.http.idle_timeout_secs = 30;
    })
    .await;

    // Slowloris: a head that never ends, one byte at a time, must not keep the connection.
    let mut stream = connect(server.addr).await;
    let started = Instant::now();
    stream
        .write_all(b"GET /health HTTP/1.1\r\nHost: test\r\n")
        .await
        .expect("sent");
    let (mut reader, mut writer) = stream.into_split();
    let trickle = tokio::spawn(async move {
        for _ in 0..40 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            if writer.write_all(b"X").await.is_err() {
                break;
            }
        }
    });
    let mut buffer = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(4), async {
        use tokio::io::AsyncReadExt;
        let mut chunk = [0u8; 1024];
        loop {
            match reader.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => buffer.extend_from_slice(&chunk[..n]),
            }
        }
    })
    .await;
    let elapsed = started.elapsed();
    trickle.abort();
    assert!(closed.is_ok(), "a trickling head is still open after 4 s");
    assert!(buffer.is_empty(), "no answer to a head that never ended");
    assert!(
        elapsed >= Duration::from_millis(900) && elapsed < Duration::from_secs(3),
        "closed after {elapsed:?}, expected about 1 s"
    );

    // A connection that never sends anything is closed on the same clock.
    let mut silent = connect(server.addr).await;
    let started = Instant::now();
    assert!(
        closed_within(&mut silent, Duration::from_secs(4))
            .await
            .is_some(),
        "silent connection still open"
    );
    assert!(started.elapsed() >= Duration::from_millis(900));

    // The server is unaffected.
    let mut fresh = connect(server.addr).await;
    fresh.write_all(HEALTH).await.expect("sent");
    assert_eq!(
        read_response(&mut fresh, Duration::from_secs(5))
            .await
            .status,
        200
    );
    server.stop().await.expect("stops");
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_after_the_idle_timeout() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start(dir.path(), |c| {
        c.http.header_read_timeout_secs = 1;
        c.http.idle_timeout_secs = 2;
    })
    .await;
    let mut stream = connect(server.addr).await;
    stream.write_all(HEALTH).await.expect("sent");
    let first = read_response(&mut stream, Duration::from_secs(5)).await;
    assert_eq!(first.status, 200);

    // Quiet for longer than the header timeout but within the idle timeout: kept open.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    stream.write_all(HEALTH).await.expect("sent again");
    let second = read_response(&mut stream, Duration::from_secs(5)).await;
    assert_eq!(second.status, 200, "keep-alive connection reused");

    let idle_from = Instant::now();
    let leftover = closed_within(&mut stream, Duration::from_secs(5))
        .await
        .expect("idle connection closed");
    let idle = idle_from.elapsed();
    assert!(leftover.is_empty());
    assert!(
        idle >= Duration::from_millis(1800) && idle < Duration::from_secs(4),
        "closed after {idle:?} idle, expected about 2 s"
    );
    server.stop().await.expect("stops");
}

#[tokio::test]
async fn connections_beyond_the_cap_wait_in_the_backlog_until_one_closes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start(dir.path(), |c| {
        c.http.max_connections = 2;
        c.http.header_read_timeout_secs = 30;
        c.http.idle_timeout_secs = 30;
    })
    .await;
    let mut first = connect(server.addr).await;
    let mut second = connect(server.addr).await;
    for stream in [&mut first, &mut second] {
        stream.write_all(HEALTH).await.expect("sent");
        assert_eq!(
            read_response(stream, Duration::from_secs(5)).await.status,
            200
        );
    }

    // The third connects (the kernel queues it) but is not served while two are open.
    let mut third = connect(server.addr).await;
    third.write_all(HEALTH).await.expect("sent");
    assert!(
        stays_silent(&mut third, Duration::from_millis(800)).await,
        "a connection beyond the cap was served"
    );

    // The open connections keep being served.
    first.write_all(HEALTH).await.expect("sent");
    assert_eq!(
        read_response(&mut first, Duration::from_secs(5))
            .await
            .status,
        200
    );

    drop(second);
    let answer = read_response(&mut third, Duration::from_secs(5)).await;
    assert_eq!(answer.status, 200, "served once a slot was free");
    server.stop().await.expect("stops");
}

#[tokio::test]
async fn shutdown_closes_idle_keep_alive_connections_at_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start(dir.path(), |_| {}).await;
    let mut stream = connect(server.addr).await;
    stream.write_all(HEALTH).await.expect("sent");
    assert_eq!(
        read_response(&mut stream, Duration::from_secs(5))
            .await
            .status,
        200
    );
    let addr = server.addr;
    tokio::time::timeout(Duration::from_secs(3), server.stop())
        .await
        .expect("stop does not wait for the 60 s idle timeout")
        .expect("clean stop");
    assert!(closed_within(&mut stream, Duration::from_secs(2))
        .await
        .is_some());
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "no longer listening"
    );
}

#[tokio::test]
async fn handlers_still_see_the_client_address() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let app = axum::Router::new().route(
        "/who",
        get(|ConnectInfo(peer): ConnectInfo<SocketAddr>| async move { peer.ip().to_string() }),
    );
    let server = serve::spawn_http(listener, app, ConnectionLimits::default()).expect("serving");
    let body = reqwest::get(format!("http://{}/who", server.addr))
        .await
        .expect("answered")
        .text()
        .await
        .expect("body");
    assert_eq!(body, "127.0.0.1");
    server.stop().await.expect("stops");
}
