//! `grant_type=client_credentials` (RFC 6749 §4.4): a mini-app backend's own token, with no
//! user and only app-level scopes. Confidential clients only.

use super::super::client_auth::CallingClient;
use super::super::error::OAuthError;
use super::super::form::Form;
use super::super::issue::{issue, Issue, Refresh, TokenResponse};
use super::super::scopes;
use crate::AppState;

pub async fn grant(
    state: &AppState,
    caller: &CallingClient,
    form: &Form,
) -> Result<TokenResponse, OAuthError> {
    if !caller.confidential {
        return Err(OAuthError::unauthorized_client(
            "client_credentials needs a confidential client",
        ));
    }
    let app_scopes = scopes::app_level(&scopes::registered(&caller.client));
    let scopes = match scopes::parse_requested(form.get("scope"), &caller.client)? {
        Some(requested) if !requested.is_subset(&app_scopes) => {
            return Err(OAuthError::invalid_scope(
                "client_credentials tokens carry app-level scopes only (webhook:send, analytics:detailed, system:notifications)",
            ))
        }
        Some(requested) => requested,
        None => app_scopes,
    };
    if scopes.is_empty() {
        return Err(OAuthError::invalid_scope(
            "the client registered no app-level scope",
        ));
    }
    issue(
        state,
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
