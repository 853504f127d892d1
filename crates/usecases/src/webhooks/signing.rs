//! The delivery body and its two header sets. The body is `{event, event_id, timestamp,
//! data}`; the protocol header signs the raw body with the whole secret string, the Standard
//! Webhooks header signs `{id}.{timestamp}.{body}` with the secret's decoded bytes, so stock
//! Standard Webhooks libraries verify deliveries unchanged. With several secrets (during a
//! rotation) each header carries one signature per secret, separated by spaces.

use super::secret::WebhookSecret;
use aws_lc_rs::hmac;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use uuid::Uuid;

/// What one event looks like to its receiver.
#[derive(Debug, Clone)]
pub struct EventToSign<'a> {
    pub id: Uuid,
    pub event: &'a str,
    /// When the event happened (the outbox row's creation).
    pub occurred_at: OffsetDateTime,
    pub data: &'a serde_json::Value,
}

/// A signed delivery, ready to send.
#[derive(Debug, Clone)]
pub struct Signed {
    pub body: Vec<u8>,
    pub headers: Vec<(String, String)>,
}

/// Builds the body. The stored payload repeats the event name; `data` leaves it out.
pub fn body(event: &EventToSign<'_>) -> Vec<u8> {
    let mut data = event.data.clone();
    if let Some(object) = data.as_object_mut() {
        object.remove("event");
    }
    let timestamp = event.occurred_at.format(&Rfc3339).unwrap_or_default();
    serde_json::json!({
        "event": event.event,
        "event_id": event.id.to_string(),
        "timestamp": timestamp,
        "data": data,
    })
    .to_string()
    .into_bytes()
}

fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    let key = hmac::Key::new(hmac::HMAC_SHA256, key);
    let mut context = hmac::Context::with_key(&key);
    for part in parts {
        context.update(part);
    }
    context.sign().as_ref().to_vec()
}

/// `sha256=<hex>` of the raw body, keyed by the whole secret string.
pub fn protocol_signature(secret: &WebhookSecret, body: &[u8]) -> String {
    format!(
        "sha256={}",
        hex::encode(hmac_sha256(secret.expose().as_bytes(), &[body]))
    )
}

/// `v1,<base64>` of `{id}.{timestamp}.{body}`, keyed by the secret's decoded bytes.
pub fn standard_signature(secret: &WebhookSecret, id: &str, timestamp: i64, body: &[u8]) -> String {
    let signed_prefix = format!("{id}.{timestamp}.");
    let mac = hmac_sha256(&secret.key_bytes(), &[signed_prefix.as_bytes(), body]);
    format!("v1,{}", STANDARD.encode(mac))
}

/// Signs `event` at `sent_at` with every secret in `secrets` (current first).
pub fn sign(event: &EventToSign<'_>, secrets: &[WebhookSecret], sent_at: OffsetDateTime) -> Signed {
    let body = body(event);
    let id = event.id.to_string();
    let timestamp = sent_at.unix_timestamp();
    let protocol: Vec<String> = secrets
        .iter()
        .map(|s| protocol_signature(s, &body))
        .collect();
    let standard: Vec<String> = secrets
        .iter()
        .map(|s| standard_signature(s, &id, timestamp, &body))
        .collect();
    let headers = vec![
        ("content-type".to_owned(), "application/json".to_owned()),
        ("x-webhook-event-id".to_owned(), id.clone()),
        ("x-webhook-timestamp".to_owned(), timestamp.to_string()),
        ("x-webhook-signature".to_owned(), protocol.join(" ")),
        ("webhook-id".to_owned(), id),
        ("webhook-timestamp".to_owned(), timestamp.to_string()),
        ("webhook-signature".to_owned(), standard.join(" ")),
    ];
    Signed { body, headers }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    /// Expected values computed with Python's `hmac` (the README's receiver example).
    #[test]
    fn signatures_match_a_python_receiver() {
        let secret = WebhookSecret::parse("whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=")
            .expect("valid secret");
        let body = br#"{"a":1}"#;
        assert_eq!(
            standard_signature(&secret, "evt_1", 1_700_000_000, body),
            "v1,hUVxIYXs8Zy9GDiZD1uQbBwXoZGMAB6RVLdZZ3ffmek="
        );
        assert_eq!(
            protocol_signature(&secret, body),
            "sha256=d3f1ea16147b8b8d0304fe2a9559b4b4b84d057af19b132191df3378cbd1234a"
        );
    }

    #[test]
    fn body_has_the_four_fields_and_drops_the_repeated_event_name() {
        let data = serde_json::json!({"event": "scope.revoked", "scopes": ["a"]});
        let event = EventToSign {
            id: Uuid::nil(),
            event: "scope.revoked",
            occurred_at: datetime!(2026-12-05 10:00:00 UTC),
            data: &data,
        };
        let parsed: serde_json::Value = serde_json::from_slice(&body(&event)).expect("JSON body");
        assert_eq!(
            parsed,
            serde_json::json!({
                "event": "scope.revoked",
                "event_id": Uuid::nil().to_string(),
                "timestamp": "2026-12-05T10:00:00Z",
                "data": {"scopes": ["a"]},
            })
        );
    }
}
