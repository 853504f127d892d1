//! The end of a payment that is never paid: cancelled by the user or its app before
//! settlement, or expired 5 minutes after its request (lazily on every read and transition,
//! and by the `payment_expiry` job through [`expire_due`]).

use super::reads::settle_expiry;
use super::{PaymentPorts, PaymentsError};
use time::OffsetDateTime;
use tmcp_domain::PaymentId;
use tmcp_repository::{Database, Payment, PaymentTxError, PaymentViewer};

/// Cancels the viewer's payment before settlement; a held amount is released.
pub async fn cancel(
    ports: PaymentPorts<'_>,
    viewer: &PaymentViewer,
    id: PaymentId,
) -> Result<Payment, PaymentsError> {
    let now = ports.now();
    let found = ports
        .db
        .payment(id, viewer)
        .await?
        .ok_or(PaymentsError::NotFound)?;
    let payment = settle_expiry(ports, found, now).await?;
    match ports.db.cancel_payment(id, viewer, now).await {
        Ok(cancelled) => Ok(cancelled),
        Err(PaymentTxError::InvalidTransition(_)) => Err(PaymentsError::InvalidTransition {
            status: payment.status(),
        }),
        Err(other) => Err(other.into()),
    }
}

/// Expires up to `limit` requests past their deadline; returns how many it expired. Each
/// is expired in its own unit of work under the payment's lock, guarded by its state, so
/// two workers (or a worker and a request) never expire one twice.
pub async fn expire_due(
    db: &dyn Database,
    now: OffsetDateTime,
    limit: u32,
) -> Result<u64, PaymentsError> {
    let mut expired = 0;
    for id in db.payments_due(now, limit).await? {
        if db.expire_payment(id, now).await?.is_some() {
            expired += 1;
        }
    }
    Ok(expired)
}
