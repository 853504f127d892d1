//! Every request gets an id (`X-Request-Id`): a well-formed incoming one is kept, otherwise
//! a fresh one. It is available to the whole request through a task-local, so error
//! envelopes and logs carry it without threading it through every call.

use axum::http::HeaderValue;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

pub const HEADER: &str = "x-request-id";

tokio::task_local! {
    static REQUEST_ID: HeaderValue;
}

/// The id of the request being served, or `req_unknown` outside a request.
pub fn current_request_id() -> String {
    REQUEST_ID
        .try_with(|id| id.to_str().map(str::to_owned))
        .ok()
        .and_then(Result::ok)
        .unwrap_or_else(|| "req_unknown".to_owned())
}

/// Runs `work` with `id` as the current request id.
pub async fn scope<F: Future>(id: HeaderValue, work: F) -> F::Output {
    REQUEST_ID.scope(id, work).await
}

/// A fresh id: `req_` + 32 hex digits, a random per-process half and a scrambled counter
/// half. Unique within the process (the scramble is a bijection of the counter) and across
/// processes by the random half; made without a system call, since every request that
/// brings no id needs one. The scramble keeps ids from revealing the request volume or
/// being guessed from a neighbour.
pub fn generate() -> String {
    static PROCESS: OnceLock<u64> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let process = *PROCESS.get_or_init(|| {
        let mut bytes = [0u8; 8];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut bytes);
        u64::from_le_bytes(bytes)
    });
    let serial = scramble(COUNTER.fetch_add(1, Ordering::Relaxed) ^ process);
    format!("req_{process:016x}{serial:016x}")
}

/// A bijection of u64 (the SplitMix64 finalizer: xor-shifts and odd multipliers are each
/// invertible), so distinct counters give distinct ids.
fn scramble(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// The id for a request: the incoming header if acceptable, else a fresh one.
pub fn for_request(incoming: Option<&HeaderValue>) -> HeaderValue {
    if let Some(value) = incoming.filter(|v| acceptable(v.as_bytes())) {
        return value.clone();
    }
    // Hex and ASCII only: always a valid header value.
    HeaderValue::from_str(&generate()).unwrap_or_else(|_| HeaderValue::from_static("req_unknown"))
}

/// Accepts ids of 1–128 characters from `[A-Za-z0-9._:-]`; anything else could inject into
/// logs or headers and is replaced.
fn acceptable(id: &[u8]) -> bool {
    (1..=128).contains(&id.len())
        && id
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || b"._:-".contains(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_tame_ids_are_accepted() {
        assert!(acceptable(b"req_0123abcd"));
        assert!(acceptable(b"trace-id:42.x"));
        assert!(!acceptable(b""));
        assert!(!acceptable(b"a b"));
        assert!(!acceptable(b"x\ny"));
        assert!(!acceptable("a".repeat(129).as_bytes()));
    }

    #[test]
    fn fresh_ids_are_distinct_and_tame() {
        let first = generate();
        let second = generate();
        assert_ne!(first, second);
        assert_eq!(first.len(), "req_".len() + 32);
        assert!(acceptable(first.as_bytes()));
        let serials: std::collections::HashSet<u64> = (0..10_000).map(scramble).collect();
        assert_eq!(
            serials.len(),
            10_000,
            "the scramble never maps two counters to one id"
        );
        let kept = HeaderValue::from_static("client-42");
        assert_eq!(for_request(Some(&kept)), kept);
        let replaced = for_request(Some(&HeaderValue::from_static("bad id")));
        assert!(replaced.to_str().is_ok_and(|v| v.starts_with("req_")));
    }
}
