//! Every request gets an id (`X-Request-Id`): a well-formed incoming one is kept, otherwise
//! `req_` + a random UUID. It is available to the whole request through a task-local, so
//! error envelopes and logs carry it without threading it through every call.

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;

pub const HEADER: &str = "x-request-id";

tokio::task_local! {
    static REQUEST_ID: String;
}

/// The id of the request being served, or `req_unknown` outside a request.
pub fn current_request_id() -> String {
    REQUEST_ID
        .try_with(Clone::clone)
        .unwrap_or_else(|_| "req_unknown".to_owned())
}

/// A fresh id for a request that brought no acceptable one.
pub fn generate() -> String {
    format!("req_{}", uuid::Uuid::new_v4().simple())
}

/// Accepts ids of 1–128 characters from `[A-Za-z0-9._:-]`; anything else could inject into
/// logs or headers and is replaced.
fn acceptable(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._:-".contains(&b))
}

pub async fn assign(mut request: Request, next: Next) -> Response {
    let incoming = request.headers().get(HEADER).and_then(|v| v.to_str().ok());
    let id = match incoming {
        Some(id) if acceptable(id) => id.to_owned(),
        _ => generate(),
    };
    if let Ok(value) = HeaderValue::from_str(&id) {
        request.headers_mut().insert(HEADER, value);
    }
    let mut response = REQUEST_ID.scope(id.clone(), next.run(request)).await;
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(HEADER, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::acceptable;

    #[test]
    fn only_tame_ids_are_accepted() {
        assert!(acceptable("req_0123abcd"));
        assert!(acceptable("trace-id:42.x"));
        assert!(!acceptable(""));
        assert!(!acceptable("a b"));
        assert!(!acceptable("x\ny"));
        assert!(!acceptable(&"a".repeat(129)));
    }
}
