//! `tmcp-server admin create-client` and `admin rotate-signing-key`: OAuth bootstrap
//! against the configured database, printing JSON on stdout.

use crate::config::Config;
use crate::database;
use anyhow::{bail, Context};
use serde_json::json;
use time::Duration;
use tmcp_domain::oauth::{client_secret_hash, new_secret, validate_redirect_uri, SecretKind};
use tmcp_domain::scope::{rules, ScopeSet};
use tmcp_domain::{AppId, Clock};
use tmcp_http::auth::keys;
use tmcp_http::routes::oauth::grants;
use tmcp_repository::{Database, OAuthClient, RepoError};

/// What `admin create-client` registers.
#[derive(Debug, Clone)]
pub struct ClientSpec {
    pub client_id: String,
    pub name: String,
    pub redirect_uris: Vec<String>,
    /// Space-separated scopes.
    pub scopes: String,
    pub official: bool,
    /// Confidential clients get a secret (printed once) and may use client credentials.
    pub confidential: bool,
}

fn valid_client_id(id: &str) -> bool {
    (3..=100).contains(&id.len())
        && id.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'-' | b'.')
        })
}

/// Registers a client; the JSON answer holds the client secret, which is stored only as a
/// hash and cannot be shown again.
pub async fn create_client(
    db: &dyn Database,
    clock: &dyn Clock,
    spec: ClientSpec,
) -> anyhow::Result<serde_json::Value> {
    if !valid_client_id(&spec.client_id) {
        bail!("--client-id must be 3-100 characters of a-z, 0-9, _ . - (mini-apps: ma_ + [a-z0-9_]{{3,60}})");
    }
    let name = spec.name.trim();
    if name.is_empty() || name.chars().count() > 255 {
        bail!("--name must be 1-255 characters");
    }
    let scopes = ScopeSet::parse(&spec.scopes).map_err(|e| anyhow::anyhow!("--scopes: {e}"))?;
    if scopes.is_empty() {
        bail!("--scopes must name at least one scope");
    }
    if let Some(official_only) = scopes
        .iter()
        .find(|s| rules(s).is_some_and(|r| r.official_only))
        .filter(|_| !spec.official)
    {
        bail!("scope {official_only} is only for official clients (--official)");
    }
    let mut redirect_uris: Vec<String> = Vec::new();
    for uri in &spec.redirect_uris {
        validate_redirect_uri(uri).with_context(|| format!("--redirect-uri {uri}"))?;
        if !redirect_uris.contains(uri) {
            redirect_uris.push(uri.clone());
        }
    }
    let mut grant_types = Vec::new();
    if !redirect_uris.is_empty() {
        grant_types.push(grants::AUTHORIZATION_CODE);
    }
    grant_types.extend([
        grants::REFRESH_TOKEN,
        grants::TOKEN_EXCHANGE,
        grants::DEVICE_CODE,
    ]);
    if spec.confidential {
        grant_types.push(grants::CLIENT_CREDENTIALS);
    }
    let secret = spec
        .confidential
        .then(|| new_secret(SecretKind::ClientSecret));
    let app_id = AppId::parse(&spec.client_id).ok().map(|a| a.to_string());
    let client = OAuthClient {
        client_id: spec.client_id.clone(),
        client_secret_hash: secret.as_ref().map(|s| client_secret_hash(&s.value)),
        app_id: app_id.clone(),
        name: name.to_owned(),
        redirect_uris,
        grant_types: grant_types.iter().map(|g| (*g).to_owned()).collect(),
        scopes: scopes.to_vec(),
        is_official: spec.official,
        is_active: true,
        created_at: clock.now(),
    };
    match db.create_client(client.clone()).await {
        Ok(()) => {}
        Err(RepoError::Conflict { .. }) => bail!("client {} already exists", spec.client_id),
        Err(e) => return Err(e).context("cannot store the client"),
    }
    let mut answer = json!({
        "client_id": client.client_id,
        "name": client.name,
        "app_id": app_id,
        "redirect_uris": client.redirect_uris,
        "scopes": client.scopes,
        "grant_types": client.grant_types,
        "is_official": client.is_official,
        "confidential": spec.confidential,
        "token_endpoint_auth_method": if spec.confidential { "client_secret_basic" } else { "none" },
    });
    if let Some(secret) = secret {
        answer["client_secret"] = json!(secret.value);
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
