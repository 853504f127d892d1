//! RFC 7009 revocation: a client revokes one of its own tokens. A TEP dies by its `jti`; a
//! refresh token takes its whole grant with it (every access and refresh token of that
//! authorization). Nothing tells the caller whether anything was revoked, so it learns
//! nothing about tokens of others.

use super::issue::{CallingClient, TokenPorts};
use super::token_error::TokenError;
use super::tokens::TEP_PREFIX;
use tmcp_domain::oauth::{looks_like, secret_hash, SecretKind};

pub async fn revoke_token(
    ports: TokenPorts<'_>,
    caller: &CallingClient,
    token: &str,
) -> Result<(), TokenError> {
    let now = ports.clock.now();
    if token.starts_with(TEP_PREFIX) {
        if let Some(claims) = ports.verifier.verify(token, now) {
            if claims.client_id == caller.id() {
                ports
                    .db
                    .revoke_token(&secret_hash(&claims.jti), now)
                    .await?;
                ports.verifier.forget(&claims.jti);
            }
        }
    } else if looks_like(SecretKind::RefreshToken, token) {
        let found = ports
            .db
            .find_oauth_refresh_token(&secret_hash(token))
            .await?;
        if let Some(refresh) = found.filter(|r| r.client_id == caller.id()) {
            ports.db.revoke_grant(refresh.grant_id, now).await?;
            ports.verifier.forget_all();
        }
    }
    Ok(())
}
