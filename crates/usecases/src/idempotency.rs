//! Idempotent requests (every money-moving POST): key rules, the request fingerprint and the
//! decision taken when a key was seen before. The records live in
//! `tmcp_repository::idempotency`; the resource's use case claims the key in the same unit
//! of work as the resource and stores the reply with its final state change.
//!
//! - Same key, same fingerprint, finished → the stored reply again, byte for byte.
//! - Same key, different fingerprint → [`Decision::Mismatch`] (409 `DUPLICATE_TRANSACTION`).
//! - Same key, same fingerprint, still running → [`await_reply`] polls for a while, then
//!   [`Decision::InFlight`] (409 `DUPLICATE_TRANSACTION`, "still processing"). Never a
//!   second resource.

use serde_json::Value;
use sha2::{Digest, Sha256};
use std::time::Duration;
use time::OffsetDateTime;
use tmcp_repository::{
    IdempotencyRecord, IdempotencyRepository, IdempotencyScope, RepoResult, StoredReply,
};

/// The longest key accepted (the column is `VARCHAR(255)`).
pub const MAX_KEY_LEN: usize = 255;

/// How long keys are kept by default (`wallet.idempotency_retention_hours`).
pub const DEFAULT_RETENTION: time::Duration = time::Duration::hours(72);

/// Why a key was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum InvalidKey {
    #[error("idempotency_key must not be empty")]
    Empty,
    #[error("idempotency_key must be at most 255 characters")]
    TooLong,
    #[error("idempotency_key must be visible ASCII characters (no spaces or control characters)")]
    NotVisibleAscii,
}

/// A key is 1..=255 visible ASCII characters (`!` to `~`): it travels in JSON bodies and
/// logs, and a key that differs only in invisible characters would confuse a person.
pub fn validate_key(key: &str) -> Result<(), InvalidKey> {
    if key.is_empty() {
        return Err(InvalidKey::Empty);
    }
    if key.len() > MAX_KEY_LEN {
        return Err(InvalidKey::TooLong);
    }
    if !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(InvalidKey::NotVisibleAscii);
    }
    Ok(())
}

/// The JSON text of `value` with object keys sorted (by their UTF-8 bytes) and no
/// whitespace, so two bodies that differ only in key order or spacing fingerprint alike.
/// Values are kept as sent: `"12.50"` and `"12.5"` are different bodies.
pub fn canonical_json(value: &Value) -> String {
    let mut out = String::new();
    write_canonical(value, &mut out);
    out
}

fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            out.push('{');
            for (i, (key, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                write_canonical(item, out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        // Scalars: serde_json's own compact rendering.
        scalar => out.push_str(&scalar.to_string()),
    }
}

/// SHA-256 of `METHOD`, the path and the canonical body, separated by newlines (neither a
/// method nor a path contains one, so the parts cannot run into each other).
pub fn fingerprint(method: &str, path: &str, body: &Value) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(method.to_ascii_uppercase().as_bytes());
    hasher.update(b"\n");
    hasher.update(path.as_bytes());
    hasher.update(b"\n");
    hasher.update(canonical_json(body).as_bytes());
    hasher.finalize().into()
}

/// What to do with a request whose key was seen before.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// The first request finished: answer its stored status and body.
    Replay(StoredReply),
    /// The key was used for a different request.
    Mismatch,
    /// The first request is still running.
    InFlight,
}

/// Compares an existing record with the new request's fingerprint.
pub fn decide(existing: &IdempotencyRecord, fingerprint: &[u8; 32]) -> Decision {
    if existing.fingerprint != *fingerprint {
        return Decision::Mismatch;
    }
    match &existing.reply {
        Some(reply) => Decision::Replay(reply.clone()),
        None => Decision::InFlight,
    }
}

/// How long a duplicate waits for the first request by default, and how often it looks.
pub const DEFAULT_WAIT: Duration = Duration::from_secs(5);
pub const POLL_EVERY: Duration = Duration::from_millis(100);

