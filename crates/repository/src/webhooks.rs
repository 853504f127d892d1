//! Webhook endpoints (one per mini-app) and the delivery state of `webhook_outbox`: due
//! events are claimed under a lease so that only one worker sends an event at a time, and
//! every attempt is logged. A worker that dies mid-delivery leaves its lease to expire; the
//! event is then claimed again with the same id (at-least-once delivery).

use crate::{OutboxEvent, RepoResult};
use async_trait::async_trait;
use time::OffsetDateTime;
use uuid::Uuid;

/// A mini-app's webhook target. Secrets are sealed with the column cipher by the caller.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookEndpoint {
    /// The outbox's `app_id`: the client's mini-app, or the client id itself.
    pub app_id: String,
    pub url: String,
    pub secret_sealed: Vec<u8>,
    /// The secret being rotated out, still signing until `previous_secret_expires_at`.
    pub previous_secret_sealed: Option<Vec<u8>>,
    pub previous_secret_expires_at: Option<OffsetDateTime>,
    /// Set when the receiver answered 410 Gone.
    pub disabled_at: Option<OffsetDateTime>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

/// Where an outbox event stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryStatus {
    Pending,
    Delivered,
    /// The receiver refused it (400, 401, 410); not retried.
    Failed,
    /// Retries exhausted, or nowhere to send it; can be redelivered.
    Dead,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Delivered => "delivered",
            Self::Failed => "failed",
            Self::Dead => "dead",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "pending" => Self::Pending,
            "delivered" => Self::Delivered,
            "failed" => Self::Failed,
            "dead" => Self::Dead,
            _ => return None,
        })
    }
}

/// A due event a worker now holds until `lease_until`.
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimedEvent {
    pub id: Uuid,
    pub app_id: String,
    pub event: String,
    pub payload: serde_json::Value,
    pub created_at: OffsetDateTime,
    /// This attempt's number (1 for the first), counted at claim time so that an attempt
    /// cut short by a crash still counts.
    pub attempt: i32,
    /// The claim's token: outcomes are recorded only while it still holds the lease.
    pub lease_owner: Uuid,
}

/// What to claim.
#[derive(Debug, Clone, Copy)]
pub struct ClaimRequest {
    pub now: OffsetDateTime,
    pub lease_until: OffsetDateTime,
    pub lease_owner: Uuid,
    pub limit: i64,
}

/// One logged attempt.
#[derive(Debug, Clone, PartialEq)]
pub struct DeliveryAttempt {
    pub id: Uuid,
    pub event_id: Uuid,
    pub app_id: String,
    pub attempt: i32,
    pub status_code: Option<i32>,
    pub duration_ms: i64,
    /// Why it did not succeed (never the response body, never a secret).
    pub error: Option<String>,
    pub attempted_at: OffsetDateTime,
}

/// How an attempt ends for its event.
#[derive(Debug, Clone, PartialEq)]
pub enum DeliveryOutcome {
    Delivered {
        at: OffsetDateTime,
    },
    Retry {
        next_attempt_at: OffsetDateTime,
    },
    /// `status` is `Failed` or `Dead`.
    Stop {
        status: DeliveryStatus,
    },
}

/// An event's delivery state, for the developer and for tests.
#[derive(Debug, Clone, PartialEq)]
pub struct DeliveryState {
    pub id: Uuid,
    pub app_id: String,
    pub event: String,
    pub status: DeliveryStatus,
    pub attempts: i32,
    pub next_attempt_at: Option<OffsetDateTime>,
    pub delivered_at: Option<OffsetDateTime>,
    pub last_error: Option<String>,
}

#[async_trait]
pub trait WebhookRepository: Send + Sync {
    /// Creates or replaces the app's endpoint (a new URL re-enables it).
    async fn upsert_webhook_endpoint(&self, endpoint: WebhookEndpoint) -> RepoResult<()>;
    async fn find_webhook_endpoint(&self, app_id: &str) -> RepoResult<Option<WebhookEndpoint>>;
    /// Installs a new secret; the current one becomes the previous one until `overlap_until`.
    /// False when the app has no endpoint.
    async fn rotate_webhook_secret(
        &self,
        app_id: &str,
        new_secret_sealed: Vec<u8>,
        overlap_until: OffsetDateTime,
        at: OffsetDateTime,
    ) -> RepoResult<bool>;
    /// Marks the endpoint disabled (410 Gone).
    async fn disable_webhook_endpoint(&self, app_id: &str, at: OffsetDateTime) -> RepoResult<()>;

    /// Queues an event outside any other change (events that describe a change are written
    /// in that change's transaction instead, as the grant withdrawal does).
    async fn enqueue_event(&self, event: OutboxEvent) -> RepoResult<()>;

    /// Claims up to `limit` pending events that are due and not leased, oldest first. On
    /// PostgreSQL concurrent claimers skip each other's rows (`FOR UPDATE SKIP LOCKED`).
    async fn claim_due_events(&self, claim: ClaimRequest) -> RepoResult<Vec<ClaimedEvent>>;
    /// Logs `attempt` and applies `outcome`, releasing the lease, in one transaction. False
    /// (and nothing written) when `lease_owner` no longer holds the event: its lease expired
    /// and another worker took it over.
    async fn record_delivery(
        &self,
        lease_owner: Uuid,
        attempt: DeliveryAttempt,
        outcome: DeliveryOutcome,
    ) -> RepoResult<bool>;
    /// The due time of the oldest pending event (for the lag metric), if any.
    async fn oldest_due_event(&self, now: OffsetDateTime) -> RepoResult<Option<OffsetDateTime>>;
    async fn delivery_state(&self, event_id: Uuid) -> RepoResult<Option<DeliveryState>>;
    /// The attempts of one event, in order.
    async fn delivery_attempts(&self, event_id: Uuid) -> RepoResult<Vec<DeliveryAttempt>>;
    /// The app's most recent webhook events, newest first.
    async fn app_events(&self, app_id: &str, limit: i64) -> RepoResult<Vec<DeliveryState>>;
    /// Puts a dead or failed event back to pending, due at `at`, with its attempt count
    /// reset. False when the event does not exist, or is pending or delivered.
    async fn requeue_event(&self, event_id: Uuid, at: OffsetDateTime) -> RepoResult<bool>;
    /// Deletes up to `limit` finished events (delivered, failed or dead) created before
    /// `before`, oldest first, with their attempt logs; pending events are never touched.
    /// Returns how many events went.
    async fn purge_webhook_history(&self, before: OffsetDateTime, limit: i64) -> RepoResult<u64>;
}
