//! `grant_type=urn:ietf:params:oauth:grant-type:device_code` (RFC 8628 §3.4–3.5): the
//! device polls until the user approved or denied, slower when it polls too fast.

use super::super::issue::{
    active_user, issue, CallingClient, Issue, IssuedTokens, Refresh, TokenPorts,
};
use super::super::scopes;
use super::super::token_error::TokenError;
use tmcp_domain::ids::uuid_v7_at;
use tmcp_domain::oauth::{looks_like, secret_hash, SecretKind};
use tmcp_repository::DevicePoll;

pub async fn poll_device_code(
    ports: TokenPorts<'_>,
    caller: &CallingClient,
    device_code: &str,
) -> Result<IssuedTokens, TokenError> {
    if !looks_like(SecretKind::DeviceCode, device_code) {
        return Err(TokenError::invalid_grant("unknown device code"));
    }
    let now = ports.clock.now();
    let poll = ports
        .db
        .poll_device_authorization(&secret_hash(device_code), caller.id(), now)
        .await?;
    let authorization = match poll {
        DevicePoll::Pending => return Err(TokenError::AuthorizationPending),
        DevicePoll::SlowDown { interval_secs } => {
            return Err(TokenError::SlowDown { interval_secs })
        }
        DevicePoll::Denied => return Err(TokenError::AccessDenied),
        DevicePoll::Expired => return Err(TokenError::ExpiredToken),
        DevicePoll::Invalid => {
            return Err(TokenError::invalid_grant("unknown or used device code"))
        }
        DevicePoll::Approved(authorization) => authorization,
    };
    let user_id = authorization
        .user_id
        .ok_or_else(|| TokenError::invalid_grant("device authorization has no user"))?;
    let user = active_user(ports.db, user_id).await?;
    let granted = scopes::from_stored(&authorization.scopes)
        .intersection(&scopes::registered(&caller.client));
    issue(
        ports,
        Issue {
            client: &caller.client,
            user: Some(user.id),
            scopes: granted.clone(),
            session_id: None,
            grant_id: Some(uuid_v7_at(now)),
            refresh: Refresh::New(granted),
            miniapp_context: None,
            issued_token_type: false,
        },
    )
    .await
}
