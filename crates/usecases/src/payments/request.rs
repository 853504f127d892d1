//! A mini-app asks the user to pay (`POST /api/v1/payments/request`). Idempotent: the key
//! is claimed in the unit of work that creates the payment, together with the creation's
//! answer, so a retry (also after a crash) finds either nothing or the finished answer.

use super::input::{validate, RequestInput};
use super::{PaymentPorts, PaymentSettings, PaymentsError};
use crate::fields::FieldErrors;
use crate::idempotency::{answer_repeat, new_record, validate_key};
use tmcp_domain::ids::uuid_v7_at;
use tmcp_domain::payment_state::PaymentState;
use tmcp_domain::{AppId, PaymentId, UserId};
use tmcp_repository::{IdempotencyRecord, IdempotencyScope, Payment, StoredReply};

/// The idempotency operation name of payment requests.
pub const OPERATION: &str = "payment_request";

/// How a request was answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Requested {
    /// A new payment; the stored reply (201).
    Created(StoredReply),
    /// The key's earlier answer, byte for byte (answered with 200).
    Replayed(StoredReply),
}

/// Renders the creation's answer body (JSON text) for a payment and its merchant's name:
/// the wire shape is the caller's, the use case stores whatever it renders.
pub type RenderReply<'a> = &'a (dyn Fn(&Payment, &str) -> String + Sync);

/// Creates the payment request of `app` for `user`, or answers the key's earlier request.
/// `fingerprint` identifies the request (method, path and canonical body).
pub async fn request_payment(
    ports: PaymentPorts<'_>,
    settings: &PaymentSettings,
    user: UserId,
    app: &AppId,
    input: &RequestInput,
    fingerprint: [u8; 32],
    render: RenderReply<'_>,
) -> Result<Requested, PaymentsError> {
    if let Err(invalid) = validate_key(&input.idempotency_key) {
        let mut errors = FieldErrors::new();
        errors.add("idempotency_key", invalid.to_string());
        return Err(PaymentsError::InvalidFields(errors));
    }
    let scope = IdempotencyScope {
        app_id: Some(app.clone()),
        user_id: user,
    };
    // A key seen before answers without validating or writing anything new.
    if let Some(existing) = ports
        .db
        .idempotency_record(&scope, &input.idempotency_key)
        .await?
    {
        return replay(ports, settings, existing, &fingerprint).await;
    }
    let valid = validate(input)?;
    let merchant_name =
        ports.db.app_name(app).await?.ok_or_else(|| {
            PaymentsError::invalid("app", "the calling mini-app is not registered")
        })?;
    let now = ports.now();
    let payment = Payment {
        id: PaymentId(uuid_v7_at(now)),
        user_id: user,
        app_id: Some(app.clone()),
        amount: valid.amount,
        description: Some(valid.description),
        merchant_order_id: valid.merchant_order_id,
        items: valid.items,
        metadata: valid.metadata,
        callback_url: valid.callback_url,
        state: PaymentState::Initiated,
        mfa_required: settings.needs_mfa(valid.amount),
        mfa_method: None,
        mfa_verified: false,
        mfa_attempts: 0,
        hold_id: None,
        refunded: 0,
        fee: 0,
        failure_reason: None,
        created_at: now,
        updated_at: now,
        expires_at: Some(now + settings.request_ttl),
        completed_at: None,
    };
    let reply = StoredReply {
        status: 201,
        body: render(&payment, &merchant_name),
    };
    let mut record = new_record(
        scope,
        &input.idempotency_key,
        OPERATION,
        fingerprint,
        payment.id.to_string(),
        now,
        settings.key_retention,
    );
    record.reply = Some(reply.clone());
    match ports.db.create_payment(&payment, &record).await? {
        None => Ok(Requested::Created(reply)),
        // Claimed concurrently by another request with the same key.
        Some(existing) => replay(ports, settings, existing, &fingerprint).await,
    }
}

async fn replay(
    ports: PaymentPorts<'_>,
    settings: &PaymentSettings,
    existing: IdempotencyRecord,
    fingerprint: &[u8; 32],
) -> Result<Requested, PaymentsError> {
    let answer = answer_repeat(ports.db, existing, fingerprint, settings.duplicate_wait).await?;
    Ok(Requested::Replayed(answer?))
}
