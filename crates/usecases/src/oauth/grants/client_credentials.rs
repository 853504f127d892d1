//! `grant_type=client_credentials` (RFC 6749 §4.4): a mini-app backend's own token, with no
//! user and only app-level scopes. Confidential clients only.

use super::super::issue::{issue, CallingClient, Issue, IssuedTokens, Refresh, TokenPorts};
use super::super::scopes;
use super::super::token_error::TokenError;

/// `scope` is the raw parameter, if sent.
pub async fn grant_client_credentials(
    ports: TokenPorts<'_>,
    caller: &CallingClient,
    scope: Option<&str>,
) -> Result<IssuedTokens, TokenError> {
    if !caller.confidential {
        return Err(TokenError::UnauthorizedClient(
            "client_credentials needs a confidential client".into(),
        ));
    }
    let app_scopes = scopes::app_level(&scopes::registered(&caller.client));
    let scopes = match scopes::parse_requested(scope, &caller.client)? {
        Some(requested) if !requested.is_subset(&app_scopes) => {
            return Err(TokenError::invalid_scope(
                "client_credentials tokens carry app-level scopes only (webhook:send, analytics:detailed, system:notifications)",
            ))
        }
        Some(requested) => requested,
        None => app_scopes,
    };
    if scopes.is_empty() {
        return Err(TokenError::invalid_scope(
            "the client registered no app-level scope",
        ));
    }
    issue(
        ports,
        Issue {
            client: &caller.client,
            user: None,
            scopes,
            session_id: None,
            grant_id: None,
            refresh: Refresh::None,
            miniapp_context: None,
            issued_token_type: false,
        },
    )
    .await
}
