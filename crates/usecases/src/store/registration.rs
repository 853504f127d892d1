//! Developer registration of a mini-app (the protocol's `POST /mini-apps/v1/register`): the
//! app, its OAuth client(s) and its webhook endpoint are written in one transaction, so a
//! failure leaves nothing behind; every secret is returned once and stored only hashed
//! (client secrets) or sealed (the webhook secret, which signing needs back).

use super::apps::{audit, color, email, require_developer, text, web_url};
use super::{Caller, StoreError, StoreSettings};
use crate::fields::FieldErrors;
use crate::oauth::clients::client_grant_types;
use crate::webhooks::secret::WebhookSecret;
use crate::webhooks::target::check_url;
use rand::RngCore;
use serde_json::json;
use time::OffsetDateTime;
use tmcp_domain::crypto::FieldCipher;
use tmcp_domain::oauth::{client_secret_hash, new_secret, validate_redirect_uri, SecretKind};
use tmcp_domain::scope::{rules, ScopeSet};
use tmcp_domain::store::AppStatus;
use tmcp_domain::Clock;
use tmcp_repository::{
    AppListing, Database, NewRegistration, OAuthClient, RepoError, StoreApp, WebhookEndpoint,
};

/// How the app authenticates to the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientType {
    /// No secret: PKCE in the browser or host app.
    Public,
    /// A secret held by the app's backend.
    Confidential,
    /// A public client for the front end plus `<id>_backend`, a confidential one.
    Hybrid,
}

impl ClientType {
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "public" => Self::Public,
            "confidential" => Self::Confidential,
            "hybrid" => Self::Hybrid,
            _ => return None,
        })
    }
}

/// The protocol's registration body, as plain values.
#[derive(Debug, Clone, Default)]
pub struct Registration {
    pub name: String,
    pub short_name: Option<String>,
    pub description: Option<String>,
    pub category: Option<String>,
    pub company_name: Option<String>,
    pub developer_email: Option<String>,
    pub developer_website: Option<String>,
    pub entry_url: String,
    pub redirect_uris: Vec<String>,
    pub webhook_url: Option<String>,
    pub scopes_requested: Vec<String>,
    pub client_type: String,
    pub icon_url: Option<String>,
    pub primary_color: Option<String>,
}

/// What the developer gets back, once.
#[derive(Debug, Clone)]
pub struct Registered {
    pub app: StoreApp,
    pub client_id: String,
    /// The confidential client's secret (the `_backend` client's for hybrid apps).
    pub client_secret: Option<String>,
    /// The confidential client of a hybrid app.
    pub backend_client_id: Option<String>,
    pub webhook_secret: Option<String>,
    pub created_at: OffsetDateTime,
}

const MAX_REDIRECT_URIS: usize = 10;
const MAX_SCOPES: usize = 20;

