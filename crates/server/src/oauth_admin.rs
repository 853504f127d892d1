//! `tmcp-server admin create-client` and `admin rotate-signing-key`: OAuth bootstrap
//! against the configured database, printing JSON on stdout.

use crate::config::Config;
use crate::database;
use anyhow::{bail, Context};
use serde_json::json;
use time::Duration;
use tmcp_domain::Clock;
use tmcp_http::auth::keys;
use tmcp_repository::Database;
use tmcp_usecases::oauth::{register_client, ClientRegistration, OAuthServiceError};

/// What `admin create-client` registers: the OAuth service's client registration.
pub type ClientSpec = ClientRegistration;

/// Registers a client; the JSON answer holds the client secret, which is stored only as a
/// hash and cannot be shown again.
pub async fn create_client(
    db: &dyn Database,
    clock: &dyn Clock,
    spec: ClientSpec,
) -> anyhow::Result<serde_json::Value> {
    let confidential = spec.confidential;
    let registered = match register_client(db, clock, spec).await {
        Ok(registered) => registered,
        Err(OAuthServiceError::Repository(e)) => return Err(e).context("cannot store the client"),
        Err(other) => bail!(other),
    };
    let client = registered.client;
    let mut answer = json!({
        "client_id": client.client_id,
        "name": client.name,
        "app_id": client.app_id,
        "redirect_uris": client.redirect_uris,
        "scopes": client.scopes,
        "grant_types": client.grant_types,
        "is_official": client.is_official,
        "confidential": confidential,
        "token_endpoint_auth_method": if confidential { "client_secret_basic" } else { "none" },
    });
    if let Some(secret) = registered.client_secret {
        answer["client_secret"] = json!(secret);
        answer["note"] = json!("store the client_secret now: it is kept only as a hash");
    }
    Ok(answer)
}

/// `admin create-client` on the configured database.
pub async fn run_create_client(
    config: &Config,
    clock: &dyn Clock,
    spec: ClientSpec,
) -> anyhow::Result<serde_json::Value> {
    let db = database::open(config).await?;
    create_client(db.as_ref(), clock, spec).await
}

/// Starts a new TEP signing key: active keys stop signing and keep verifying until every
/// token they signed has expired. Servers pick the new key up when they (re)start.
pub async fn rotate_signing_key(
    db: &dyn Database,
    cipher: &tmcp_domain::crypto::FieldCipher,
    clock: &dyn Clock,
    algorithm: &str,
    max_token_lifetime_secs: i64,
) -> anyhow::Result<serde_json::Value> {
    let algorithm_name = algorithm.to_owned();
    let algorithm = keys::parse_algorithm(algorithm)?;
    let now = clock.now();
    let lifetime = Duration::seconds(max_token_lifetime_secs);
    let kid = keys::rotate(db, cipher, algorithm, now, lifetime).await?;
    let until = (now + lifetime)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    Ok(json!({
        "kid": kid,
        "algorithm": algorithm_name,
        "previous_keys_verify_until": until,
        "note": "restart the servers so they sign with the new key",
    }))
}

/// `admin rotate-signing-key` on the configured database.
pub async fn run_rotate_signing_key(
    config: &Config,
    clock: &dyn Clock,
) -> anyhow::Result<serde_json::Value> {
    let cipher = crate::admin::cipher(config)?;
    let db = database::open(config).await?;
    rotate_signing_key(
        db.as_ref(),
        &cipher,
        clock,
        &config.tep_signing_algorithm,
        config.tep_lifetime_secs,
    )
    .await
}
