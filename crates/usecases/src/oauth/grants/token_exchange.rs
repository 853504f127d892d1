//! `grant_type=urn:ietf:params:oauth:grant-type:token-exchange` (RFC 8693) for session
//! delegation: the host app trades the user's session token for a TEP of one mini-app.
//! Granted: scopes the user approved before for this client and scopes that need no
//! approval. Other registered scopes are `ConsentRequired` with the page where the user can
//! approve them; unregistered or unknown scopes are `InvalidScope`.

use super::super::issue::{issue, CallingClient, Issue, IssuedTokens, Refresh, TokenPorts};
use super::super::scopes;
use super::super::token_error::TokenError;
use crate::accounts::{resolve_session_token, AccountsError};
use tmcp_domain::scope::ScopeSet;
use tmcp_repository::OAuthClient;

/// The request's fields, once the HTTP layer checked the token types, the audience and
/// that `miniapp_context` is a JSON object.
#[derive(Debug, Clone)]
pub struct TokenExchange<'a> {
    pub subject_token: &'a str,
    /// The raw `scope` parameter, if sent.
    pub scope: Option<&'a str>,
    pub miniapp_context: Option<serde_json::Value>,
}

pub async fn exchange_session_token(
    ports: TokenPorts<'_>,
    caller: &CallingClient,
    request: TokenExchange<'_>,
) -> Result<IssuedTokens, TokenError> {
    let requested = scopes::parse_requested(request.scope, &caller.client)?;
    let (session, user) = resolve_session_token(ports.db, ports.clock, request.subject_token)
        .await
        .map_err(|e| match e {
            AccountsError::InvalidToken => {
                TokenError::invalid_grant("subject_token is not a live session")
            }
            AccountsError::Suspended => TokenError::invalid_grant("the account is suspended"),
            AccountsError::Repository(e) => TokenError::Repository(e),
            other => TokenError::Internal(other.to_string()),
        })?;
    let registered = scopes::registered(&caller.client);
    let consented = ports
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
                return Err(TokenError::ConsentRequired {
                    missing: missing.to_vec(),
                    consent_uri: consent_uri(ports.minter.issuer(), &caller.client, &requested),
                });
            }
            requested
        }
        None => grantable,
    };
    if scopes.is_empty() {
        return Err(TokenError::invalid_scope(
            "no scope can be granted to this client",
        ));
    }
    issue(
        ports,
        Issue {
            client: &caller.client,
            user: Some(user.id),
            scopes,
            session_id: Some(session.id),
            grant_id: None,
            refresh: Refresh::None,
            miniapp_context: request.miniapp_context,
            issued_token_type: true,
        },
    )
    .await
}

/// The authorization page where the user can approve `requested`. The client adds `state`
/// and its PKCE `code_challenge`.
fn consent_uri(issuer: &str, client: &OAuthClient, requested: &ScopeSet) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    query.append_pair("response_type", "code");
    query.append_pair("client_id", &client.client_id);
    if let Some(redirect) = client.redirect_uris.first() {
        query.append_pair("redirect_uri", redirect);
    }
    query.append_pair("scope", &requested.to_string());
    format!("{issuer}/oauth2/authorize?{}", query.finish())
}
