//! Second-factor enrolment: after the signed-in user gives the password again
//! (`reauthenticate`).

use super::login::{reauthenticate, AccountLockout, LoginError};
use super::password::hash_secret;
use super::second_factor::seal;
use super::{validate, AccountPorts, AccountSettings, AccountsError};
use crate::fields::FieldErrors;
use serde_json::json;
use tmcp_domain::auth::pin::{validate_pin, PinError};
use tmcp_domain::auth::totp::TotpKey;
use tmcp_domain::ids::uuid_v7_at;
use tmcp_domain::UserId;
use tmcp_repository::{MfaMethod, MfaMethodType, NewMfaMethod, RepoError};

/// A method to enrol: `method_type` is the wire name (`transaction_pin`, `totp`,
/// `biometric`); `pin` for a PIN, `device_id` for a biometric method.
#[derive(Clone)]
pub struct MfaEnrolment {
    pub method_type: String,
    pub password: String,
    pub pin: Option<String>,
    pub device_id: Option<String>,
}

impl std::fmt::Debug for MfaEnrolment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MfaEnrolment")
            .field("method_type", &self.method_type)
            .field("device_id", &self.device_id)
            .field("password", &"<redacted>")
            .field("pin", &"<redacted>")
            .finish()
    }
}

/// The new method; for TOTP also the shared secret (shown once) and its `otpauth://` URI.
pub struct Enrolled {
    pub method: MfaMethod,
    pub secret_base32: Option<String>,
    pub otpauth_uri: Option<String>,
}

fn already_enrolled(kind: MfaMethodType) -> AccountsError {
    match kind {
        MfaMethodType::Biometric => AccountsError::Taken {
            field: "device_id",
            message: "this device already has a biometric method",
        },
        _ => AccountsError::Taken {
            field: "type",
            message: "a method of this type is already enabled; remove it first",
        },
    }
}

fn check_enrolment(enrolment: &MfaEnrolment) -> Result<MfaMethodType, AccountsError> {
    let mut errors = FieldErrors::new();
    let kind = MfaMethodType::from_db(&enrolment.method_type);
    match kind {
        None => errors.add("type", "one of transaction_pin, totp, biometric"),
        Some(MfaMethodType::TransactionPin) => match enrolment.pin.as_deref().map(validate_pin) {
            None => errors.add("pin", "required for transaction_pin"),
            Some(Err(PinError::Format)) => errors.add("pin", "exactly 6 digits"),
            Some(Err(PinError::AllSame)) => errors.add("pin", "too weak: all digits are the same"),
            Some(Err(PinError::Sequential)) => errors.add("pin", "too weak: a sequence"),
            Some(Ok(())) => {}
        },
        Some(MfaMethodType::Biometric) => match enrolment.device_id.as_deref() {
            None => errors.add("device_id", "required for biometric"),
            Some(id) => {
                if let Err(m) = validate::identifier(id) {
                    errors.add("device_id", m);
                }
            }
        },
        Some(_) => {}
    }
    errors.into_result()?;
    kind.ok_or_else(|| AccountsError::internal("validated type missing"))
}

/// Enrols a second factor after re-authentication. A PIN or a biometric method is active at
/// once; a TOTP method becomes active when confirmed with a code from the app.
pub async fn enrol_method<L: AccountLockout>(
    ports: AccountPorts<'_>,
    settings: &AccountSettings,
    lockout: &L,
    user_id: UserId,
    enrolment: MfaEnrolment,
) -> Result<Enrolled, LoginError<L::Refusal>> {
    let kind = check_enrolment(&enrolment)?;
    let user = ports
        .db
        .find_user(user_id)
        .await?
        .ok_or(AccountsError::InvalidToken)?;
    reauthenticate(lockout, &user, enrolment.password).await?;

    let existing = ports.db.list_mfa_methods(user_id).await?;
    let active_of_kind = existing
        .iter()
        .any(|m| m.is_active && m.method_type == kind);
    let now = ports.clock.now();
    let id = uuid_v7_at(now);
    let mut secret_base32 = None;
    let mut otpauth_uri = None;
    let new_method = match kind {
        MfaMethodType::TransactionPin => {
            if active_of_kind {
                return Err(already_enrolled(kind).into());
            }
            let hash = hash_secret(enrolment.pin.unwrap_or_default()).await?;
            NewMfaMethod {
                id,
                user_id,
                method_type: kind,
                method_data: seal(ports.cipher, id, hash.as_bytes()),
                device_id: None,
                is_active: true,
                created_at: now,
            }
        }
        MfaMethodType::Totp => {
            if active_of_kind {
                return Err(already_enrolled(kind).into());
            }
            // An abandoned enrolment is replaced by this one.
            ports.db.delete_inactive_mfa_methods(user_id, kind).await?;
            let secret = TotpKey::generate_secret();
            let key = TotpKey::new(&secret)
                .ok_or_else(|| AccountsError::internal("generated TOTP secret refused"))?;
            secret_base32 = Some(key.secret_base32());
            otpauth_uri = key.otpauth_uri(&settings.totp_issuer, &user.username);
            NewMfaMethod {
                id,
                user_id,
                method_type: kind,
                method_data: seal(ports.cipher, id, &secret),
                device_id: None,
                is_active: false,
                created_at: now,
            }
        }
        MfaMethodType::Biometric => {
            let device_id = enrolment.device_id.unwrap_or_default();
            let device = ports
                .db
                .find_device(user_id, &device_id)
                .await?
                .filter(|d| d.public_key_spki.is_some())
                .ok_or(AccountsError::DeviceNotRegistered)?;
            NewMfaMethod {
                id,
                user_id,
                method_type: kind,
                method_data: json!({ "v": 1, "public_key_hash": device.public_key_hash }),
                device_id: Some(device.device_id),
                is_active: true,
                created_at: now,
            }
        }
    };
    let method = match ports.db.create_mfa_method(new_method).await {
        Ok(method) => method,
        Err(RepoError::Conflict { .. }) => return Err(already_enrolled(kind).into()),
        Err(other) => return Err(other.into()),
    };
    Ok(Enrolled {
        method,
        secret_base32,
        otpauth_uri,
    })
}
