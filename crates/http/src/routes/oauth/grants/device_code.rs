//! `grant_type=urn:ietf:params:oauth:grant-type:device_code` (RFC 8628 §3.4–3.5): the
//! device polls until the user approved or denied, slower when it polls too fast.

use super::super::client_auth::CallingClient;
use super::super::error::OAuthError;
use super::super::form::Form;
use super::super::issue::{active_user, issue, Issue, Refresh, TokenResponse};
use super::super::scopes;
use crate::AppState;
use axum::http::StatusCode;
use tmcp_domain::ids::uuid_v7_at;
use tmcp_domain::oauth::{looks_like, secret_hash, SecretKind};
use tmcp_repository::DevicePoll;

pub async fn grant(
    state: &AppState,
    caller: &CallingClient,
    form: &Form,
) -> Result<TokenResponse, OAuthError> {
    let device_code = form
        .bounded("device_code", 256)?
        .ok_or_else(|| OAuthError::invalid_request("device_code is required"))?;
    if !looks_like(SecretKind::DeviceCode, device_code) {
        return Err(OAuthError::invalid_grant("unknown device code"));
    }
    let now = state.clock.now();
    let poll = state
        .db
        .poll_device_authorization(&secret_hash(device_code), caller.id(), now)
        .await?;
    let bad =
        |error, description: &str| OAuthError::new(StatusCode::BAD_REQUEST, error, description);
    let authorization = match poll {
        DevicePoll::Pending => {
            return Err(bad("authorization_pending", "the user has not decided yet"))
        }
        DevicePoll::SlowDown { interval_secs } => {
            return Err(bad(
                "slow_down",
                "polling too fast; wait longer between requests",
            )
            .with("interval", interval_secs))
        }
        DevicePoll::Denied => return Err(bad("access_denied", "the user denied the request")),
        DevicePoll::Expired => return Err(bad("expired_token", "the device code expired")),
        DevicePoll::Invalid => {
            return Err(OAuthError::invalid_grant("unknown or used device code"))
        }
        DevicePoll::Approved(authorization) => authorization,
    };
    let user_id = authorization
        .user_id
        .ok_or_else(|| OAuthError::invalid_grant("device authorization has no user"))?;
    let user = active_user(state, user_id).await?;
    let granted = scopes::from_stored(&authorization.scopes)
        .intersection(&scopes::registered(&caller.client));
    issue(
        state,
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
