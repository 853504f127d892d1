//! Checking an authorization request (RFC 6749 §4.1.1, PKCE RFC 7636) before the login and
//! consent pages. A client or redirect URI that cannot be trusted is never redirected to
//! (the caller shows a page); every other problem goes back to the client's redirect URI.
//! Public clients must use PKCE S256; `plain` is refused.

use super::grant_types::{client_may_use, AUTHORIZATION_CODE};
use super::scopes;
use tmcp_domain::oauth::pkce;
use tmcp_domain::scope::ScopeSet;
use tmcp_repository::{Database, OAuthClient, RepoError};

/// Longest accepted `state`.
pub const MAX_STATE_LEN: usize = 1024;

/// The request's parameters as sent (query or form), absent ones `None`.
#[derive(Debug, Clone, Copy, Default)]
pub struct AuthorizationParams<'a> {
    pub client_id: Option<&'a str>,
    pub redirect_uri: Option<&'a str>,
    pub state: Option<&'a str>,
    pub response_type: Option<&'a str>,
    pub response_mode: Option<&'a str>,
    pub scope: Option<&'a str>,
    pub code_challenge: Option<&'a str>,
    pub code_challenge_method: Option<&'a str>,
}

/// A request that passed every check.
#[derive(Debug, Clone)]
pub struct CheckedAuthorization {
    pub client: OAuthClient,
    /// Exactly one of the client's registered redirect URIs.
    pub redirect_uri: String,
    pub scopes: ScopeSet,
    pub state: Option<String>,
    /// The S256 challenge, if the client sent one.
    pub code_challenge: Option<String>,
}

/// Why a request is refused.
#[derive(Debug, thiserror::Error)]
pub enum AuthorizationRefusal {
    /// No usable `client_id`.
    #[error("no client_id")]
    NoClient,
    /// The client is not registered or is disabled.
    #[error("unknown or disabled client")]
    UnknownClient,
    /// `redirect_uri` is missing or not registered for the client.
    #[error("unregistered redirect_uri")]
    UnregisteredRedirect,
    #[error("state is too long")]
    StateTooLong,
    /// Sent back to the client's redirect URI as `error` and `error_description`.
    #[error("{error}: {description}")]
    BackToClient {
        redirect_uri: String,
        state: Option<String>,
        error: &'static str,
        description: String,
    },
    /// Our side failed before the request could be checked.
    #[error(transparent)]
    Repository(#[from] RepoError),
}

pub async fn check_authorization_request(
    db: &dyn Database,
    params: AuthorizationParams<'_>,
) -> Result<CheckedAuthorization, AuthorizationRefusal> {
    let client_id = params
        .client_id
        .filter(|c| c.len() <= 255)
        .ok_or(AuthorizationRefusal::NoClient)?;
    let client = db
        .find_client(client_id)
        .await?
        .filter(|c| c.is_active)
        .ok_or(AuthorizationRefusal::UnknownClient)?;
    let redirect_uri = params
        .redirect_uri
        .filter(|r| {
            client
                .redirect_uris
                .iter()
                .any(|registered| registered == r)
        })
        .ok_or(AuthorizationRefusal::UnregisteredRedirect)?;
    if params.state.is_some_and(|s| s.len() > MAX_STATE_LEN) {
        return Err(AuthorizationRefusal::StateTooLong);
    }
    let back = |error: &'static str, description: &str| AuthorizationRefusal::BackToClient {
        redirect_uri: redirect_uri.to_owned(),
        state: params.state.map(str::to_owned),
        error,
        description: description.to_owned(),
    };
    match params.response_type {
        Some("code") => {}
        Some(_) => {
            return Err(back(
                "unsupported_response_type",
                "only response_type=code is supported",
            ))
        }
        None => return Err(back("invalid_request", "response_type is required")),
    }
    if params.response_mode.is_some_and(|m| m != "query") {
        return Err(back(
            "invalid_request",
            "only response_mode=query is supported",
        ));
    }
    if !client_may_use(&client, AUTHORIZATION_CODE) {
        return Err(back(
            "unauthorized_client",
            "this client may not use the authorization code flow",
        ));
    }
    let scopes = match scopes::check_requested(params.scope, &client) {
        Ok(Some(requested)) => requested,
        Ok(None) => scopes::registered(&client),
        Err(description) => return Err(back("invalid_scope", &description)),
    };
    if scopes.is_empty() {
        return Err(back("invalid_scope", "no scope requested"));
    }
    let code_challenge = match (params.code_challenge, params.code_challenge_method) {
        (None, None) if client.client_secret_hash.is_none() => {
            return Err(back(
                "invalid_request",
                "PKCE with code_challenge_method=S256 is required for public clients",
            ))
        }
        (None, None) => None,
        (Some(_), Some("plain")) | (None, Some("plain")) => {
            return Err(back(
                "invalid_request",
                "code_challenge_method=plain is not allowed; use S256",
            ))
        }
        (Some(c), Some("S256")) if pkce::valid_challenge(c) => Some(c.to_owned()),
        (Some(_), Some("S256")) => {
            return Err(back(
                "invalid_request",
                "code_challenge must be 43 characters of base64url",
            ))
        }
        (Some(_), None) => {
            return Err(back(
                "invalid_request",
                "code_challenge_method=S256 is required",
            ))
        }
        _ => return Err(back("invalid_request", "unsupported code_challenge_method")),
    };
    Ok(CheckedAuthorization {
        redirect_uri: redirect_uri.to_owned(),
        client,
        scopes,
        state: params.state.map(str::to_owned),
        code_challenge,
    })
}
