//! One batch of webhook deliveries: claim due events under a lease, sign and send each, and
//! record the outcome. 2xx is delivered; 429, 5xx, other unexpected answers, network errors
//! and timeouts are retried on the [schedule](super::schedule); 400 and 401 stop (the
//! receiver refuses this event; recorded for the developer); 410 stops and disables the
//! endpoint; an event with no usable endpoint or a refused target is dead-lettered (it can
//! be redelivered once that is fixed). A worker that dies between sending and recording
//! leaves its lease to expire, and the event is sent again with the same id.

use super::schedule::{next_attempt, parse_retry_after, RetryInput};
use super::secret::WebhookSecret;
use super::signing::{sign, EventToSign};
use super::target::check_url;
use super::WebhookSettings;
use async_trait::async_trait;
use futures::stream::{self, StreamExt};
use rand::rngs::StdRng;
use rand::{RngCore, SeedableRng};
use std::collections::HashMap;
use std::sync::Mutex;
use time::{Duration, OffsetDateTime};
use tmcp_domain::crypto::FieldCipher;
use tmcp_domain::ids::uuid_v7_at;
use tmcp_domain::Clock;
use tmcp_repository::{
    ClaimRequest, ClaimedEvent, Database, DeliveryAttempt, DeliveryOutcome, DeliveryStatus,
    RepoResult, WebhookEndpoint,
};

/// A signed request for the sender.
#[derive(Debug, Clone)]
pub struct OutgoingRequest {
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// What became of one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendResult {
    Answered {
        status: u16,
        retry_after: Option<String>,
    },
    /// The target resolved to an address the policy refuses; nothing was sent.
    Refused(String),
    /// No answer: connection failure, TLS failure, timeout.
    Failed(String),
}

/// The port that sends a request (HTTP in production; the implementation follows no
/// redirects, enforces the address policy on the address it connects to, and times out).
#[async_trait]
pub trait WebhookSender: Send + Sync {
    async fn send(&self, request: OutgoingRequest) -> SendResult;
}

/// What one batch did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct DeliveryReport {
    pub claimed: u64,
    pub delivered: u64,
    pub retried: u64,
    pub stopped: u64,
    /// Outcomes not recorded because the lease had been lost.
    pub lost: u64,
}

/// Everything a batch needs.
pub struct DeliveryPorts<'a> {
    pub db: &'a dyn Database,
    pub cipher: &'a FieldCipher,
    pub clock: &'a dyn Clock,
    pub sender: &'a dyn WebhookSender,
    pub settings: &'a WebhookSettings,
    /// Jitter for the long retries.
    pub rng: &'a Mutex<StdRng>,
}

enum Verdict {
    Delivered,
    Retry(Option<Duration>),
    Stop(DeliveryStatus),
    Gone,
}

/// Claims and delivers one batch of due events.
pub async fn deliver_due(ports: &DeliveryPorts<'_>) -> RepoResult<DeliveryReport> {
    let now = ports.clock.now();
    let lease = Duration::try_from(ports.settings.lease).unwrap_or(Duration::MINUTE);
    let claimed = ports
        .db
        .claim_due_events(ClaimRequest {
            now,
            lease_until: now + lease,
            lease_owner: uuid_v7_at(now),
            limit: ports.settings.batch_size,
        })
        .await?;
    let mut report = DeliveryReport {
        claimed: claimed.len() as u64,
        ..DeliveryReport::default()
    };
    let mut endpoints: HashMap<String, Option<WebhookEndpoint>> = HashMap::new();
    for event in &claimed {
        if !endpoints.contains_key(&event.app_id) {
            let found = ports.db.find_webhook_endpoint(&event.app_id).await?;
            endpoints.insert(event.app_id.clone(), found);
        }
    }
    let work: Vec<(ClaimedEvent, Option<WebhookEndpoint>)> = claimed
        .into_iter()
        .map(|event| {
            let endpoint = endpoints.get(&event.app_id).cloned().flatten();
            (event, endpoint)
        })
        .collect();
    let results: Vec<RepoResult<Option<Verdict>>> = stream::iter(work)
        .map(|(event, endpoint)| async move { deliver_one(ports, &event, endpoint.as_ref()).await })
        .buffer_unordered(ports.settings.concurrency.max(1))
        .collect()
        .await;
    for result in results {
        match result? {
            Some(Verdict::Delivered) => report.delivered += 1,
            Some(Verdict::Retry(_)) => report.retried += 1,
            Some(Verdict::Stop(_) | Verdict::Gone) => report.stopped += 1,
            None => report.lost += 1,
        }
    }
    Ok(report)
}

