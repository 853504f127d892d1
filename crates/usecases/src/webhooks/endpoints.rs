//! Registering a mini-app's webhook endpoint, rotating its secret and redelivering a
//! dead-lettered event: the admin CLI uses these today, the developer API of the store will.

use super::secret::WebhookSecret;
use super::target::{check_url, TargetError};
use super::WebhookSettings;
use rand::RngCore;
use time::{Duration, OffsetDateTime};
use tmcp_domain::crypto::FieldCipher;
use tmcp_domain::Clock;
use tmcp_repository::{Database, DeliveryAttempt, DeliveryState, RepoError, WebhookEndpoint};
use uuid::Uuid;

#[derive(Debug, thiserror::Error)]
pub enum EndpointError {
    #[error(transparent)]
    Target(#[from] TargetError),
    #[error("the app has no webhook endpoint")]
    NoEndpoint,
    #[error("no dead-lettered or refused event has this id")]
    NotRedeliverable,
    #[error("no webhook event has this id")]
    NoSuchEvent,
    #[error(transparent)]
    Repository(#[from] RepoError),
}

/// Saves `url` as the app's endpoint with a new secret, which is returned to be shown once.
/// Replacing an endpoint re-enables it and ends any rotation.
pub async fn register_endpoint(
    db: &dyn Database,
    cipher: &FieldCipher,
    clock: &dyn Clock,
    rng: &mut dyn RngCore,
    settings: &WebhookSettings,
    app_id: &str,
    url: &str,
) -> Result<WebhookSecret, EndpointError> {
    let url = check_url(url, settings.allow_private_targets)?;
    let secret = WebhookSecret::generate(rng);
    let now = clock.now();
    let created_at = db
        .find_webhook_endpoint(app_id)
        .await?
        .map_or(now, |existing| existing.created_at);
    db.upsert_webhook_endpoint(WebhookEndpoint {
        app_id: app_id.to_owned(),
        url: url.to_string(),
        secret_sealed: secret.seal(cipher, app_id),
        previous_secret_sealed: None,
        previous_secret_expires_at: None,
        disabled_at: None,
        created_at,
        updated_at: now,
    })
    .await?;
    Ok(secret)
}

/// Installs a new secret; deliveries are signed with both until the returned instant.
pub async fn rotate_secret(
    db: &dyn Database,
    cipher: &FieldCipher,
    clock: &dyn Clock,
    rng: &mut dyn RngCore,
    settings: &WebhookSettings,
    app_id: &str,
) -> Result<(WebhookSecret, OffsetDateTime), EndpointError> {
    let secret = WebhookSecret::generate(rng);
    let now = clock.now();
    let until = now + Duration::try_from(settings.rotation_overlap).unwrap_or(Duration::DAY);
    if db
        .rotate_webhook_secret(app_id, secret.seal(cipher, app_id), until, now)
        .await?
    {
        Ok((secret, until))
    } else {
        Err(EndpointError::NoEndpoint)
    }
}

/// Puts a dead-lettered (or refused) event back in the queue, due now, with a fresh retry
/// schedule. It keeps its id, so the receiver can recognise a repeat.
pub async fn redeliver(
    db: &dyn Database,
    clock: &dyn Clock,
    event_id: Uuid,
) -> Result<(), EndpointError> {
    if db.requeue_event(event_id, clock.now()).await? {
        Ok(())
    } else {
        Err(EndpointError::NotRedeliverable)
    }
}

/// An event's delivery record: where it stands and every attempt, oldest first (what the
/// app's developer reads to see why a delivery failed; never a response body or a secret).
pub async fn delivery_log(
    db: &dyn Database,
    event_id: Uuid,
) -> Result<(DeliveryState, Vec<DeliveryAttempt>), EndpointError> {
    let state = db
        .delivery_state(event_id)
        .await?
        .ok_or(EndpointError::NoSuchEvent)?;
    let attempts = db.delivery_attempts(event_id).await?;
    Ok((state, attempts))
}
