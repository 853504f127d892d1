//! The user authorizes a payment (`POST /api/v1/payments/{id}/authorize`). Below the MFA
//! threshold of its currency it settles at once: the user's wallet pays the merchant's
//! (and the platform fee) in the same transaction as the state change and the events. At
//! or above it the amount is held and the user gets a challenge (`mfa`): 402 `MFA_REQUIRED`.

use super::device_proof::{self, DeviceProof};
use super::mfa;
use super::reads::settle_expiry;
use super::{PaymentPorts, PaymentSettings, PaymentsError};
use tmcp_domain::payment_state::PaymentState;
use tmcp_domain::PaymentId;
use tmcp_repository::payment_tx::{HoldForMfa, Settle};
use tmcp_repository::{HoldOutcome, Payment, PaymentViewer, Settled, WalletOwner};

/// Authorizes the viewer's payment `id`; the viewer must be the paying user (a session, or
/// a mini-app's TEP for that user).
pub async fn authorize(
    ports: PaymentPorts<'_>,
    settings: &PaymentSettings,
    viewer: &PaymentViewer,
    id: PaymentId,
    proof: &DeviceProof,
) -> Result<Payment, PaymentsError> {
    let user = match viewer {
        PaymentViewer::User(user) | PaymentViewer::UserInApp(user, _) => *user,
        _ => return Err(PaymentsError::NotFound),
    };
    let now = ports.now();
    let found = ports
        .db
        .payment(id, viewer)
        .await?
        .ok_or(PaymentsError::NotFound)?;
    let payment = settle_expiry(ports, found, now).await?;
    if payment.state != PaymentState::Initiated {
        return Err(PaymentsError::InvalidTransition {
            status: payment.status(),
        });
    }
    device_proof::check(ports, user, &payment, proof).await?;
    let mfa_methods = if settings.needs_mfa(payment.amount) {
        let methods = mfa::enrolled(ports, user).await?;
        if methods.is_empty() {
            return Err(PaymentsError::MfaNotEnrolled);
        }
        Some(methods)
    } else {
        None
    };
    let app = payment
        .app_id
        .clone()
        .ok_or_else(|| PaymentsError::internal("payment without a merchant"))?;
    let currency = payment.amount.currency;
    ports
        .ensure_account(WalletOwner::Merchant(app), currency)
        .await?;
    if settings.fee_basis_points > 0 {
        ports
            .ensure_account(WalletOwner::Platform, currency)
            .await?;
    }
    if let Some(methods) = mfa_methods {
        let held = ports
            .db
            .hold_for_mfa(HoldForMfa {
                payment_id: id,
                viewer: viewer.clone(),
                methods,
                challenge_ttl: settings.challenge_ttl,
                at: now,
            })
            .await?;
        return Err(match held {
            HoldOutcome::Challenged(_, challenge) => PaymentsError::MfaRequired {
                challenge: Box::new(challenge),
            },
            HoldOutcome::InsufficientFunds {
                required,
                available,
                ..
            } => PaymentsError::InsufficientFunds {
                required,
                available,
            },
        });
    }
    let settled = ports
        .db
        .settle_payment(Settle {
            payment_id: id,
            viewer: viewer.clone(),
            fee_basis_points: settings.fee_basis_points,
            at: now,
        })
        .await?;
    match settled {
        Settled::Completed(payment) => Ok(payment),
        Settled::InsufficientFunds {
            required,
            available,
            ..
        } => Err(PaymentsError::InsufficientFunds {
            required,
            available,
        }),
    }
}
