//! Webhook delivery (API.md §7): each mini-app has one endpoint and a secret; events from
//! `webhook_outbox` are signed twice (the protocol's `X-Webhook-Signature` and the Standard
//! Webhooks `webhook-signature`), sent through a [`WebhookSender`] port, retried on a fixed
//! schedule and then, optionally, for up to 72 hours, and dead-lettered after that.
//!
//! - [`secret`]: `whsec_` secrets, sealed with the column cipher.
//! - [`signing`]: the body and both header sets.
//! - [`schedule`]: when to try again.
//! - [`target`]: which URLs and addresses may be called (SSRF policy).
//! - [`delivery`]: one batch of due events, outcome by outcome.
//! - [`endpoints`]: registering an endpoint, rotating its secret, redelivering a dead event.

pub mod delivery;
pub mod endpoints;
pub mod schedule;
pub mod secret;
pub mod signing;
pub mod target;

pub use delivery::{deliver_due, DeliveryReport, OutgoingRequest, SendResult, WebhookSender};
pub use endpoints::{delivery_log, redeliver, register_endpoint, rotate_secret, EndpointError};
pub use secret::WebhookSecret;

use std::time::Duration;

/// Delivery settings (`[webhooks]` in the server's configuration).
#[derive(Debug, Clone)]
pub struct WebhookSettings {
    /// Allows private, loopback and link-local targets, and plain `http` (tests and local
    /// development only).
    pub allow_private_targets: bool,
    /// After the fixed retries (1 s … 5 min), keep retrying with jitter up to `max_age`.
    pub long_retries: bool,
    /// How long an event is retried at most before it is dead-lettered.
    pub max_age: Duration,
    /// How long the previous secret keeps signing after a rotation.
    pub rotation_overlap: Duration,
    /// Events claimed per batch.
    pub batch_size: i64,
    /// Deliveries in flight at once within a batch.
    pub concurrency: usize,
    /// How long a claim holds an event; longer than a delivery can take, so that only a
    /// worker that died loses it.
    pub lease: Duration,
}

impl Default for WebhookSettings {
    fn default() -> Self {
        Self {
            allow_private_targets: false,
            long_retries: true,
            max_age: Duration::from_secs(72 * 3600),
            rotation_overlap: Duration::from_secs(24 * 3600),
            batch_size: 50,
            concurrency: 8,
            lease: Duration::from_secs(120),
        }
    }
}
