//! Authorization server metadata (RFC 8414), also served as the OpenID discovery document
//! so generic clients find the endpoints. No ID tokens are issued.

use super::grants;
use crate::AppState;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::Json;
use serde::Serialize;
use tmcp_domain::scope::rules;
use utoipa::ToSchema;

/// RFC 8414 §2 metadata.
#[derive(Debug, Serialize, ToSchema)]
pub struct ServerMetadata {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub jwks_uri: String,
    pub revocation_endpoint: String,
    pub introspection_endpoint: String,
    pub device_authorization_endpoint: String,
    pub scopes_supported: Vec<String>,
    pub response_types_supported: Vec<String>,
    pub response_modes_supported: Vec<String>,
    pub grant_types_supported: Vec<String>,
    pub token_endpoint_auth_methods_supported: Vec<String>,
    pub revocation_endpoint_auth_methods_supported: Vec<String>,
    pub introspection_endpoint_auth_methods_supported: Vec<String>,
    pub code_challenge_methods_supported: Vec<String>,
    /// The authorization response carries `iss` (RFC 9207).
    pub authorization_response_iss_parameter_supported: bool,
    pub subject_types_supported: Vec<String>,
    pub service_documentation: String,
}

const SCOPES: &[&str] = &[
    "user:read",
    "user:read:extended",
    "storage:read",
    "storage:write",
    "wallet:balance",
    "wallet:history",
    "wallet:pay",
    "webhook:send",
    "analytics:detailed",
    "system:notifications",
];

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

pub fn document(issuer: &str) -> ServerMetadata {
    let auth_methods = strings(&["client_secret_basic", "client_secret_post", "none"]);
    ServerMetadata {
        issuer: issuer.to_owned(),
        authorization_endpoint: format!("{issuer}/oauth2/authorize"),
        token_endpoint: format!("{issuer}/oauth2/token"),
        jwks_uri: format!("{issuer}/.well-known/jwks.json"),
        revocation_endpoint: format!("{issuer}/oauth2/revoke"),
        introspection_endpoint: format!("{issuer}/oauth2/introspect"),
        device_authorization_endpoint: format!("{issuer}/oauth2/device/authorization"),
        scopes_supported: SCOPES
            .iter()
            .filter(|s| rules(s).is_some())
            .map(|s| (*s).to_owned())
            .collect(),
        response_types_supported: strings(&["code"]),
        response_modes_supported: strings(&["query"]),
        grant_types_supported: strings(grants::ALL),
        token_endpoint_auth_methods_supported: auth_methods.clone(),
        revocation_endpoint_auth_methods_supported: auth_methods,
        introspection_endpoint_auth_methods_supported: strings(&[
            "client_secret_basic",
            "client_secret_post",
        ]),
        code_challenge_methods_supported: strings(&["S256"]),
        authorization_response_iss_parameter_supported: true,
        subject_types_supported: strings(&["public"]),
        service_documentation: format!("{issuer}/docs/"),
    }
}

fn answer(state: &AppState) -> impl IntoResponse {
    (
        [(header::CACHE_CONTROL, "public, max-age=300")],
        Json(document(&state.tep.settings().issuer)),
    )
}

/// OAuth 2.0 authorization server metadata (RFC 8414).
#[utoipa::path(get, path = "/.well-known/oauth-authorization-server", tag = "oauth",
    responses((status = 200, description = "server metadata", body = ServerMetadata)))]
pub async fn oauth_metadata(State(state): State<AppState>) -> impl IntoResponse {
    answer(&state)
}

/// The same metadata at the OpenID discovery location.
#[utoipa::path(get, path = "/.well-known/openid-configuration", tag = "oauth",
    responses((status = 200, description = "server metadata (same document)", body = ServerMetadata)))]
pub async fn openid_configuration(State(state): State<AppState>) -> impl IntoResponse {
    answer(&state)
}
