//! `grant_type=authorization_code` (RFC 6749 §4.1.3, PKCE RFC 7636 §4.6). The code is spent
//! by the first attempt whatever its outcome; a second use revokes everything the first
//! produced (RFC 6749 §4.1.2).

use super::super::issue::{
    active_user, issue, CallingClient, Issue, IssuedTokens, Refresh, TokenPorts,
};
use super::super::scopes;
use super::super::token_error::TokenError;
use tmcp_domain::oauth::{looks_like, pkce, secret_hash, SecretKind};
use tmcp_repository::CodeRedemption;

/// The request's fields.
#[derive(Debug, Clone, Copy)]
pub struct CodeRedemptionRequest<'a> {
    pub code: &'a str,
    pub redirect_uri: &'a str,
    pub code_verifier: Option<&'a str>,
}

pub async fn redeem_authorization_code(
    ports: TokenPorts<'_>,
    caller: &CallingClient,
    request: CodeRedemptionRequest<'_>,
) -> Result<IssuedTokens, TokenError> {
    if !looks_like(SecretKind::AuthorizationCode, request.code) {
        return Err(TokenError::invalid_grant("unknown authorization code"));
    }
    let now = ports.clock.now();
    let code = match ports
        .db
        .redeem_authorization_code(&secret_hash(request.code), now)
        .await?
    {
        CodeRedemption::Unknown => {
            return Err(TokenError::invalid_grant("unknown authorization code"))
        }
        CodeRedemption::AlreadyUsed(used) => {
            let revoked = ports.db.revoke_grant(used.grant_id, now).await?;
            ports.verifier.forget_all();
            tracing::warn!(client = %used.client_id, revoked, "authorization code replayed; grant revoked");
            return Err(TokenError::invalid_grant(
                "authorization code was already used; tokens issued with it are revoked",
            ));
        }
        CodeRedemption::Redeemed(code) => code,
    };
    if code.client_id != caller.id() {
        return Err(TokenError::invalid_grant(
            "authorization code was issued to another client",
        ));
    }
    if code.expires_at <= now {
        return Err(TokenError::invalid_grant("authorization code expired"));
    }
    if code.redirect_uri != request.redirect_uri {
        return Err(TokenError::invalid_grant(
            "redirect_uri does not match the authorization request",
        ));
    }
    match (&code.code_challenge, request.code_verifier) {
        (Some(challenge), Some(verifier)) => {
            if !pkce::valid_verifier(verifier) {
                return Err(TokenError::invalid_grant(
                    "code_verifier must be 43-128 characters of [A-Za-z0-9-._~]",
                ));
            }
            if !pkce::verify_s256(verifier, challenge) {
                return Err(TokenError::invalid_grant("code_verifier does not match"));
            }
        }
        (Some(_), None) => return Err(TokenError::invalid_grant("code_verifier is required")),
        (None, Some(_)) => {
            return Err(TokenError::invalid_grant(
                "the authorization request had no code_challenge",
            ))
        }
        (None, None) if !caller.confidential => {
            return Err(TokenError::invalid_grant(
                "PKCE is required for public clients",
            ))
        }
        (None, None) => {}
    }
    let user = active_user(ports.db, code.user_id).await?;
    // The registration may have narrowed since the user approved.
    let granted =
        scopes::from_stored(&code.scopes).intersection(&scopes::registered(&caller.client));
    issue(
        ports,
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
