//! A raw HTTP/1.1 client over TCP, for tests that need to send what ordinary clients will
//! not (half heads, oversize heads, idle keep-alive) and to see exactly when the server
//! closes a connection.

#![allow(dead_code)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub struct Response {
    pub status: u16,
    /// Header names in lower case.
    pub headers: HashMap<String, String>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("JSON body")
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }
}

pub async fn connect(addr: SocketAddr) -> TcpStream {
    TcpStream::connect(addr).await.expect("connected")
}

/// `GET path` with the given extra header lines (each ending in `\r\n`).
pub fn get(path: &str, extra_headers: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: test\r\n{extra_headers}\r\n").into_bytes()
}

/// Reads one response (with a `content-length` body) within `within`.
pub async fn read_response(stream: &mut TcpStream, within: Duration) -> Response {
    tokio::time::timeout(within, read_response_inner(stream))
        .await
        .expect("a response in time")
}

async fn read_response_inner(stream: &mut TcpStream) -> Response {
    let mut buffer = Vec::new();
    let head_end = loop {
        if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break end;
        }
        let mut chunk = [0u8; 8192];
        let n = stream.read(&mut chunk).await.expect("read");
        assert!(n > 0, "connection closed before a complete response head");
        buffer.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .expect("status code");
    let headers: HashMap<String, String> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
        .collect();
    let length: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .expect("content-length");
    let mut body = buffer[head_end + 4..].to_vec();
    while body.len() < length {
        let mut chunk = [0u8; 8192];
        let n = stream.read(&mut chunk).await.expect("read body");
        assert!(n > 0, "connection closed inside the body");
        body.extend_from_slice(&chunk[..n]);
    }
    Response {
        status,
        headers,
        body,
    }
}

/// Sends `request` on a new connection and reads the answer.
pub async fn exchange(addr: SocketAddr, request: &[u8]) -> Response {
    let mut stream = connect(addr).await;
    stream.write_all(request).await.expect("request sent");
    read_response(&mut stream, Duration::from_secs(10)).await
}

/// Waits until the server closes the connection (EOF or reset), returning the bytes it
/// sent before; `None` if it is still open after `within`.
pub async fn closed_within(stream: &mut TcpStream, within: Duration) -> Option<Vec<u8>> {
    let mut received = Vec::new();
    let wait = async {
        let mut chunk = [0u8; 8192];
        loop {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => received.extend_from_slice(&chunk[..n]),
            }
        }
    };
    tokio::time::timeout(within, wait).await.ok()?;
    Some(received)
}

/// True if nothing arrives and the connection stays open for `during`.
pub async fn stays_silent(stream: &mut TcpStream, during: Duration) -> bool {
    let mut chunk = [0u8; 1];
    tokio::time::timeout(during, stream.read(&mut chunk))
        .await
        .is_err()
}
