//! RFC 7662 introspection for confidential clients (mini-app backends): a client learns
//! about its own tokens, official clients about any. Anything unknown, expired, revoked or
//! not the caller's is inactive.

use super::issue::{CallingClient, TokenPorts};
use super::token_error::TokenError;
use super::tokens::TEP_PREFIX;
use tmcp_domain::oauth::{looks_like, secret_hash, SecretKind};
use tmcp_domain::{SessionId, UserId};
use tmcp_repository::TokenLiveness;

/// What an active token is (RFC 7662 §2.2); `None` fields are not shown.
#[derive(Debug, Clone, Default)]
pub struct ActiveToken {
    pub scope: String,
    pub client_id: String,
    /// User id, or the client id for client-credentials tokens.
    pub sub: String,
    pub aud: Option<String>,
    pub iss: String,
    pub exp: i64,
    pub iat: i64,
    pub nbf: Option<i64>,
    pub jti: Option<String>,
    /// `Bearer` for TEPs, `refresh_token` for refresh tokens.
    pub token_type: &'static str,
    pub wallet_id: Option<String>,
    pub session_id: Option<String>,
}

/// The caller must be a confidential client (the HTTP layer refuses others before).
pub async fn introspect_token(
    ports: TokenPorts<'_>,
    caller: &CallingClient,
    token: &str,
) -> Result<Option<ActiveToken>, TokenError> {
    let may_see = |client_id: &str| caller.client.is_official || client_id == caller.id();
    let now = ports.clock.now();
    if token.starts_with(TEP_PREFIX) {
        let Some(claims) = ports.verifier.verify(token, now) else {
            return Ok(None);
        };
        if !may_see(&claims.client_id) {
            return Ok(None);
        }
        let user_id = uuid::Uuid::parse_str(&claims.sub).ok().map(UserId);
        let session_id = match claims.session_id.as_deref().map(str::parse::<SessionId>) {
            Some(Ok(id)) => Some(id),
            Some(Err(_)) => return Ok(None),
            None => None,
        };
        let live = ports
            .db
            .token_is_live(&TokenLiveness {
                token_hash: secret_hash(&claims.jti),
                client_id: claims.client_id.clone(),
                user_id,
                session_id,
            })
            .await?;
        if !live {
            return Ok(None);
        }
        return Ok(Some(ActiveToken {
            scope: claims.scope,
            client_id: claims.client_id,
            sub: claims.sub,
            aud: Some(claims.aud),
            iss: claims.iss,
            exp: claims.exp,
            iat: claims.iat,
            nbf: Some(claims.nbf),
            jti: Some(claims.jti),
            token_type: "Bearer",
            wallet_id: claims.wallet_id,
            session_id: claims.session_id,
        }));
    }
    if looks_like(SecretKind::RefreshToken, token) {
        let found = ports
            .db
            .find_oauth_refresh_token(&secret_hash(token))
            .await?;
        if let Some(refresh) = found {
            let usable = refresh.rotated_at.is_none()
                && refresh.revoked_at.is_none()
                && refresh.expires_at > now
                && may_see(&refresh.client_id);
            if usable {
                return Ok(Some(ActiveToken {
                    scope: refresh.scopes.join(" "),
                    client_id: refresh.client_id,
                    sub: refresh.user_id.to_string(),
                    exp: refresh.expires_at.unix_timestamp(),
                    iat: refresh.created_at.unix_timestamp(),
                    iss: ports.minter.issuer().to_owned(),
                    token_type: "refresh_token",
                    ..ActiveToken::default()
                }));
            }
        }
    }
    Ok(None)
}
