//! The edge of every request, in one layer (one future and one state clone per request
//! instead of one per concern), in this order:
//!
//! 1. the request id (`request_id`): kept or made, visible to everything inside;
//! 2. a span carrying it, and one structured log line when the answer is ready;
//! 3. the request line and header size limits (`head_limits`, 414 / 431);
//! 4. the default rate limit (`limit`), after the size limits so an oversize request costs
//!    no budget; its headers unless the route set its own stricter ones;
//! 5. the route;
//! 6. bare error answers rewritten as the envelope (`envelope`);
//! 7. the request metrics (`metrics`) with the final status, and the id on the answer.

use super::{envelope, head_limits, limit, request_id};
use crate::AppState;
use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use std::time::Instant;
use tracing::Instrument;

pub async fn edge(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let id = request_id::for_request(request.headers().get(request_id::HEADER));
    request.headers_mut().insert(request_id::HEADER, id.clone());
    let route = request.extensions().get::<MatchedPath>().cloned();
    let route = route.as_ref().map_or("unmatched", MatchedPath::as_str);
    let method = request.method().clone();
    let started = Instant::now();
    // Field values are only formatted when the span is enabled (log level info or lower).
    let span = tracing::info_span!(
        "http.request",
        request_id = id.to_str().unwrap_or("req_unknown"),
        %method,
        route
    );
    let served = async {
        let response =
            if let Some(refused) = head_limits::refusal(&state.settings.head_limits, &request) {
                refused
            } else {
                match limit::bucket(&state, &request) {
                    None => next.run(request).await,
                    Some(bucket) => match limit::check(&state, &bucket).await {
                        Err(refused) => refused,
                        Ok(decision) => {
                            let mut response = next.run(request).await;
                            let headers = response.headers_mut();
                            if !headers.contains_key("x-ratelimit-limit") {
                                decision.apply_headers(headers);
                            }
                            response
                        }
                    },
                }
            };
        let response = envelope::wrap_bare_error(response);
        let status = response.status().as_u16();
        let elapsed = started.elapsed();
        let elapsed_ms = elapsed.as_secs_f64() * 1000.0;
        if status >= 500 {
            tracing::warn!(status, elapsed_ms, "request finished");
        } else {
            tracing::info!(status, elapsed_ms, "request finished");
        }
        state
            .metrics
            .requests
            .record(route, &method, status, elapsed);
        response
    };
    let mut response = request_id::scope(id.clone(), served.instrument(span)).await;
    response.headers_mut().insert(request_id::HEADER, id);
    response
}
