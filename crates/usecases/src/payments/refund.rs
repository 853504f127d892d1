//! Refunds (`POST /api/v1/payments/{id}/refund`) by the payment's app backend or an
//! administrator: full or partial, each its own ledger movement merchant → user (the
//! platform gives back its fee share pro rata), never more than was captured. Idempotent
//! like a request: the key is claimed and answered in the refund's unit of work.

use super::input::{check_text, parse_amount, MAX_REASON_CHARS};
use super::{PaymentPorts, PaymentSettings, PaymentsError};
use crate::fields::FieldErrors;
use crate::idempotency::{answer_repeat, new_record, validate_key};
use tmcp_domain::ids::uuid_v7_at;
use tmcp_domain::{PaymentId, UserId};
use tmcp_repository::payment_tx::RefundRequest;
use tmcp_repository::{
    IdempotencyRecord, IdempotencyScope, Payment, PaymentTxError, PaymentViewer, Refund,
    RefundOutcome, StoredReply,
};

pub const OPERATION: &str = "payment_refund";

#[derive(Debug, Clone)]
pub struct RefundInput {
    /// The JSON text of `amount`, if sent.
    pub amount: Option<String>,
    pub reason: String,
    pub idempotency_key: String,
}

/// Refunds `id` as `viewer` (an app backend: `App`, or an administrator: `Admin`, whose
/// keys are scoped to `caller`). The stored reply (200) or its replay is returned.
#[allow(clippy::too_many_arguments)]
pub async fn refund(
    ports: PaymentPorts<'_>,
    settings: &PaymentSettings,
    viewer: &PaymentViewer,
    caller: Option<UserId>,
    id: PaymentId,
    input: &RefundInput,
    fingerprint: [u8; 32],
    render: fn(&Payment, &Refund) -> String,
) -> Result<StoredReply, PaymentsError> {
    let mut errors = FieldErrors::new();
    if let Err(invalid) = validate_key(&input.idempotency_key) {
        errors.add("idempotency_key", invalid.to_string());
    }
    check_text(&mut errors, "reason", &input.reason, MAX_REASON_CHARS, true);
    errors.into_result().map_err(PaymentsError::InvalidFields)?;
    let payment = ports
        .db
        .payment(id, viewer)
        .await?
        .ok_or(PaymentsError::NotFound)?;
    let scope = IdempotencyScope {
        app_id: match viewer {
            PaymentViewer::App(app) => Some(app.clone()),
            _ => None,
        },
        user_id: caller.unwrap_or(payment.user_id),
    };
    if let Some(existing) = ports
        .db
        .idempotency_record(&scope, &input.idempotency_key)
        .await?
    {
        return replay(ports, settings, existing, &fingerprint).await;
    }
    let amount = input
        .amount
        .as_deref()
        .map(|raw| parse_amount("amount", raw, payment.amount.currency))
        .transpose()?
        .map(|m| m.minor);
    let now = ports.now();
    let refund_id = uuid_v7_at(now);
    let key = new_record(
        scope,
        &input.idempotency_key,
        OPERATION,
        fingerprint,
        refund_id.to_string(),
        now,
        settings.key_retention,
    );
    let outcome = ports
        .db
        .refund_payment(RefundRequest {
            payment_id: id,
            viewer: viewer.clone(),
            amount,
            reason: input.reason.clone(),
            refund_id,
            key,
            render,
            at: now,
        })
        .await;
    match outcome {
        Ok(RefundOutcome::Refunded(done)) => Ok(done.2),
        Ok(RefundOutcome::Existing(existing)) => {
            replay(ports, settings, existing, &fingerprint).await
        }
        Err(PaymentTxError::RefundTooLarge { refundable, .. }) => Err(PaymentsError::invalid(
            "amount",
            format!(
                "amount exceeds the {} still refundable",
                tmcp_domain::Money {
                    minor: refundable,
                    currency: payment.amount.currency
                }
                .to_major_string()
            ),
        )),
        Err(PaymentTxError::InvalidTransition(_)) => Err(PaymentsError::InvalidTransition {
            status: payment.status(),
        }),
        Err(other) => Err(other.into()),
    }
}

async fn replay(
    ports: PaymentPorts<'_>,
    settings: &PaymentSettings,
    existing: IdempotencyRecord,
    fingerprint: &[u8; 32],
) -> Result<StoredReply, PaymentsError> {
    let answer = answer_repeat(ports.db, existing, fingerprint, settings.duplicate_wait).await?;
    Ok(answer?)
}
