//! Changing second factors after enrolment: confirming a TOTP enrolment with a code from
//! the app, removing a method (an active one only with a valid second factor), and removing
//! a device (one that carries biometric MFA only with a valid second factor).

use super::login::LoginError;
use super::second_factor::{check_totp, verify_second_factor, SecondFactor, MAX_CODE_CHARS};
use super::{AccountPorts, AccountsError};
use crate::fields::FieldErrors;
use async_trait::async_trait;
use tmcp_domain::UserId;
use tmcp_repository::{MfaMethod, MfaMethodType};
use uuid::Uuid;

/// The budget of second-factor checks outside login (the TMCP protocol §0), per user. The
/// caller owns the counters and decides what a refusal carries back.
#[async_trait]
pub trait SecondFactorThrottle: Send + Sync {
    type Refusal: Send;
    async fn attempt(&self, user: UserId) -> Result<(), Self::Refusal>;
}

const NO_SUCH_METHOD: &str = "no such MFA method";

fn not_pending() -> AccountsError {
    AccountsError::Taken {
        field: "id",
        message: "only a pending TOTP enrolment can be confirmed",
    }
}

/// Activates a pending TOTP enrolment when `code` is valid for its secret.
pub async fn confirm_totp<T: SecondFactorThrottle>(
    ports: AccountPorts<'_>,
    throttle: &T,
    user: UserId,
    method_id: Uuid,
    code: &str,
) -> Result<MfaMethod, LoginError<T::Refusal>> {
    if code.chars().count() > MAX_CODE_CHARS {
        let mut errors = FieldErrors::new();
        errors.add("code", format!("at most {MAX_CODE_CHARS} characters"));
        return Err(LoginError::InvalidFields(errors));
    }
    let method = ports
        .db
        .find_mfa_method(user, method_id)
        .await?
        .ok_or(AccountsError::NotFound(NO_SUCH_METHOD))?;
    if method.method_type != MfaMethodType::Totp || method.is_active {
        return Err(not_pending().into());
    }
    throttle.attempt(user).await.map_err(LoginError::Refused)?;
    if !check_totp(ports, user, &method, code).await? {
        return Err(AccountsError::SecondFactorRejected.into());
    }
    if !ports
        .db
        .activate_mfa_method(user, method_id, ports.clock.now())
        .await?
    {
        return Err(not_pending().into());
    }
    Ok(ports
        .db
        .find_mfa_method(user, method_id)
        .await?
        .ok_or(AccountsError::NotFound(NO_SUCH_METHOD))?)
}

/// Removes a method. A pending enrolment goes without a proof; an active method needs a
/// valid second factor whose biometric action is `delete_mfa_method:{id}`.
pub async fn remove_method<T: SecondFactorThrottle>(
    ports: AccountPorts<'_>,
    throttle: &T,
    user: UserId,
    method_id: Uuid,
    proof: &SecondFactor,
) -> Result<(), LoginError<T::Refusal>> {
    let methods = ports.db.list_mfa_methods(user).await?;
    let method = methods
        .iter()
        .find(|m| m.id == method_id)
        .ok_or(AccountsError::NotFound(NO_SUCH_METHOD))?;
    if method.is_active {
        throttle.attempt(user).await.map_err(LoginError::Refused)?;
        let action = format!("delete_mfa_method:{method_id}");
        if verify_second_factor(ports, user, &methods, proof, &action)
            .await?
            .is_none()
        {
            return Err(AccountsError::SecondFactorRejected.into());
        }
    }
    if ports.db.delete_mfa_method(user, method_id).await? {
        Ok(())
    } else {
        Err(AccountsError::NotFound(NO_SUCH_METHOD).into())
    }
}

/// Removes one of the user's devices. A device that carries an active biometric method
/// needs a valid second factor whose biometric action is `delete_device:{device_id}`;
/// `proof` is only read then (so a device without one ignores the body).
pub async fn remove_device<T: SecondFactorThrottle>(
    ports: AccountPorts<'_>,
    throttle: &T,
    user: UserId,
    device_id: &str,
    proof: impl FnOnce() -> Result<SecondFactor, T::Refusal> + Send,
) -> Result<(), LoginError<T::Refusal>> {
    let methods = ports.db.list_mfa_methods(user).await?;
    let carries_mfa = methods.iter().any(|m| {
        m.is_active
            && m.method_type == MfaMethodType::Biometric
            && m.device_id.as_deref() == Some(device_id)
    });
    if carries_mfa {
        let proof = proof().map_err(LoginError::Refused)?;
        throttle.attempt(user).await.map_err(LoginError::Refused)?;
        let action = format!("delete_device:{device_id}");
        if verify_second_factor(ports, user, &methods, &proof, &action)
            .await?
            .is_none()
        {
            return Err(AccountsError::SecondFactorRejected.into());
        }
    }
    if ports.db.remove_device(user, device_id).await? {
        Ok(())
    } else {
        Err(AccountsError::NotFound("no such device").into())
    }
}