/// Registers the app for review. Only developers (and admins) may.
pub async fn register(
    db: &dyn Database,
    clock: &dyn Clock,
    cipher: &FieldCipher,
    rng: &mut (dyn RngCore + Send),
    settings: &StoreSettings,
    caller: Caller,
    input: Registration,
) -> Result<Registered, StoreError> {
    require_developer(caller)?;
    let mut errors = FieldErrors::new();
    let name = text(&mut errors, "name", Some(&input.name), 255, true).unwrap_or_default();
    let short_name = text(
        &mut errors,
        "short_name",
        input.short_name.as_deref(),
        500,
        false,
    );
    let description = text(
        &mut errors,
        "description",
        input.description.as_deref(),
        10_000,
        false,
    );
    let category = match input.category.as_deref() {
        Some(c) => super::apps::category_name(db, &mut errors, c).await?,
        None => None,
    };
    let company = text(
        &mut errors,
        "developer.company_name",
        input.company_name.as_deref(),
        255,
        false,
    );
    let contact = email(
        &mut errors,
        "developer.email",
        input.developer_email.as_deref(),
    );
    let website = web_url(
        &mut errors,
        "developer.website",
        input.developer_website.as_deref(),
    );
    let entry_url = web_url(&mut errors, "technical.entry_url", Some(&input.entry_url));
    if entry_url.is_none() && input.entry_url.trim().is_empty() {
        errors.add("technical.entry_url", "is required");
    }
    let client_type = ClientType::parse(&input.client_type);
    if client_type.is_none() {
        errors.add(
            "technical.client_type",
            "must be public, confidential or hybrid",
        );
    }
    let mut redirect_uris: Vec<String> = Vec::new();
    if input.redirect_uris.len() > MAX_REDIRECT_URIS {
        errors.add("technical.redirect_uris", "at most 10 redirect URIs");
    }
    for uri in input.redirect_uris.iter().take(MAX_REDIRECT_URIS) {
        match validate_redirect_uri(uri) {
            Ok(()) if !redirect_uris.contains(uri) => redirect_uris.push(uri.clone()),
            Ok(()) => {}
            Err(e) => errors.add("technical.redirect_uris", format!("{uri}: {e}")),
        }
    }
    let scopes = scope_set(&mut errors, &input.scopes_requested);
    let webhook_url = match input.webhook_url.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(url) => match check_url(url, settings.allow_private_webhook_targets) {
            Ok(url) => Some(url.to_string()),
            Err(e) => {
                errors.add("technical.webhook_url", e.to_string());
                None
            }
        },
    };
    let icon_url = web_url(&mut errors, "branding.icon_url", input.icon_url.as_deref());
    let primary_color = color(
        &mut errors,
        "branding.primary_color",
        input.primary_color.as_deref(),
    );
    errors.into_result()?;
    let client_type = client_type.ok_or_else(|| StoreError::Internal("client type".into()))?;

    let now = clock.now();
    let app_id = new_app_id(short_name.as_deref().unwrap_or(&name), rng);
    let developer_name = company.clone().unwrap_or_else(|| name.clone());
    let listing = AppListing {
        name: name.clone(),
        short_description: short_name,
        description,
        category,
        website: website.clone(),
        support_email: contact.clone(),
        developer: json!({ "company_name": company, "email": contact, "website": website }),
        technical: json!({
            "entry_url": entry_url,
            "redirect_uris": redirect_uris,
            "webhook_url": webhook_url,
            "scopes_requested": scopes,
            "client_type": input.client_type,
        }),
        branding: json!({ "icon_url": icon_url, "primary_color": primary_color }),
    };
    let app = StoreApp {
        app_id: app_id.clone(),
        listing,
        version: "0.0.0".into(),
        classification: "community".into(),
        developer_id: caller.user,
        developer_name,
        status: AppStatus::Pending,
        featured: false,
        mandatory: false,
        rejection_reason: None,
        submitted_at: None,
        published_at: None,
        created_at: now,
        updated_at: now,
    };
    let client = |client_id: String, confidential: bool, secret_hash: Option<String>| OAuthClient {
        client_id,
        client_secret_hash: secret_hash,
        app_id: Some(app_id.clone()),
        name: name.clone(),
        redirect_uris: redirect_uris.clone(),
        grant_types: client_grant_types(!redirect_uris.is_empty(), confidential),
        scopes: scopes.clone(),
        is_official: false,
        is_active: true,
        created_at: now,
    };
    let secret = (client_type != ClientType::Public).then(|| new_secret(SecretKind::ClientSecret));
    let secret_hash = secret.as_ref().map(|s| client_secret_hash(&s.value));
    let backend_id = format!("{app_id}_backend");
    let clients = match client_type {
        ClientType::Public => vec![client(app_id.clone(), false, None)],
        ClientType::Confidential => vec![client(app_id.clone(), true, secret_hash)],
        ClientType::Hybrid => vec![
            client(app_id.clone(), false, None),
            client(backend_id.clone(), true, secret_hash),
        ],
    };
    let webhook_secret = webhook_url.as_ref().map(|_| WebhookSecret::generate(rng));
    let webhook = webhook_url
        .zip(webhook_secret.as_ref())
        .map(|(url, secret)| WebhookEndpoint {
            app_id: app_id.clone(),
            url,
            secret_sealed: secret.seal(cipher, &app_id),
            previous_secret_sealed: None,
            previous_secret_expires_at: None,
            disabled_at: None,
            created_at: now,
            updated_at: now,
        });
    let entry = audit(
        clock,
        caller,
        Some(&app_id),
        "registered",
        json!({ "client_type": input.client_type, "clients": clients.iter().map(|c| c.client_id.clone()).collect::<Vec<_>>() }),
    );
    match db
        .register_app(NewRegistration {
            app: app.clone(),
            clients,
            webhook,
            audit: entry,
        })
        .await
    {
        Ok(()) => {}
        Err(RepoError::Conflict { .. }) => return Err(StoreError::AlreadyExists(app_id)),
        Err(e) => return Err(e.into()),
    }
    tracing::info!(app_id = %app_id, developer = %caller.user, "mini-app registered");
    Ok(Registered {
        app,
        client_id: app_id,
        client_secret: secret.map(|s| s.value),
        backend_client_id: (client_type == ClientType::Hybrid).then_some(backend_id),
        webhook_secret: webhook_secret.map(|s| s.expose().to_owned()),
        created_at: now,
    })
}

fn scope_set(errors: &mut FieldErrors, requested: &[String]) -> Vec<String> {
    if requested.is_empty() || requested.len() > MAX_SCOPES {
        errors.add("technical.scopes_requested", "1 to 20 scopes");
        return Vec::new();
    }
    match ScopeSet::parse(&requested.join(" ")) {
        Ok(set) => {
            if let Some(s) = set
                .iter()
                .find(|s| rules(s).is_some_and(|r| r.official_only))
            {
                errors.add(
                    "technical.scopes_requested",
                    format!("{s} is only for official apps"),
                );
            }
            set.to_vec()
        }
        Err(e) => {
            errors.add("technical.scopes_requested", e.to_string());
            Vec::new()
        }
    }
}

/// `ma_` + a readable slug of the short name + 8 random hex digits (so two apps of the same
/// name never clash): within the protocol's `ma_[a-z0-9_]{3,60}`.
fn new_app_id(name: &str, rng: &mut dyn RngCore) -> String {
    let mut slug = String::new();
    for c in name.chars().flat_map(char::to_lowercase) {
        if slug.len() >= 40 {
            break;
        }
        if c.is_ascii_alphanumeric() {
            slug.push(c);
        } else if !slug.ends_with('_') && !slug.is_empty() {
            slug.push('_');
        }
    }
    let slug = slug.trim_end_matches('_');
    let slug = if slug.is_empty() { "app" } else { slug };
    let mut bytes = [0u8; 4];
    rng.fill_bytes(&mut bytes);
    format!("ma_{slug}_{}", hex::encode(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn app_ids_fit_the_protocol() {
        let mut rng = rand::rngs::mock::StepRng::new(7, 1);
        for name in [
            "Weather Now!",
            "天气",
            "",
            "a very long name with many many words in it ok",
        ] {
            let id = new_app_id(name, &mut rng);
            assert!(tmcp_domain::AppId::parse(&id).is_ok(), "{id}");
        }
    }
}
