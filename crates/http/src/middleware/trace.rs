//! One structured log line per request, inside a span that carries the request id.

use super::request_id::current_request_id;
use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use std::time::Instant;
use tracing::Instrument;

pub async fn log_request(request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let span =
        tracing::info_span!("http.request", request_id = %current_request_id(), %method, %route);
    let started = Instant::now();
    async move {
        let response = next.run(request).await;
        let status = response.status().as_u16();
        let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
        if status >= 500 {
            tracing::warn!(status, elapsed_ms, "request finished");
        } else {
            tracing::info!(status, elapsed_ms, "request finished");
        }
        response
    }
    .instrument(span)
    .await
}
