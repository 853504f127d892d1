//! `grant_type=urn:ietf:params:oauth:grant-type:token-exchange` (RFC 8693) for session
//! delegation: the host app trades the user's session token for a TEP of one mini-app.
//! Granted: scopes the user approved before for this client and scopes that need no
//! approval. Other registered scopes answer 403 `consent_required` with the page where the
//! user can approve them; unregistered or unknown scopes answer 400 `invalid_scope`.

use super::super::client_auth::CallingClient;
use super::super::error::OAuthError;
use super::super::form::Form;
use super::super::issue::{issue, Issue, Refresh, TokenResponse, ACCESS_TOKEN_TYPE};
use super::super::scopes;
use crate::auth::session::resolve_session_token;
use crate::AppState;
use axum::http::StatusCode;
use tmcp_domain::scope::ScopeSet;
use tmcp_repository::OAuthClient;

/// Largest accepted `miniapp_context` (a JSON object copied into the token).
const MAX_CONTEXT_BYTES: usize = 2048;

pub async fn grant(
    state: &AppState,
    caller: &CallingClient,
    form: &Form,
) -> Result<TokenResponse, OAuthError> {
    let subject = form
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
    let requested = scopes::parse_requested(form.get("scope"), &caller.client)?;
    let (session, user) =
        resolve_session_token(state, subject)
            .await
            .map_err(|e| match e.code {
                "INVALID_TOKEN" => OAuthError::invalid_grant("subject_token is not a live session"),
                "ACCOUNT_SUSPENDED" => OAuthError::invalid_grant("the account is suspended"),
                _ => e.into(),
            })?;
    let registered = scopes::registered(&caller.client);
    let consented = state
        .db
        .find_consent(user.id, caller.id())
        .await?
        .map(|c| scopes::from_stored(&c.scopes))
        .unwrap_or_default();
    let grantable =
        scopes::without_consent(&registered).union(&consented.intersection(&registered));
    let scopes = match requested {
        Some(requested) => {
            let missing = requested.difference(&grantable);
            if !missing.is_empty() {
                return Err(consent_required(
                    state,
                    &caller.client,
                    &requested,
                    &missing,
                ));
            }
            requested
        }
        None => grantable,
    };
    if scopes.is_empty() {
        return Err(OAuthError::invalid_scope(
            "no scope can be granted to this client",
        ));
    }
    issue(
        state,
        Issue {
            client: &caller.client,
            user: Some(user.id),
            scopes,
            session_id: Some(session.id),
            grant_id: None,
            refresh: Refresh::None,
            miniapp_context,
            issued_token_type: true,
        },
    )
    .await
}

/// 403 `consent_required`: the scopes to approve and the authorization page to approve
/// them on. The client adds `state` and its PKCE `code_challenge` to `consent_uri`.
fn consent_required(
    state: &AppState,
    client: &OAuthClient,
    requested: &ScopeSet,
    missing: &ScopeSet,
) -> OAuthError {
    let issuer = &state.tep.settings().issuer;
    let mut uri = format!("{issuer}/oauth2/authorize?");
    {
        let mut query = form_urlencoded::Serializer::new(String::new());
        query.append_pair("response_type", "code");
        query.append_pair("client_id", &client.client_id);
        if let Some(redirect) = client.redirect_uris.first() {
            query.append_pair("redirect_uri", redirect);
        }
        query.append_pair("scope", &requested.to_string());
        uri.push_str(&query.finish());
    }
    OAuthError::new(
        StatusCode::FORBIDDEN,
        "consent_required",
        "the user has not approved some of the requested scopes",
    )
    .with("consent_required_scopes", missing.to_vec())
    .with("consent_uri", uri)
}