/// Sends one event and records the attempt; `None` when the lease was lost meanwhile.
async fn deliver_one(
    ports: &DeliveryPorts<'_>,
    event: &ClaimedEvent,
    endpoint: Option<&WebhookEndpoint>,
) -> RepoResult<Option<Verdict>> {
    let started = std::time::Instant::now();
    let sent_at = ports.clock.now();
    let (verdict, status_code, error) = match prepare(ports, event, endpoint, sent_at) {
        Err(reason) => (Verdict::Stop(DeliveryStatus::Dead), None, Some(reason)),
        Ok(request) => classify(ports.sender.send(request).await, sent_at),
    };
    let finished_at = ports.clock.now();
    let outcome = match &verdict {
        Verdict::Delivered => DeliveryOutcome::Delivered { at: finished_at },
        Verdict::Retry(retry_after) => {
            let next = {
                let mut rng = ports.rng.lock().unwrap_or_else(|p| p.into_inner());
                next_attempt(
                    RetryInput {
                        attempt: event.attempt,
                        created_at: event.created_at,
                        now: finished_at,
                        retry_after: *retry_after,
                        long_retries: ports.settings.long_retries,
                        max_age: Duration::try_from(ports.settings.max_age)
                            .unwrap_or(Duration::hours(72)),
                    },
                    &mut *rng as &mut dyn RngCore,
                )
            };
            match next {
                Some(next_attempt_at) => DeliveryOutcome::Retry { next_attempt_at },
                None => DeliveryOutcome::Stop {
                    status: DeliveryStatus::Dead,
                },
            }
        }
        Verdict::Stop(status) => DeliveryOutcome::Stop { status: *status },
        Verdict::Gone => DeliveryOutcome::Stop {
            status: DeliveryStatus::Failed,
        },
    };
    if matches!(verdict, Verdict::Gone) {
        ports
            .db
            .disable_webhook_endpoint(&event.app_id, finished_at)
            .await?;
    }
    let attempt = DeliveryAttempt {
        id: uuid_v7_at(finished_at),
        event_id: event.id,
        app_id: event.app_id.clone(),
        attempt: event.attempt,
        status_code,
        duration_ms: i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX),
        error,
        attempted_at: sent_at,
    };
    let recorded = ports
        .db
        .record_delivery(event.lease_owner, attempt, outcome)
        .await?;
    if !recorded {
        tracing::warn!(event_id = %event.id, "webhook lease lost before the outcome was recorded");
        return Ok(None);
    }
    Ok(Some(verdict))
}

/// The signed request, or why the event cannot be sent.
fn prepare(
    ports: &DeliveryPorts<'_>,
    event: &ClaimedEvent,
    endpoint: Option<&WebhookEndpoint>,
    sent_at: OffsetDateTime,
) -> Result<OutgoingRequest, String> {
    let endpoint = endpoint.ok_or("the app has no webhook endpoint")?;
    if endpoint.disabled_at.is_some() {
        return Err("the webhook endpoint is disabled (it answered 410 Gone)".into());
    }
    check_url(&endpoint.url, ports.settings.allow_private_targets).map_err(|e| e.to_string())?;
    let mut secrets =
        vec![
            WebhookSecret::open(ports.cipher, &endpoint.app_id, &endpoint.secret_sealed)
                .ok_or("the webhook secret cannot be read")?,
        ];
    if let (Some(previous), Some(until)) = (
        &endpoint.previous_secret_sealed,
        endpoint.previous_secret_expires_at,
    ) {
        if until > sent_at {
            if let Some(old) = WebhookSecret::open(ports.cipher, &endpoint.app_id, previous) {
                secrets.push(old);
            }
        }
    }
    let signed = sign(
        &EventToSign {
            id: event.id,
            event: &event.event,
            occurred_at: event.created_at,
            data: &event.payload,
        },
        &secrets,
        sent_at,
    );
    Ok(OutgoingRequest {
        url: endpoint.url.clone(),
        headers: signed.headers,
        body: signed.body,
    })
}

fn classify(result: SendResult, now: OffsetDateTime) -> (Verdict, Option<i32>, Option<String>) {
    match result {
        SendResult::Answered {
            status,
            retry_after,
        } => {
            let code = Some(i32::from(status));
            let error = Some(format!("HTTP {status}"));
            match status {
                200..=299 => (Verdict::Delivered, code, None),
                400 | 401 => (Verdict::Stop(DeliveryStatus::Failed), code, error),
                410 => (Verdict::Gone, code, error),
                _ => {
                    let asked = retry_after
                        .as_deref()
                        .and_then(|value| parse_retry_after(value, now));
                    (Verdict::Retry(asked), code, error)
                }
            }
        }
        SendResult::Refused(reason) => (Verdict::Stop(DeliveryStatus::Dead), None, Some(reason)),
        SendResult::Failed(reason) => (Verdict::Retry(None), None, Some(reason)),
    }
}

/// A random generator for the retry jitter, seeded from `seed` (the caller's injected rng).
pub fn jitter_rng(seed: &mut dyn RngCore) -> Mutex<StdRng> {
    let mut bytes = [0u8; 32];
    seed.fill_bytes(&mut bytes);
    Mutex::new(StdRng::from_seed(bytes))
}
