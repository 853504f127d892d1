//! The device authorization grant (RFC 8628) apart from its pages and endpoints: starting a
//! device authorization, finding a typed user code, and recording the user's decision.

use super::error::OAuthServiceError;
use tmcp_domain::ids::uuid_v7_at;
use tmcp_domain::oauth::{
    new_secret, user_code, SecretKind, DEVICE_CODE_TTL, DEVICE_POLL_INTERVAL_SECS,
};
use tmcp_domain::{Clock, UserId};
use tmcp_repository::{
    Database, DeviceAuthorization, NewDeviceAuthorization, OAuthClient, RepoError,
};

/// A started device authorization: the device code (returned once; stored as a hash) and
/// the code the user types.
#[derive(Debug)]
pub struct DeviceStart {
    pub device_code: String,
    pub user_code: String,
    pub expires_in: i64,
    pub interval: i64,
}

/// Starts a device authorization for `client` and `scopes`.
pub async fn start_device_authorization(
    db: &dyn Database,
    clock: &dyn Clock,
    client: &OAuthClient,
    scopes: Vec<String>,
) -> Result<DeviceStart, OAuthServiceError> {
    let now = clock.now();
    // A clash of user codes is rare (20^8 codes); try a few times.
    for _ in 0..5 {
        let device_code = new_secret(SecretKind::DeviceCode);
        let code = user_code::generate();
        let created = db
            .create_device_authorization(NewDeviceAuthorization {
                id: uuid_v7_at(now),
                device_code_hash: device_code.hash,
                user_code: code.clone(),
                client_id: client.client_id.clone(),
                scopes: scopes.clone(),
                interval_secs: DEVICE_POLL_INTERVAL_SECS,
                expires_at: now + DEVICE_CODE_TTL,
                created_at: now,
            })
            .await;
        match created {
            Ok(()) => {
                return Ok(DeviceStart {
                    device_code: device_code.value,
                    user_code: code,
                    expires_in: DEVICE_CODE_TTL.whole_seconds(),
                    interval: DEVICE_POLL_INTERVAL_SECS,
                })
            }
            Err(RepoError::Conflict { .. }) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(OAuthServiceError::UserCodesExhausted)
}

/// The pending authorization a typed code names (case and dashes ignored), with its active
/// client; `None` for an unknown, used or expired code.
pub async fn find_pending_authorization(
    db: &dyn Database,
    clock: &dyn Clock,
    typed: &str,
) -> Result<Option<(DeviceAuthorization, OAuthClient)>, OAuthServiceError> {
    let Some(code) = user_code::normalize(typed) else {
        return Ok(None);
    };
    let Some(found) = db
        .find_pending_device_authorization(&code, clock.now())
        .await?
    else {
        return Ok(None);
    };
    let client = db
        .find_client(&found.client_id)
        .await?
        .filter(|c| c.is_active);
    Ok(client.map(|c| (found, c)))
}

/// Records the user's decision; approval also records the consent. False when the code is
/// no longer pending.
pub async fn decide_device_authorization(
    db: &dyn Database,
    clock: &dyn Clock,
    user: UserId,
    device: &DeviceAuthorization,
    approve: bool,
) -> Result<bool, OAuthServiceError> {
    let now = clock.now();
    if approve {
        db.grant_consent(user, &device.client_id, &device.scopes, now)
            .await?;
    }
    Ok(db
        .decide_device_authorization(&device.user_code, user, approve, now)
        .await?)
}
