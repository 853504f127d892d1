//! Accepting and serving HTTP/1.1 connections with bounded resources: a cap on open
//! connections (beyond it, new ones wait in the kernel's listen backlog), a header read
//! timeout, an idle keep-alive timeout, an accept loop that backs off when descriptors run
//! out, and graceful shutdown. hyper does the HTTP; this module decides how long and how
//! many.

mod accept;
mod activity;
mod refused;
mod stream;

pub use accept::{effective_max_connections, fd_soft_limit};

use activity::Activity;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::Router;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;
use stream::TrackedStream;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;
use tower::ServiceExt;

/// The largest request head hyper buffers. Far above the configurable limits of
/// `middleware::head_limits`, so a realistic oversize request is read completely and
/// answered by that middleware (or, past hyper's fixed URI cap, by `refused`). A head
/// larger than this is refused as soon as the buffer is full, while the client may still
/// be sending; it may then see the connection reset instead of the answer.
pub const MAX_HEAD_BUFFER_BYTES: usize = 2 * 1024 * 1024;

/// Connection-level limits (`TMCP_HTTP__*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// Time a client has for a complete request head, counted from its first byte (or
    /// from accepting the connection, for the first request).
    pub header_read_timeout: Duration,
    /// Time a keep-alive connection may sit between requests, and a finished response may
    /// wait for the client to read it.
    pub idle_timeout: Duration,
    /// Open connections at most; further clients wait in the listen backlog. Lowered at
    /// start to fit the open files limit.
    pub max_connections: usize,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            max_connections: 10_000,
        }
    }
}

/// Serves `app` on `listener` until `shutdown` resolves, then stops accepting, lets
/// in-flight requests finish, closes idle connections and returns when all are gone.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()>,
) {
    let cap = effective_max_connections(limits.max_connections, fd_soft_limit());
    if cap < limits.max_connections {
        tracing::warn!(
            configured = limits.max_connections,
            effective = cap,
            "max_connections lowered to fit the open files limit (raise `ulimit -n` to allow more)"
        );
    }
    let permits = Arc::new(Semaphore::new(cap));
    let (stop, stopping) = watch::channel(false);
    let mut shutdown = pin!(shutdown);
    let mut backoff = accept::Backoff::default();
    loop {
        // Taking the permit before accepting keeps surplus clients in the backlog rather
        // than accepting and dropping them.
        let permit = tokio::select! {
            biased;
            () = &mut shutdown => break,
            permit = permits.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
        };
        let accepted = tokio::select! {
            biased;
            () = &mut shutdown => break,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, peer)) => {
                backoff.reset();
                spawn_connection(stream, peer, app.clone(), limits, permit, stopping.clone());
            }
            Err(error) if accept::is_per_connection(&error) => {
                tracing::debug!(%error, "a connection was gone before it was accepted");
            }
            Err(error) => {
                let delay = backoff.next_delay();
                tracing::warn!(
                    %error,
                    retry_in_ms = delay.as_millis(),
                    "cannot accept connections (out of file descriptors?); backing off"
                );
                tokio::select! {
                    () = &mut shutdown => break,
                    () = tokio::time::sleep(delay) => {},
                }
            }
        }
    }
    drop(listener);
    let _ = stop.send(true);
    // Each connection holds a permit until it has ended.
    let all = u32::try_from(cap).unwrap_or(u32::MAX);
    let _ = permits.acquire_many(all).await;
}

fn spawn_connection(
    stream: TcpStream,
    peer: SocketAddr,
    app: Router,
    limits: ConnectionLimits,
    permit: OwnedSemaphorePermit,
    mut stopping: watch::Receiver<bool>,
) {
    tokio::spawn(async move {
        metrics::gauge!(crate::metrics::OPEN_CONNECTIONS).increment(1.0);
        let activity = Activity::new(Instant::now());
        let io = TokioIo::new(TrackedStream::new(stream, peer, activity.clone()));
        let service = hyper::service::service_fn({
            let activity = activity.clone();
            move |request: hyper::Request<Incoming>| {
                let guard = activity.request_started();
                let mut request = request.map(Body::new);
                // What `into_make_service_with_connect_info` provided to handlers.
                request.extensions_mut().insert(ConnectInfo(peer));
                let app = app.clone();
                async move {
                    let Ok(response) = app.oneshot(request).await;
                    // The guard lives as long as the body, which hyper drops once the
                    // response is fully encoded.
                    let response = response.map(|body| {
                        body.map_frame(move |frame| {
                            let _ = &guard;
                            frame
                        })
                    });
                    Ok::<_, Infallible>(response)
                }
            }
        });
        let mut builder = http1::Builder::new();
        builder
            .max_buf_size(MAX_HEAD_BUFFER_BYTES)
            // Timeouts are `Activity`'s; hyper's would also cut idle keep-alive short.
            .header_read_timeout(None)
            .keep_alive(true);
        let mut connection = pin!(builder.serve_connection(io, service));
        let mut draining = false;
        loop {
            let deadline = activity.deadline(&limits);
            if deadline.is_some_and(|deadline| deadline <= Instant::now()) {
                tracing::debug!(%peer, "closing a connection that timed out");
                break;
            }
            let expiry = async {
                match deadline {
                    Some(deadline) => tokio::time::sleep_until(deadline).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                result = connection.as_mut() => {
                    if let Err(error) = result {
                        tracing::debug!(%peer, %error, "connection ended with an error");
                    }
                    break;
                }
                () = expiry => {}
                () = activity.changed() => {}
                _ = stopping.changed(), if !draining => {
                    draining = true;
                    connection.as_mut().graceful_shutdown();
                }
            }
        }
        metrics::gauge!(crate::metrics::OPEN_CONNECTIONS).decrement(1.0);
        drop(permit);
    });
}
