//! The protocol's developer registration: `POST /mini-apps/v1/register` and
//! `GET /mini-apps/v1/{miniapp_id}/status`.

use super::caller;
use crate::auth::SessionPrincipal;
use crate::error::{ApiError, ErrorEnvelope};
use crate::extract::ApiJson;
use crate::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use tmcp_usecases::store::apps::owned_app;
use tmcp_usecases::store::registration::{self, Registration};
use utoipa::ToSchema;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeveloperInfo {
    #[schema(max_length = 255)]
    pub company_name: Option<String>,
    #[schema(max_length = 255)]
    pub email: Option<String>,
    /// An https URL.
    #[schema(max_length = 500, pattern = "^https://")]
    pub website: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TechnicalInfo {
    /// The https URL the host app opens.
    #[schema(max_length = 500, pattern = "^https://")]
    pub entry_url: String,
    /// OAuth redirect URIs (at most 10).
    #[serde(default)]
    #[schema(max_items = 10)]
    pub redirect_uris: Vec<String>,
    /// Where webhooks go (https; public addresses only). Without it no webhook secret is
    /// issued.
    #[schema(pattern = "^https://")]
    pub webhook_url: Option<String>,
    #[schema(schema_with = crate::schema_constraints::requestable_scopes)]
    pub scopes_requested: Vec<String>,
    /// `public`, `confidential` or `hybrid`.
    #[schema(pattern = "^(public|confidential|hybrid)$")]
    pub client_type: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BrandingInfo {
    /// An https URL.
    #[schema(max_length = 500, pattern = "^https://")]
    pub icon_url: Option<String>,
    /// `#rrggbb`.
    #[schema(pattern = "^#[0-9a-fA-F]{6}$")]
    pub primary_color: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterBody {
    #[schema(min_length = 1, max_length = 255)]
    pub name: String,
    #[schema(max_length = 500)]
    pub short_name: Option<String>,
    #[schema(max_length = 10000)]
    pub description: Option<String>,
    /// The `name` of an active store category.
    pub category: Option<String>,
    pub developer: Option<DeveloperInfo>,
    pub technical: TechnicalInfo,
    pub branding: Option<BrandingInfo>,
}

/// Credentials, each shown only in this answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct Credentials {
    /// The app's OAuth client (public for `public` and `hybrid` apps).
    pub client_id: String,
    /// For `confidential` apps the client's secret; for `hybrid` apps the secret of
    /// `backend_client_id`.
    pub client_secret: Option<String>,
    /// `hybrid` apps: `<miniapp_id>_backend`, a confidential client for the app's backend.
    pub backend_client_id: Option<String>,
    /// `whsec_…`: signs the webhooks sent to `webhook_url`.
    pub webhook_secret: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RegisterResponse {
    pub miniapp_id: String,
    /// `pending_review`.
    pub status: String,
    pub created_at: String,
    pub credentials: Credentials,
}

/// Registers a mini-app for review (developers and admins).
#[utoipa::path(post, path = "/mini-apps/v1/register", tag = "store",
    security(("session" = [])),
    request_body = RegisterBody,
    responses(
        (status = 201, description = "registered; the secrets are shown only here", body = RegisterResponse),
        (status = 403, description = "`INSUFFICIENT_PERMISSIONS`: the account is not a developer", body = ErrorEnvelope),
        (status = 422, description = "`VALIDATION_FAILED`: a field breaks its rule (`details.fields`)", body = ErrorEnvelope)))]
pub async fn register(
    State(state): State<AppState>,
    principal: SessionPrincipal,
    ApiJson(body): ApiJson<RegisterBody>,
) -> Result<(StatusCode, Json<RegisterResponse>), ApiError> {
    let developer = body.developer.unwrap_or(DeveloperInfo {
        company_name: None,
        email: None,
        website: None,
    });
    let branding = body.branding.unwrap_or(BrandingInfo {
        icon_url: None,
        primary_color: None,
    });
    let input = Registration {
        name: body.name,
        short_name: body.short_name,
        description: body.description,
        category: body.category,
        company_name: developer.company_name,
        developer_email: developer.email,
        developer_website: developer.website,
        entry_url: body.technical.entry_url,
        redirect_uris: body.technical.redirect_uris,
        webhook_url: body.technical.webhook_url,
        scopes_requested: body.technical.scopes_requested,
        client_type: body.technical.client_type,
        icon_url: branding.icon_url,
        primary_color: branding.primary_color,
    };
    let registered = registration::register(
        state.db.as_ref(),
        state.clock.as_ref(),
        &state.cipher,
        &mut rand::rngs::OsRng,
        &state.settings.store,
        caller(&principal),
        input,
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(RegisterResponse {
            miniapp_id: registered.app.app_id.clone(),
            status: registered.app.status.as_wire().to_owned(),
            created_at: super::views::rfc3339(registered.created_at),
            credentials: Credentials {
                client_id: registered.client_id,
                client_secret: registered.client_secret,
                backend_client_id: registered.backend_client_id,
                webhook_secret: registered.webhook_secret,
            },
        }),
    ))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StatusResponse {
    pub miniapp_id: String,
    /// `pending_review`, `active`, `rejected`, `deprecated` or `removed`.
    pub status: String,
    pub version: String,
    pub rejection_reason: Option<String>,
    pub submitted_at: Option<String>,
    pub published_at: Option<String>,
    pub updated_at: String,
}

/// The review status of one of the caller's apps.
#[utoipa::path(get, path = "/mini-apps/v1/{miniapp_id}/status", tag = "store",
    security(("session" = [])),
    params(("miniapp_id" = String, Path, max_length = 255)),
    responses(
        (status = 200, description = "the app's status", body = StatusResponse),
        (status = 404, description = "`APP_NOT_FOUND`: no such app among the caller's", body = ErrorEnvelope)))]
pub async fn status(
    State(state): State<AppState>,
    principal: SessionPrincipal,
    Path(app_id): Path<String>,
) -> Result<Json<StatusResponse>, ApiError> {
    let app = owned_app(state.db.as_ref(), caller(&principal), &app_id).await?;
    Ok(Json(StatusResponse {
        miniapp_id: app.app_id.clone(),
        status: app.status.as_wire().to_owned(),
        version: app.version.clone(),
        rejection_reason: app.rejection_reason.clone(),
        submitted_at: app.submitted_at.map(super::views::rfc3339),
        published_at: app.published_at.map(super::views::rfc3339),
        updated_at: super::views::rfc3339(app.updated_at),
    }))
}
