//! `admin create-client --webhook-url`, `admin rotate-webhook-secret` and
//! `admin redeliver-webhook`: the webhook use cases on the configured database, printing JSON.

use crate::config::Config;
use crate::oauth_admin::{create_client, ClientSpec};
use crate::{admin, database};
use anyhow::{anyhow, Context};
use serde_json::json;
use time::format_description::well_known::Rfc3339;
use tmcp_domain::crypto::FieldCipher;
use tmcp_domain::Clock;
use tmcp_repository::Database;
use tmcp_usecases::webhooks::{self, target::check_url};
use uuid::Uuid;

/// The outbox key of a client's events: its mini-app, or the client id itself.
async fn app_key(db: &dyn Database, client_id: &str) -> anyhow::Result<String> {
    let client = db
        .find_client(client_id)
        .await?
        .ok_or_else(|| anyhow!("no client {client_id}"))?;
    Ok(client.app_id.unwrap_or(client.client_id))
}

/// Registers the client and, with a URL, its webhook endpoint; the answer then carries the
/// webhook secret (`webhook_secret`), shown only this once.
pub async fn create_client_with_webhook(
    db: &dyn Database,
    cipher: &FieldCipher,
    clock: &dyn Clock,
    config: &Config,
    spec: ClientSpec,
    webhook_url: Option<&str>,
) -> anyhow::Result<serde_json::Value> {
    let settings = config.webhooks.settings();
    if let Some(url) = webhook_url {
        // Refuse a bad URL before the client exists.
        check_url(url, settings.allow_private_targets).context("--webhook-url")?;
    }
    let client_id = spec.client_id.clone();
    let mut answer = create_client(db, clock, spec).await?;
    if let Some(url) = webhook_url {
        let app = app_key(db, &client_id).await?;
        let secret = webhooks::register_endpoint(
            db,
            cipher,
            clock,
            &mut rand::rngs::OsRng,
            &settings,
            &app,
            url,
        )
        .await
        .context("cannot store the webhook endpoint")?;
        answer["webhook_url"] = json!(url);
        answer["webhook_secret"] = json!(secret.expose());
        answer["webhook_note"] = json!("store the webhook_secret now: it is not shown again");
    }
    Ok(answer)
}

pub async fn run_create_client(
    config: &Config,
    clock: &dyn Clock,
    spec: ClientSpec,
    webhook_url: Option<&str>,
) -> anyhow::Result<serde_json::Value> {
    let cipher = admin::cipher(config)?;
    let db = database::open(config).await?;
    create_client_with_webhook(db.as_ref(), &cipher, clock, config, spec, webhook_url).await
}

pub async fn rotate_webhook_secret(
    db: &dyn Database,
    cipher: &FieldCipher,
    clock: &dyn Clock,
    config: &Config,
    client_id: &str,
) -> anyhow::Result<serde_json::Value> {
    let app = app_key(db, client_id).await?;
    let (secret, until) = webhooks::rotate_secret(
        db,
        cipher,
        clock,
        &mut rand::rngs::OsRng,
        &config.webhooks.settings(),
        &app,
    )
    .await?;
    Ok(json!({
        "client_id": client_id,
        "webhook_secret": secret.expose(),
        "previous_secret_signs_until": until.format(&Rfc3339).unwrap_or_default(),
        "note": "deliveries carry signatures of both secrets until then; store the new one now",
    }))
}

pub async fn run_rotate_webhook_secret(
    config: &Config,
    clock: &dyn Clock,
    client_id: &str,
) -> anyhow::Result<serde_json::Value> {
    let cipher = admin::cipher(config)?;
    let db = database::open(config).await?;
    rotate_webhook_secret(db.as_ref(), &cipher, clock, config, client_id).await
}

pub async fn run_redeliver(
    config: &Config,
    clock: &dyn Clock,
    event_id: &str,
) -> anyhow::Result<serde_json::Value> {
    let id = Uuid::parse_str(event_id).context("--event-id must be a UUID")?;
    let db = database::open(config).await?;
    webhooks::redeliver(db.as_ref(), clock, id).await?;
    Ok(json!({"event_id": id.to_string(), "status": "pending"}))
}

fn rfc3339(at: time::OffsetDateTime) -> String {
    at.format(&Rfc3339).unwrap_or_default()
}

/// `admin webhook-log`: an event's delivery state and attempts as JSON.
pub async fn delivery_log(db: &dyn Database, event_id: Uuid) -> anyhow::Result<serde_json::Value> {
    let (state, attempts) = webhooks::delivery_log(db, event_id).await?;
    let attempts: Vec<_> = attempts
        .into_iter()
        .map(|a| {
            json!({
                "attempt": a.attempt,
                "status_code": a.status_code,
                "duration_ms": a.duration_ms,
                "error": a.error,
                "attempted_at": rfc3339(a.attempted_at),
            })
        })
        .collect();
    Ok(json!({
        "event_id": state.id.to_string(),
        "app_id": state.app_id,
        "event": state.event,
        "status": state.status.as_str(),
        "attempts": state.attempts,
        "next_attempt_at": state.next_attempt_at.map(rfc3339),
        "delivered_at": state.delivered_at.map(rfc3339),
        "last_error": state.last_error,
        "log": attempts,
    }))
}

pub async fn run_delivery_log(
    config: &Config,
    event_id: &str,
) -> anyhow::Result<serde_json::Value> {
    let id = Uuid::parse_str(event_id).context("--event-id must be a UUID")?;
    let db = database::open(config).await?;
    delivery_log(db.as_ref(), id).await
}
