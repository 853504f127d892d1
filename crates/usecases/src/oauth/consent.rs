//! The consent step of the authorization code flow (RFC 6749 §4.1.1–4.1.2): whether the
//! signed-in user still has to approve a request, and approving it, which records the
//! consent and issues a single-use authorization code. The pages around it (login, CSRF,
//! redirects) are the HTTP layer's.

use super::error::OAuthServiceError;
use super::scopes;
use tmcp_domain::ids::uuid_v7_at;
use tmcp_domain::oauth::{new_secret, SecretKind, AUTHORIZATION_CODE_TTL};
use tmcp_domain::scope::{rules, ScopeSet};
use tmcp_domain::{Clock, UserId};
use tmcp_repository::{Database, NewAuthorizationCode};

/// A checked authorization request: the client, its registered redirect URI, the scopes
/// and the PKCE S256 challenge (required of public clients before this point).
#[derive(Debug, Clone, Copy)]
pub struct AuthorizationRequest<'a> {
    pub client_id: &'a str,
    pub redirect_uri: &'a str,
    pub scopes: &'a ScopeSet,
    pub code_challenge: Option<&'a str>,
}

/// Whether some requested scope needs the user's approval and was not approved before.
pub async fn needs_consent(
    db: &dyn Database,
    user: UserId,
    request: AuthorizationRequest<'_>,
) -> Result<bool, OAuthServiceError> {
    let consented = db
        .find_consent(user, request.client_id)
        .await?
        .map(|c| scopes::from_stored(&c.scopes))
        .unwrap_or_default();
    Ok(request
        .scopes
        .iter()
        .any(|s| rules(s).is_some_and(|r| r.needs_consent) && !consented.contains(s)))
}

/// Records the user's consent to the request's scopes and issues an authorization code
/// for it (a new grant); returns the code, whose only copy this is.
pub async fn approve_authorization(
    db: &dyn Database,
    clock: &dyn Clock,
    user: UserId,
    request: AuthorizationRequest<'_>,
) -> Result<String, OAuthServiceError> {
    let now = clock.now();
    db.grant_consent(user, request.client_id, &request.scopes.to_vec(), now)
        .await?;
    let code = new_secret(SecretKind::AuthorizationCode);
    db.create_authorization_code(NewAuthorizationCode {
        code_hash: code.hash,
        grant_id: uuid_v7_at(now),
        client_id: request.client_id.to_owned(),
        user_id: user,
        redirect_uri: request.redirect_uri.to_owned(),
        scopes: request.scopes.to_vec(),
        code_challenge: request.code_challenge.map(str::to_owned),
        expires_at: now + AUTHORIZATION_CODE_TTL,
        created_at: now,
    })
    .await?;
    Ok(code.value)
}
