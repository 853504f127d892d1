//! The default rate limit of the TMCP protocol §0: 300 requests per minute per subject on every API
//! route. The subject is the bearer token (hashed) when there is one, the client address
//! otherwise. Routes with their own, stricter limits (login, storage, token endpoint) apply
//! them in the handler; their headers win over the default ones.

use crate::auth::client::ClientInfo;
use crate::ratelimit::LimitRule;
use crate::AppState;
use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

/// The default of `HttpSettings::api_rate`.
pub const DEFAULT_RULE: LimitRule = LimitRule::per_minute("api_default", 300, 300);

fn is_limited_path(path: &str) -> bool {
    path.starts_with("/api/") || path.starts_with("/wallet/")
}

fn subject(request: &Request, client: &ClientInfo) -> String {
    let bearer = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim());
    match bearer {
        Some(token) if !token.is_empty() => {
            format!(
                "tok:{}",
                &hex::encode(Sha256::digest(token.as_bytes()))[..32]
            )
        }
        _ => format!("ip:{}", client.ip_key()),
    }
}

pub async fn default_limit(
    State(state): State<AppState>,
    client: ClientInfo,
    request: Request,
    next: Next,
) -> Response {
    if !is_limited_path(request.uri().path()) {
        return next.run(request).await;
    }
    let key = subject(&request, &client);
    match state.limiter.check(&state.settings.api_rate, &key).await {
        Ok(decision) => {
            let mut response = next.run(request).await;
            let headers = response.headers_mut();
            if !headers.contains_key("x-ratelimit-limit") {
                decision.apply_headers(headers);
            }
            response
        }
        Err(refused) => refused.into_response(),
    }
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
