//! `grant_type=authorization_code` (RFC 6749 §4.1.3, PKCE RFC 7636 §4.6). The code is spent
//! by the first attempt whatever its outcome; a second use revokes everything the first
//! produced (RFC 6749 §4.1.2).

use super::super::client_auth::CallingClient;
use super::super::error::OAuthError;
use super::super::form::Form;
use super::super::issue::{active_user, issue, Issue, Refresh, TokenResponse};
use super::super::scopes;
use crate::AppState;
use tmcp_domain::oauth::{looks_like, pkce, secret_hash, SecretKind};
use tmcp_repository::CodeRedemption;

pub async fn grant(
    state: &AppState,
    caller: &CallingClient,
    form: &Form,
) -> Result<TokenResponse, OAuthError> {
    let code = form
        .bounded("code", 256)?
        .ok_or_else(|| OAuthError::invalid_request("code is required"))?;
    let redirect_uri = form
        .bounded("redirect_uri", 2000)?
        .ok_or_else(|| OAuthError::invalid_request("redirect_uri is required"))?;
    let verifier = form.bounded("code_verifier", 256)?;
    if !looks_like(SecretKind::AuthorizationCode, code) {
        return Err(OAuthError::invalid_grant("unknown authorization code"));
    }
    let now = state.clock.now();
    let code = match state
        .db
        .redeem_authorization_code(&secret_hash(code), now)
        .await?
    {
        CodeRedemption::Unknown => {
            return Err(OAuthError::invalid_grant("unknown authorization code"))
        }
        CodeRedemption::AlreadyUsed(used) => {
            let revoked = state.db.revoke_grant(used.grant_id, now).await?;
            state.tep.forget_all();
            tracing::warn!(client = %used.client_id, revoked, "authorization code replayed; grant revoked");
            return Err(OAuthError::invalid_grant(
                "authorization code was already used; tokens issued with it are revoked",
            ));
        }
        CodeRedemption::Redeemed(code) => code,
    };
    if code.client_id != caller.id() {
        return Err(OAuthError::invalid_grant(
            "authorization code was issued to another client",
        ));
    }
    if code.expires_at <= now {
        return Err(OAuthError::invalid_grant("authorization code expired"));
    }
    if code.redirect_uri != redirect_uri {
        return Err(OAuthError::invalid_grant(
            "redirect_uri does not match the authorization request",
        ));
    }
    match (&code.code_challenge, verifier) {
        (Some(challenge), Some(verifier)) => {
            if !pkce::valid_verifier(verifier) {
                return Err(OAuthError::invalid_grant(
                    "code_verifier must be 43-128 characters of [A-Za-z0-9-._~]",
                ));
            }
            if !pkce::verify_s256(verifier, challenge) {
                return Err(OAuthError::invalid_grant("code_verifier does not match"));
            }
        }
        (Some(_), None) => return Err(OAuthError::invalid_grant("code_verifier is required")),
        (None, Some(_)) => {
            return Err(OAuthError::invalid_grant(
                "the authorization request had no code_challenge",
            ))
        }
        (None, None) if !caller.confidential => {
            return Err(OAuthError::invalid_grant(
                "PKCE is required for public clients",
            ))
        }
        (None, None) => {}
    }
    let user = active_user(state, code.user_id).await?;
    // The registration may have narrowed since the user approved.
    let granted =
        scopes::from_stored(&code.scopes).intersection(&scopes::registered(&caller.client));
    issue(
        state,
        Issue {
            client: &caller.client,
            user: Some(user.id),
            scopes: granted.clone(),
            session_id: None,
            grant_id: Some(code.grant_id),
            refresh: Refresh::New(granted),
            miniapp_context: None,
            issued_token_type: false,
        },
    )
    .await
}
