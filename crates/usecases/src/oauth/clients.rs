//! Registering an OAuth client (`admin create-client` today; the store's developer
//! registration will call the same function, adding its own fields to
//! `ClientRegistration`).

use super::error::OAuthServiceError;
use super::grant_types;
use tmcp_domain::oauth::{client_secret_hash, new_secret, validate_redirect_uri, SecretKind};
use tmcp_domain::scope::{rules, ScopeSet};
use tmcp_domain::{AppId, Clock};
use tmcp_repository::{Database, NewApp, OAuthClient, RepoError};

/// A client to register.
#[derive(Debug, Clone, Default)]
pub struct ClientRegistration {
    pub client_id: String,
    pub name: String,
    pub redirect_uris: Vec<String>,
    /// Space-separated scopes.
    pub scopes: String,
    pub official: bool,
    /// Confidential clients get a secret (returned once) and may use client credentials.
    pub confidential: bool,
    /// The login of the mini-app's developer: with it, the mini-app itself (the `apps` row)
    /// is registered too, owned by that user, so it can take payments into its developer's
    /// wallet. Only for mini-app client ids (`ma_…`).
    pub developer: Option<String>,
}

/// The stored client and, for a confidential one, its secret: kept only as a hash, so this
/// is the one chance to show it.
#[derive(Debug, Clone)]
pub struct RegisteredClient {
    pub client: OAuthClient,
    pub client_secret: Option<String>,
}

fn valid_client_id(id: &str) -> bool {
    (3..=100).contains(&id.len())
        && id.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'-' | b'.')
        })
}

fn invalid(message: impl Into<String>) -> OAuthServiceError {
    OAuthServiceError::InvalidRegistration(message.into())
}

/// The grants a client may use: the authorization code only with a redirect URI, client
/// credentials only for a confidential client; refresh, token exchange and the device flow
/// always.
pub fn client_grant_types(has_redirect_uri: bool, confidential: bool) -> Vec<String> {
    let mut grants = Vec::new();
    if has_redirect_uri {
        grants.push(grant_types::AUTHORIZATION_CODE);
    }
    grants.extend([
        grant_types::REFRESH_TOKEN,
        grant_types::TOKEN_EXCHANGE,
        grant_types::DEVICE_CODE,
    ]);
    if confidential {
        grants.push(grant_types::CLIENT_CREDENTIALS);
    }
    grants.into_iter().map(str::to_owned).collect()
}

/// Checks the registration, derives the grant types (authorization code only with a
/// redirect URI, client credentials only for confidential clients) and stores the client.
pub async fn register_client(
    db: &dyn Database,
    clock: &dyn Clock,
    registration: ClientRegistration,
) -> Result<RegisteredClient, OAuthServiceError> {
    if !valid_client_id(&registration.client_id) {
        return Err(invalid("--client-id must be 3-100 characters of a-z, 0-9, _ . - (mini-apps: ma_ + [a-z0-9_]{3,60})"));
    }
    let name = registration.name.trim();
    if name.is_empty() || name.chars().count() > 255 {
        return Err(invalid("--name must be 1-255 characters"));
    }
    let scopes =
        ScopeSet::parse(&registration.scopes).map_err(|e| invalid(format!("--scopes: {e}")))?;
    if scopes.is_empty() {
        return Err(invalid("--scopes must name at least one scope"));
    }
    if let Some(official_only) = scopes
        .iter()
        .find(|s| rules(s).is_some_and(|r| r.official_only))
        .filter(|_| !registration.official)
    {
        return Err(invalid(format!(
            "scope {official_only} is only for official clients (--official)"
        )));
    }
    let mut redirect_uris: Vec<String> = Vec::new();
    for uri in &registration.redirect_uris {
        validate_redirect_uri(uri).map_err(|e| invalid(format!("--redirect-uri {uri}: {e}")))?;
        if !redirect_uris.contains(uri) {
            redirect_uris.push(uri.clone());
        }
    }
    let grants = client_grant_types(!redirect_uris.is_empty(), registration.confidential);
    let secret = registration
        .confidential
        .then(|| new_secret(SecretKind::ClientSecret));
    let client = OAuthClient {
        client_id: registration.client_id.clone(),
        client_secret_hash: secret.as_ref().map(|s| client_secret_hash(&s.value)),
        app_id: AppId::parse(&registration.client_id)
            .ok()
            .map(|a| a.to_string()),
        name: name.to_owned(),
        redirect_uris,
        grant_types: grants,
        scopes: scopes.to_vec(),
        is_official: registration.official,
        is_active: true,
        created_at: clock.now(),
    };
    if let Some(login) = &registration.developer {
        let app = developer_app(db, &registration, name, login, client.created_at).await?;
        // The app is written first: a refusal of the client afterwards can only be a race
        // with another registration of the same id, which the check below has just excluded.
        match db.create_app(app).await {
            Ok(()) => {}
            Err(RepoError::Conflict { .. }) => {
                return Err(OAuthServiceError::ClientExists(registration.client_id))
            }
            Err(e) => return Err(e.into()),
        }
    }
    match db.create_client(client.clone()).await {
        Ok(()) => {}
        Err(RepoError::Conflict { .. }) => {
            return Err(OAuthServiceError::ClientExists(registration.client_id))
        }
        Err(e) => return Err(e.into()),
    }
    Ok(RegisteredClient {
        client,
        client_secret: secret.map(|s| s.value),
    })
}

/// The `apps` row of a mini-app registered with `--developer`: active at once (the store's
/// review workflow will take over registration), classified by the client's `official` flag.
async fn developer_app(
    db: &dyn Database,
    registration: &ClientRegistration,
    name: &str,
    login: &str,
    at: time::OffsetDateTime,
) -> Result<NewApp, OAuthServiceError> {
    let app_id = AppId::parse(&registration.client_id)
        .map_err(|_| invalid("--developer needs a mini-app client id (ma_ + [a-z0-9_]{3,60})"))?;
    if db.find_client(&registration.client_id).await?.is_some() {
        return Err(OAuthServiceError::ClientExists(
            registration.client_id.clone(),
        ));
    }
    let developer = db
        .find_user_by_login(login)
        .await?
        .ok_or_else(|| invalid(format!("--developer: no user {login}")))?;
    Ok(NewApp {
        app_id,
        name: name.to_owned(),
        version: "1.0.0".into(),
        classification: if registration.official {
            "official"
        } else {
            "community"
        }
        .into(),
        developer_id: developer.id,
        developer_name: developer.username,
        status: "active".into(),
        created_at: at,
    })
}
