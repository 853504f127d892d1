//! The grants of `POST /oauth2/token`: each grant's form fields, parsed in the order the
//! answers depend on, then the OAuth service's use case for that grant.

use super::client_auth::CallingClient;
use super::error::OAuthError;
use super::form::Form;
use super::issue::{TokenResponse, ACCESS_TOKEN_TYPE};
use crate::AppState;
use axum::http::StatusCode;
use tmcp_usecases::oauth::grants::{
    authorization_code::{redeem_authorization_code, CodeRedemptionRequest},
    client_credentials::grant_client_credentials,
    device_code::poll_device_code,
    refresh_token::refresh_grant,
    token_exchange::{exchange_session_token, TokenExchange},
};
use tmcp_usecases::oauth::TokenPorts;

/// The grant vocabulary and who may use which grant are the OAuth service's rules.
pub use tmcp_usecases::oauth::grant_types::{
    client_may_use, ALL, AUTHORIZATION_CODE, CLIENT_CREDENTIALS, DEVICE_CODE, REFRESH_TOKEN,
    TOKEN_EXCHANGE,
};

/// Largest accepted `miniapp_context` (a JSON object copied into the token).
const MAX_CONTEXT_BYTES: usize = 2048;

/// The token use cases' ports, from the state.
pub fn ports(state: &AppState) -> TokenPorts<'_> {
    TokenPorts {
        db: state.db.as_ref(),
        clock: state.clock.as_ref(),
        minter: state.tep.as_ref(),
        verifier: state.tep.as_ref(),
    }
}

/// Runs `grant_type` (already checked against the vocabulary and the client) for `caller`.
pub async fn run(
    state: &AppState,
    caller: &CallingClient,
    grant_type: &str,
    form: &Form,
) -> Result<TokenResponse, OAuthError> {
    let ports = ports(state);
    let issued = match grant_type {
        AUTHORIZATION_CODE => {
            let code = form
                .bounded("code", 256)?
                .ok_or_else(|| OAuthError::invalid_request("code is required"))?;
            let redirect_uri = form
                .bounded("redirect_uri", 2000)?
                .ok_or_else(|| OAuthError::invalid_request("redirect_uri is required"))?;
            let code_verifier = form.bounded("code_verifier", 256)?;
            let request = CodeRedemptionRequest {
                code,
                redirect_uri,
                code_verifier,
            };
            redeem_authorization_code(ports, caller, request).await?
        }
        REFRESH_TOKEN => {
            let presented = form
                .bounded("refresh_token", 256)?
                .ok_or_else(|| OAuthError::invalid_request("refresh_token is required"))?;
            refresh_grant(ports, caller, presented, form.get("scope")).await?
        }
        TOKEN_EXCHANGE => {
            let request = token_exchange_request(caller, form)?;
            exchange_session_token(ports, caller, request).await?
        }
        DEVICE_CODE => {
            let device_code = form
                .bounded("device_code", 256)?
                .ok_or_else(|| OAuthError::invalid_request("device_code is required"))?;
            poll_device_code(ports, caller, device_code).await?
        }
        _ => grant_client_credentials(ports, caller, form.get("scope")).await?,
    };
    Ok(issued.into())
}

/// RFC 8693's request fields: only session tokens in, TEPs out, no actor, and the audience
/// (if named) is the calling client.
fn token_exchange_request<'a>(
    caller: &CallingClient,
    form: &'a Form,
) -> Result<TokenExchange<'a>, OAuthError> {
    let subject_token = form
        .bounded("subject_token", 512)?
        .ok_or_else(|| OAuthError::invalid_request("subject_token is required"))?;
    let subject_type = form.required("subject_token_type")?;
    if subject_type != ACCESS_TOKEN_TYPE {
        return Err(OAuthError::invalid_request(format!(
            "subject_token_type must be {ACCESS_TOKEN_TYPE}"
        )));
    }
    if form.get("actor_token").is_some() {
        return Err(OAuthError::invalid_request(
            "actor tokens are not supported",
        ));
    }
    if form
        .get("requested_token_type")
        .is_some_and(|t| t != ACCESS_TOKEN_TYPE)
    {
        return Err(OAuthError::invalid_request(format!(
            "requested_token_type must be {ACCESS_TOKEN_TYPE}"
        )));
    }
    if form.get("audience").is_some_and(|a| a != caller.id()) {
        return Err(OAuthError::new(
            StatusCode::BAD_REQUEST,
            "invalid_target",
            "the audience of a TEP is the client it is issued to",
        ));
    }
    let miniapp_context = match form.bounded("miniapp_context", MAX_CONTEXT_BYTES)? {
        Some(raw) => match serde_json::from_str::<serde_json::Value>(raw) {
            Ok(value @ serde_json::Value::Object(_)) => Some(value),
            _ => {
                return Err(OAuthError::invalid_request(
                    "miniapp_context must be a JSON object",
                ))
            }
        },
        None => None,
    };
    Ok(TokenExchange {
        subject_token,
        scope: form.get("scope"),
        miniapp_context,
    })
}
