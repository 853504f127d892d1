//! The second factor of a payment at or above the threshold: a challenge offers the user's
//! enrolled methods (TOTP, transaction PIN, biometric device signature); a proof is checked
//! by the accounts service's second-factor checks (written once there), then recorded under
//! the payment's lock: verified → the hold is captured and the payment completes; wrong → one
//! of 3 attempts gone (the last fails the payment and releases the hold); expired → 410.

use super::reads::settle_expiry;
use super::{PaymentPorts, PaymentSettings, PaymentsError};
use crate::accounts::second_factor::{verify_second_factor, SecondFactor};
use tmcp_domain::payment_state::PaymentState;
use tmcp_domain::{PaymentId, UserId};
use tmcp_repository::payment_tx::{MfaAttempt, NewChallenge};
use tmcp_repository::{
    ChallengeMethod, MfaChallenge, MfaMethodType, MfaOutcome, Payment, PaymentViewer,
};
use uuid::Uuid;

/// What a biometric signature must name for payment `id`: the device signs
/// `tmcp-mfa:payment:{id}:{device_id}:{timestamp}`.
pub fn biometric_action(id: PaymentId) -> String {
    format!("payment:{id}")
}

fn challenge_method(kind: MfaMethodType) -> ChallengeMethod {
    match kind {
        MfaMethodType::Totp => ChallengeMethod::Totp,
        MfaMethodType::TransactionPin => ChallengeMethod::Pin,
        MfaMethodType::Biometric => ChallengeMethod::Biometric,
    }
}

/// The user's active second factors, each kind once, in a stable order.
pub async fn enrolled(
    ports: PaymentPorts<'_>,
    user: UserId,
) -> Result<Vec<ChallengeMethod>, PaymentsError> {
    let mut methods: Vec<ChallengeMethod> = Vec::new();
    for kind in [
        MfaMethodType::Totp,
        MfaMethodType::TransactionPin,
        MfaMethodType::Biometric,
    ] {
        let has = ports
            .db
            .list_mfa_methods(user)
            .await?
            .iter()
            .any(|m| m.is_active && m.method_type == kind);
        if has {
            methods.push(challenge_method(kind));
        }
    }
    Ok(methods)
}

fn payer(viewer: &PaymentViewer) -> Result<UserId, PaymentsError> {
    match viewer {
        PaymentViewer::User(user) | PaymentViewer::UserInApp(user, _) => Ok(*user),
        _ => Err(PaymentsError::NotFound),
    }
}

/// The viewer's payment, expired first if due, which must be waiting for MFA.
async fn waiting(
    ports: PaymentPorts<'_>,
    viewer: &PaymentViewer,
    id: PaymentId,
) -> Result<Payment, PaymentsError> {
    let found = ports
        .db
        .payment(id, viewer)
        .await?
        .ok_or(PaymentsError::NotFound)?;
    let payment = settle_expiry(ports, found, ports.now()).await?;
    if payment.state != PaymentState::MfaRequired {
        return Err(PaymentsError::InvalidTransition {
            status: payment.status(),
        });
    }
    Ok(payment)
}

/// A fresh challenge while attempts remain (earlier pending ones expire).
pub async fn new_challenge(
    ports: PaymentPorts<'_>,
    settings: &PaymentSettings,
    viewer: &PaymentViewer,
    id: PaymentId,
) -> Result<MfaChallenge, PaymentsError> {
    let user = payer(viewer)?;
    waiting(ports, viewer, id).await?;
    let methods = enrolled(ports, user).await?;
    if methods.is_empty() {
        return Err(PaymentsError::MfaNotEnrolled);
    }
    Ok(ports
        .db
        .new_mfa_challenge(NewChallenge {
            payment_id: id,
            viewer: viewer.clone(),
            methods,
            challenge_ttl: settings.challenge_ttl,
            at: ports.now(),
        })
        .await?)
}

/// Checks `proof` for challenge `challenge_id` of payment `id` and records the outcome.
pub async fn verify(
    ports: PaymentPorts<'_>,
    settings: &PaymentSettings,
    viewer: &PaymentViewer,
    id: PaymentId,
    challenge_id: &str,
    proof: &SecondFactor,
) -> Result<Payment, PaymentsError> {
    let user = payer(viewer)?;
    let challenge_id =
        Uuid::try_parse(challenge_id).map_err(|_| PaymentsError::ChallengeNotFound)?;
    waiting(ports, viewer, id).await?;
    let mut proof = proof.clone();
    // The wire calls the transaction PIN `pin`; the accounts service `transaction_pin`.
    if proof.method.as_deref() == Some("pin") {
        proof.method = Some(MfaMethodType::TransactionPin.as_db().to_owned());
    }
    let methods = ports.db.list_mfa_methods(user).await?;
    let verified = verify_second_factor(
        ports.accounts(),
        user,
        &methods,
        &proof,
        &biometric_action(id),
    )
    .await?
    .map(challenge_method);
    let outcome = ports
        .db
        .record_mfa_attempt(MfaAttempt {
            payment_id: id,
            challenge_id,
            viewer: viewer.clone(),
            verified,
            fee_basis_points: settings.fee_basis_points,
            at: ports.now(),
        })
        .await?;
    match outcome {
        MfaOutcome::Completed(payment) => Ok(payment),
        MfaOutcome::Wrong { attempts_remaining } => {
            Err(PaymentsError::InvalidMfaCredentials { attempts_remaining })
        }
        MfaOutcome::Locked(_) => Err(PaymentsError::MfaLocked),
        MfaOutcome::Expired => Err(PaymentsError::ChallengeExpired),
    }
}
