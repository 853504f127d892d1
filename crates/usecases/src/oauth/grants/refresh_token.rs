//! `grant_type=refresh_token` (RFC 6749 §6): rotating refresh tokens. A narrower `scope`
//! may be requested, never a wider one; a rotated token presented again revokes the whole
//! grant (every access and refresh token it produced).

use super::super::issue::{
    active_user, issue, CallingClient, Issue, IssuedTokens, Refresh, TokenPorts,
};
use super::super::scopes;
use super::super::token_error::TokenError;
use tmcp_domain::ids::uuid_v7_at;
use tmcp_domain::oauth::{looks_like, new_secret, secret_hash, SecretKind, REFRESH_TOKEN_TTL};
use tmcp_repository::{OAuthRefreshRedemption, OAuthRefreshRotation};

/// `scope` is the raw parameter, if sent.
pub async fn refresh_grant(
    ports: TokenPorts<'_>,
    caller: &CallingClient,
    presented: &str,
    scope: Option<&str>,
) -> Result<IssuedTokens, TokenError> {
    let requested = scopes::parse_requested(scope, &caller.client)?;
    if !looks_like(SecretKind::RefreshToken, presented) {
        return Err(TokenError::invalid_grant("unknown refresh token"));
    }
    let presented_hash = secret_hash(presented);
    // Validate the request before anything changes: an escalation attempt must not rotate.
    let current = ports
        .db
        .find_oauth_refresh_token(&presented_hash)
        .await?
        .filter(|t| t.client_id == caller.id())
        .ok_or_else(|| TokenError::invalid_grant("unknown refresh token"))?;
    let granted =
        scopes::from_stored(&current.scopes).intersection(&scopes::registered(&caller.client));
    let scopes = match requested {
        Some(requested) if !requested.is_subset(&granted) => {
            return Err(TokenError::invalid_scope(
                "the requested scope exceeds what was originally granted",
            ))
        }
        Some(requested) => requested,
        None => granted,
    };
    let now = ports.clock.now();
    let next = new_secret(SecretKind::RefreshToken);
    let outcome = ports
        .db
        .rotate_oauth_refresh_token(OAuthRefreshRotation {
            presented_hash,
            client_id: caller.id().to_owned(),
            new_id: uuid_v7_at(now),
            new_hash: next.hash,
            new_expires_at: now + REFRESH_TOKEN_TTL,
            now,
        })
        .await?;
    let old = match outcome {
        OAuthRefreshRedemption::Rotated(old) => old,
        OAuthRefreshRedemption::Reused { grant_id } => {
            ports.verifier.forget_all();
            tracing::warn!(client = %caller.id(), %grant_id, "rotated refresh token reused; grant revoked");
            return Err(TokenError::invalid_grant(
                "refresh token was already used; the grant is revoked",
            ));
        }
        OAuthRefreshRedemption::Dead | OAuthRefreshRedemption::Unknown => {
            return Err(TokenError::invalid_grant(
                "refresh token is expired or revoked",
            ))
        }
    };
    let user = active_user(ports.db, old.user_id).await?;
    issue(
        ports,
        Issue {
            client: &caller.client,
            user: Some(user.id),
            scopes,
            session_id: None,
            grant_id: Some(old.grant_id),
            refresh: Refresh::Rotated(next.value),
            miniapp_context: None,
            issued_token_type: false,
        },
    )
    .await
}
