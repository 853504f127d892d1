//! The optional device signature of an authorization: a registered device key of the user
//! signs `"{payment_id}:{amount_minor}:{currency}:{timestamp}"`, within ±5 minutes of now.
//! The key parsing and verification are the domain's (`tmcp_domain::auth::device_key`),
//! the signature decoding the accounts service's.

use super::{PaymentPorts, PaymentsError};
use crate::accounts::second_factor::decode_signature;
use tmcp_domain::auth::device_key::{DeviceKeyAlg, DevicePublicKey};
use tmcp_domain::UserId;
use tmcp_repository::Payment;

/// How far a signature's timestamp may be from now, in seconds.
pub const SKEW_SECS: i64 = 300;

#[derive(Debug, Clone, Default)]
pub struct DeviceProof {
    pub device_id: Option<String>,
    pub signature: Option<String>,
    pub timestamp: Option<i64>,
}

impl DeviceProof {
    pub fn is_empty(&self) -> bool {
        self.device_id.is_none() && self.signature.is_none() && self.timestamp.is_none()
    }
}

/// The message a device signs to authorize `payment` at `timestamp`.
pub fn message(payment: &Payment, timestamp: i64) -> String {
    format!(
        "{}:{}:{}:{timestamp}",
        payment.id,
        payment.amount.minor,
        payment.amount.currency.code()
    )
}

/// Checks the proof if one was sent: all three fields or none; the device must be the
/// user's, with a key; the signature must verify and be recent.
pub async fn check(
    ports: PaymentPorts<'_>,
    user: UserId,
    payment: &Payment,
    proof: &DeviceProof,
) -> Result<(), PaymentsError> {
    if proof.is_empty() {
        return Ok(());
    }
    let (Some(device_id), Some(signature), Some(timestamp)) =
        (&proof.device_id, &proof.signature, proof.timestamp)
    else {
        return Err(PaymentsError::invalid(
            "signature",
            "device_id, signature and timestamp go together",
        ));
    };
    let device = ports
        .db
        .find_device(user, device_id)
        .await?
        .ok_or(PaymentsError::DeviceNotRegistered)?;
    let now = ports.clock.now().unix_timestamp();
    if (now - timestamp).abs() > SKEW_SECS {
        return Err(PaymentsError::InvalidSignature);
    }
    let key = match (
        device
            .public_key_alg
            .as_deref()
            .and_then(DeviceKeyAlg::parse),
        device.public_key_spki.as_deref(),
    ) {
        (Some(alg), Some(spki)) => DevicePublicKey::parse(alg, spki).ok(),
        _ => None,
    }
    .ok_or(PaymentsError::InvalidSignature)?;
    let signature = decode_signature(signature).ok_or(PaymentsError::InvalidSignature)?;
    if key.verify(message(payment, timestamp).as_bytes(), &signature) {
        Ok(())
    } else {
        Err(PaymentsError::InvalidSignature)
    }
}
