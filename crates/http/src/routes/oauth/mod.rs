//! The OAuth 2.0 authorization server (the TMCP protocol §2): discovery, the authorization code flow
//! with its login and consent pages, the device flow, the token endpoint with its grants,
//! revocation, introspection, and user-initiated withdrawal of an app's grant. One module
//! per operation; `grants/` has one module per grant type.

pub mod authorize;
pub mod browser;
pub mod client_auth;
pub mod device;
/// RFC 6749 error answers are decided in the error module, with the other envelopes.
pub use crate::error::oauth as error;
pub mod form;
pub mod grants;
pub mod html;
pub mod introspect;
pub mod issue;
pub mod metadata;
pub mod revoke;
pub mod scopes;
pub mod token;
pub mod withdraw;

/// The OAuth service's settings live with its use cases.
pub use tmcp_usecases::oauth::OAuthSettings;

use crate::AppState;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::Router;

pub fn routes() -> Router<AppState> {
    let forms = Router::new()
        .route(
            "/oauth2/authorize",
            get(authorize::authorize_page).post(authorize::authorize_submit),
        )
        .route("/oauth2/token", post(token::token))
        .route("/oauth2/revoke", post(revoke::revoke))
        .route("/oauth2/introspect", post(introspect::introspect))
        .route(
            "/oauth2/device/authorization",
            post(device::device_authorization),
        )
        .route(
            "/oauth2/device",
            get(device::device_page).post(device::device_submit),
        )
        .layer(DefaultBodyLimit::max(form::MAX_FORM_BYTES));
    Router::new()
        .merge(forms)
        .route(
            "/.well-known/oauth-authorization-server",
            get(metadata::oauth_metadata),
        )
        .route(
            "/.well-known/openid-configuration",
            get(metadata::openid_configuration),
        )
        .route("/api/v1/auth/revoke", post(withdraw::withdraw_grant))
        .route("/api/v1/auth/device/approve", post(device::approve_device))
}
