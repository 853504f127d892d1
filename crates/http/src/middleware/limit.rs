//! The default rate limit of the TMCP protocol §0: 300 requests per minute per subject on every API
//! route. The subject is the bearer token (hashed) when there is one, the client address
//! otherwise. Routes with their own, stricter limits (login, storage, token endpoint) apply
//! them in the handler; their headers win over the default ones.

use crate::auth::client::{client_ip, ip_key};
use crate::ratelimit::{LimitRule, RateDecision};
use crate::AppState;
use axum::extract::Request;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

/// The default of `HttpSettings::api_rate`.
pub const DEFAULT_RULE: LimitRule = LimitRule::per_minute("api_default", 300, 300);

fn is_limited_path(path: &str) -> bool {
    path.starts_with("/api/") || path.starts_with("/wallet/")
}

fn subject(state: &AppState, request: &Request) -> String {
    let bearer = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim());
    match bearer {
        Some(token) if !token.is_empty() => {
            let digest = Sha256::digest(token.as_bytes());
            format!("tok:{}", hex::encode(&digest[..16]))
        }
        _ => {
            let ip = client_ip(
                request.headers(),
                request.extensions(),
                state.settings.auth.trust_forwarded_for,
            );
            format!("ip:{}", ip_key(ip))
        }
    }
}

/// The caller's default bucket, or `None` for routes outside the limit. Computed before any
/// await: a borrowed request (its body is not `Sync`) cannot be held across one.
pub fn bucket(state: &AppState, request: &Request) -> Option<String> {
    is_limited_path(request.uri().path()).then(|| subject(state, request))
}

/// Takes one request from `bucket`: the decision for the rate-limit headers, or the 429 answer.
pub async fn check(state: &AppState, bucket: &str) -> Result<RateDecision, Response> {
    state
        .limiter
        .check(&state.settings.api_rate, bucket)
        .await
        .map_err(IntoResponse::into_response)
}

#[cfg(test)]
mod tests {
    use super::is_limited_path;

    #[test]
    fn only_api_routes_are_limited_by_default() {
        assert!(is_limited_path("/api/v1/storage/x"));
        assert!(is_limited_path("/wallet/v1/balance"));
        assert!(!is_limited_path("/health"));
        assert!(!is_limited_path("/metrics"));
    }
}
