//! Reading payments: one by id, or a page of the viewer's newest first. A request past its
//! deadline is expired on the way (lazily), so nobody ever sees a live payment that is
//! already dead.

use super::{PaymentPorts, PaymentsError};
use time::OffsetDateTime;
use tmcp_domain::cursor;
use tmcp_domain::payment_state::PaymentStatus;
use tmcp_domain::PaymentId;
use tmcp_repository::{Payment, PaymentCursor, PaymentQuery, PaymentViewer};
use uuid::Uuid;

pub const DEFAULT_LIMIT: u32 = 20;
pub const MAX_LIMIT: u32 = 100;

/// A page of payments and the cursor of the next (older) one.
#[derive(Debug, Clone)]
pub struct PaymentPage {
    pub payments: Vec<Payment>,
    pub limit: u32,
    pub next_cursor: Option<String>,
}

/// Expires `payment` if it is due, returning the row as it is now.
pub async fn settle_expiry(
    ports: PaymentPorts<'_>,
    payment: Payment,
    now: OffsetDateTime,
) -> Result<Payment, PaymentsError> {
    if !payment.is_due(now) {
        return Ok(payment);
    }
    match ports.db.expire_payment(payment.id, now).await? {
        Some(expired) => Ok(expired),
        // Someone else moved it first (the job, or a transition): read what they left.
        None => Ok(ports
            .db
            .payment(payment.id, &PaymentViewer::Admin)
            .await?
            .unwrap_or(payment)),
    }
}

/// The payment if the viewer may see it.
pub async fn payment(
    ports: PaymentPorts<'_>,
    viewer: &PaymentViewer,
    id: PaymentId,
) -> Result<Payment, PaymentsError> {
    let found = ports
        .db
        .payment(id, viewer)
        .await?
        .ok_or(PaymentsError::NotFound)?;
    settle_expiry(ports, found, ports.now()).await
}

/// The viewer's payments, newest first, optionally of one status.
pub async fn list(
    ports: PaymentPorts<'_>,
    viewer: PaymentViewer,
    status: Option<&str>,
    limit: Option<u32>,
    cursor: Option<&str>,
) -> Result<PaymentPage, PaymentsError> {
    let status = status
        .map(|s| {
            PaymentStatus::parse(s)
                .ok_or_else(|| PaymentsError::invalid("status", "status is not a payment status"))
        })
        .transpose()?;
    let limit = limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(PaymentsError::invalid("limit", "limit must be 1 to 100"));
    }
    let before = cursor.map(decode_cursor).transpose()?;
    let now = ports.now();
    let mut rows = ports
        .db
        .list_payments(&PaymentQuery {
            viewer,
            status,
            before,
            limit: limit + 1,
        })
        .await?;
    let has_more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    let next_cursor = if has_more {
        rows.last().map(encode_cursor)
    } else {
        None
    };
    let mut payments = Vec::with_capacity(rows.len());
    for row in rows {
        payments.push(settle_expiry(ports, row, now).await?);
    }
    Ok(PaymentPage {
        payments,
        limit,
        next_cursor,
    })
}

/// Newest-first position: the last payment's creation time (unix nanoseconds) and id.
fn encode_cursor(payment: &Payment) -> String {
    cursor_text(&PaymentCursor {
        created_at: payment.created_at,
        id: payment.id,
    })
}

/// The opaque text of a listing position (public so the cursor fuzz target can check that
/// decoding and encoding agree).
pub fn cursor_text(position: &PaymentCursor) -> String {
    let nanos = position.created_at.unix_timestamp_nanos().to_string();
    cursor::encode("p1", &[&nanos, &position.id.0.simple().to_string()])
}

/// A listing position from a client's `cursor`; anything not made by [`cursor_text`] is a 400.
pub fn decode_cursor(text: &str) -> Result<PaymentCursor, PaymentsError> {
    let bad = || PaymentsError::invalid("cursor", "cursor is not valid");
    let [nanos, id] = cursor::decode("p1", text).ok_or_else(bad)?;
    let nanos: i128 = nanos.parse().map_err(|_| bad())?;
    let created_at = OffsetDateTime::from_unix_timestamp_nanos(nanos).map_err(|_| bad())?;
    let id = Uuid::try_parse(&id).map_err(|_| bad())?;
    Ok(PaymentCursor {
        created_at,
        id: PaymentId(id),
    })
}
