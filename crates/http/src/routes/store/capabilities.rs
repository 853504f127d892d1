//! `GET /api/v1/capabilities`: what this server implements, so a host app or SDK can adapt
//! without probing. No credentials needed; nothing in it is secret.

use crate::AppState;
use axum::extract::State;
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug, Serialize, ToSchema)]
pub struct Limits {
    /// Largest request body (bytes).
    pub max_body_bytes: usize,
    /// Largest mini-app package (bytes).
    pub max_package_bytes: u64,
    /// Longest store listing page.
    pub max_page_size: i64,
    /// Items per lifecycle or storage batch.
    pub max_batch_items: u32,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CapabilitiesResponse {
    /// `TMCP`.
    pub protocol: String,
    pub protocol_version: String,
    pub server_version: String,
    /// Services this server offers: `accounts`, `oauth`, `storage`, `wallet`, `payments`,
    /// `store`, `webhooks`, `analytics`.
    pub services: Vec<String>,
    /// Every OAuth scope a mini-app may request.
    pub scopes: Vec<String>,
    /// OAuth grant types of the token endpoint.
    pub grant_types: Vec<String>,
    /// Second factors for payments: `totp`, `pin`, `biometric`.
    pub mfa_methods: Vec<String>,
    /// Client types a developer may register.
    pub client_types: Vec<String>,
    pub limits: Limits,
}

/// The server's protocol version, services, scopes and limits.
#[utoipa::path(get, path = "/api/v1/capabilities", tag = "store",
    responses((status = 200, description = "what this server implements", body = CapabilitiesResponse)))]
pub async fn capabilities(State(state): State<AppState>) -> Json<CapabilitiesResponse> {
    let strings = |items: &[&str]| items.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    Json(CapabilitiesResponse {
        protocol: "TMCP".into(),
        protocol_version: "1.0".into(),
        server_version: env!("CARGO_PKG_VERSION").into(),
        services: strings(&[
            "accounts",
            "oauth",
            "storage",
            "wallet",
            "payments",
            "store",
            "webhooks",
            "analytics",
        ]),
        scopes: tmcp_domain::scope::known_names()
            .map(str::to_owned)
            .collect(),
        grant_types: tmcp_usecases::oauth::grant_types::ALL
            .iter()
            .map(|g| (*g).to_owned())
            .collect(),
        mfa_methods: strings(&["totp", "pin", "biometric"]),
        client_types: strings(&["public", "confidential", "hybrid"]),
        limits: Limits {
            max_body_bytes: state.settings.body_limit_bytes,
            max_package_bytes: state.settings.store.max_package_bytes,
            max_page_size: state.settings.store.max_page,
            max_batch_items: 100,
        },
    })
}