/// Waits (up to `wait`, looking every [`POLL_EVERY`]) for a running request with the same
/// key to finish, and decides again. Polling uses tokio's timer, not the injected clock:
/// it paces real waiting for another task, it decides nothing about time.
pub async fn await_reply(
    repo: &dyn IdempotencyRepository,
    existing: IdempotencyRecord,
    fingerprint: &[u8; 32],
    wait: Duration,
) -> RepoResult<Decision> {
    let mut decision = decide(&existing, fingerprint);
    let deadline = tokio::time::Instant::now() + wait;
    while decision == Decision::InFlight && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(POLL_EVERY).await;
        decision = match repo
            .idempotency_record(&existing.scope, &existing.key)
            .await?
        {
            Some(record) => decide(&record, fingerprint),
            // Purged while we waited (only finished, expired records are): treat as running;
            // the caller answers "still processing" rather than risk a second resource.
            None => Decision::InFlight,
        };
    }
    Ok(decision)
}

/// Why a request whose key was seen before gets no stored reply (409
/// `DUPLICATE_TRANSACTION` either way).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refused {
    /// The first request is still running (after the wait); otherwise the key was used for
    /// a different request.
    pub still_processing: bool,
}

/// The answer to a request whose key was seen before ([`await_reply`], then the decision
/// read out): the first request's stored reply, or why there is none.
pub async fn answer_repeat(
    repo: &dyn IdempotencyRepository,
    existing: IdempotencyRecord,
    fingerprint: &[u8; 32],
    wait: Duration,
) -> RepoResult<Result<StoredReply, Refused>> {
    Ok(
        match await_reply(repo, existing, fingerprint, wait).await? {
            Decision::Replay(reply) => Ok(reply),
            Decision::Mismatch => Err(Refused {
                still_processing: false,
            }),
            Decision::InFlight => Err(Refused {
                still_processing: true,
            }),
        },
    )
}

/// A new record for `key`, running (no reply), kept for `retention`.
pub fn new_record(
    scope: IdempotencyScope,
    key: &str,
    operation: &str,
    fingerprint: [u8; 32],
    resource_id: String,
    now: OffsetDateTime,
    retention: time::Duration,
) -> IdempotencyRecord {
    IdempotencyRecord {
        scope,
        key: key.to_owned(),
        operation: operation.to_owned(),
        fingerprint,
        resource_id,
        reply: None,
        created_at: now,
        expires_at: now + retention,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keys_are_visible_ascii_of_bounded_length() {
        assert_eq!(validate_key("order-42:retry_1"), Ok(()));
        assert_eq!(validate_key(""), Err(InvalidKey::Empty));
        assert_eq!(validate_key(&"k".repeat(255)), Ok(()));
        assert_eq!(validate_key(&"k".repeat(256)), Err(InvalidKey::TooLong));
        assert_eq!(validate_key("a b"), Err(InvalidKey::NotVisibleAscii));
        assert_eq!(validate_key("a\u{0}b"), Err(InvalidKey::NotVisibleAscii));
        assert_eq!(validate_key("clé"), Err(InvalidKey::NotVisibleAscii));
    }

    #[test]
    fn canonical_json_sorts_keys_and_drops_whitespace() {
        let a: Value = serde_json::from_str(r#"{ "b": [1, {"y": 2, "x": "é"}], "a": "12.50" }"#)
            .expect("json");
        assert_eq!(
            canonical_json(&a),
            r#"{"a":"12.50","b":[1,{"x":"é","y":2}]}"#
        );
        let b = json!({"a": "12.50", "b": [1, {"x": "é", "y": 2}]});
        assert_eq!(fingerprint("POST", "/p", &a), fingerprint("post", "/p", &b));
        assert_ne!(fingerprint("POST", "/p", &a), fingerprint("POST", "/q", &a));
        assert_ne!(
            fingerprint("POST", "/p", &json!({"a": "12.5"})),
            fingerprint("POST", "/p", &json!({"a": "12.50"}))
        );
    }

    #[test]
    fn decisions_follow_fingerprint_and_reply() {
        let scope = IdempotencyScope {
            app_id: None,
            user_id: tmcp_domain::UserId(uuid::Uuid::nil()),
        };
        let now = OffsetDateTime::UNIX_EPOCH;
        let mut record = new_record(
            scope,
            "k",
            "top_up",
            [1; 32],
            "r".into(),
            now,
            DEFAULT_RETENTION,
        );
        assert_eq!(decide(&record, &[1; 32]), Decision::InFlight);
        assert_eq!(decide(&record, &[2; 32]), Decision::Mismatch);
        let reply = StoredReply {
            status: 201,
            body: "{}".into(),
        };
        record.reply = Some(reply.clone());
        assert_eq!(decide(&record, &[1; 32]), Decision::Replay(reply));
        assert_eq!(decide(&record, &[2; 32]), Decision::Mismatch);
    }
}
