//! Client authentication at the token, revocation and introspection endpoints (RFC 6749
//! §2.3): confidential clients use `client_secret_basic` or `client_secret_post` (exactly one
//! of them); public clients identify themselves with `client_id` alone.

use super::error::OAuthError;
use super::form::Form;
use crate::AppState;
use axum::http::{header, HeaderMap};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use tmcp_usecases::oauth::client_auth::{authenticate_client, identify_client, ClientCredentials};
use tmcp_usecases::oauth::TokenError;

/// The calling client is plain data the grant use cases take.
pub use tmcp_usecases::oauth::CallingClient;

/// The credentials a request carries, before they are checked.
#[derive(Debug, Clone)]
pub struct Credentials {
    pub client_id: String,
    pub secret: Option<String>,
    pub basic: bool,
}

/// One half of `client_secret_basic` credentials (form-encoded before base64, RFC 6749
/// §2.3.1). This header is decoded into text here, so the request-text rule of
/// `middleware::boundary` (UTF-8, no NUL) is applied here too.
fn decode_part(part: &str) -> Result<String, OAuthError> {
    let plus_as_space = part.replace('+', " ");
    percent_encoding::percent_decode_str(&plus_as_space)
        .decode_utf8()
        .ok()
        .filter(|text| crate::middleware::boundary::clean_text(text))
        .map(|s| s.into_owned())
        .ok_or_else(|| OAuthError::invalid_client(true))
}

/// Reads the client's credentials from `Authorization: Basic` or the form, refusing requests
/// that use both methods or none.
pub fn credentials(headers: &HeaderMap, form: &Form) -> Result<Credentials, OAuthError> {
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("basic"))
        .map(|(_, encoded)| encoded.trim().to_owned());
    let form_id = form.bounded("client_id", 255)?;
    let form_secret = form.bounded("client_secret", 512)?;
    if let Some(encoded) = basic {
        if form_secret.is_some() {
            return Err(OAuthError::invalid_request(
                "use one client authentication method, not several",
            ));
        }
        let decoded = STANDARD
            .decode(encoded.as_bytes())
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .ok_or_else(|| OAuthError::invalid_client(true))?;
        let (id, secret) = decoded
            .split_once(':')
            .ok_or_else(|| OAuthError::invalid_client(true))?;
        let client_id = decode_part(id)?;
        let secret = decode_part(secret)?;
        if form_id.is_some_and(|f| f != client_id) {
            return Err(OAuthError::invalid_request(
                "client_id in the body differs from the authenticated client",
            ));
        }
        if client_id.is_empty() || client_id.len() > 255 {
            return Err(OAuthError::invalid_client(true));
        }
        return Ok(Credentials {
            client_id,
            secret: Some(secret).filter(|s| !s.is_empty()),
            basic: true,
        });
    }
    let client_id = form_id
        .ok_or_else(|| OAuthError::invalid_request("client_id is required"))?
        .to_owned();
    Ok(Credentials {
        client_id,
        secret: form_secret.map(str::to_owned),
        basic: false,
    })
}

impl Credentials {
    fn checked(&self) -> ClientCredentials<'_> {
        ClientCredentials {
            client_id: &self.client_id,
            secret: self.secret.as_deref(),
        }
    }

    /// `invalid_client` with the Basic challenge when the client tried HTTP Basic.
    fn refused(&self, error: TokenError) -> OAuthError {
        match error {
            TokenError::InvalidClient => OAuthError::invalid_client(self.basic),
            other => other.into(),
        }
    }
}

/// Checks the credentials (the OAuth service's `authenticate_client`).
pub async fn authenticate(
    state: &AppState,
    credentials: &Credentials,
) -> Result<CallingClient, OAuthError> {
    authenticate_client(state.db.as_ref(), credentials.checked())
        .await
        .map_err(|e| credentials.refused(e))
}

/// Identifies the client of a token exchange (the OAuth service's `identify_client`).
pub async fn identify(
    state: &AppState,
    credentials: &Credentials,
) -> Result<CallingClient, OAuthError> {
    identify_client(state.db.as_ref(), credentials.checked())
        .await
        .map_err(|e| credentials.refused(e))
}
