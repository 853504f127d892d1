//! The answers of a top-up. They are stored with the top-up's final state (in the same
//! transaction) and replayed byte for byte, also when the recovery job settled the top-up,
//! so they are built here, once, rather than by each caller. A failure is answered in the
//! API's error envelope:
//!
//! | outcome | status | code |
//! |---|---|---|
//! | completed | 201 | — (the top-up) |
//! | declined | 402 | `PAYMENT_DECLINED` (`details.reason`: `insufficient_funds`, `card_declined`, …) |
//! | processor timeout | 504 | `PROCESSOR_TIMEOUT` |
//! | processor unreachable | 502 | `PROCESSOR_UNAVAILABLE` |

use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use tmcp_domain::wallet::TopUpState;
use tmcp_repository::{StoredReply, TopUp};

fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&Rfc3339).unwrap_or_default()
}

/// The top-up as the API shows it.
pub fn top_up_view(top_up: &TopUp) -> Value {
    json!({
        "top_up_id": top_up.id.to_string(),
        "status": top_up.state.as_db(),
        "amount": top_up.amount.to_major_string(),
        "currency": top_up.amount.currency.code(),
        "payment_method_id": top_up.payment_method_id.to_string(),
        "processor": top_up.processor,
        "processor_transaction_id": top_up.processor_transaction_id,
        "failure_reason": top_up.failure_reason,
        "created_at": rfc3339(top_up.created_at),
        "settled_at": top_up.settled_at.map(rfc3339),
    })
}

/// The reply of a settled top-up. `request_id` is the request that settled it (or the
/// recovery job's marker).
pub fn settled_reply(top_up: &TopUp, at: OffsetDateTime, request_id: &str) -> StoredReply {
    if top_up.state == TopUpState::Completed {
        return StoredReply {
            status: 201,
            body: top_up_view(top_up).to_string(),
        };
    }
    let reason = top_up.failure_reason.clone().unwrap_or_default();
    let (status, code, message) = match reason.as_str() {
        "processor_timeout" => (
            504,
            "PROCESSOR_TIMEOUT",
            "the payment processor did not answer in time; nothing was charged",
        ),
        "processor_unavailable" => (
            502,
            "PROCESSOR_UNAVAILABLE",
            "the payment processor could not be reached; nothing was charged",
        ),
        _ => (402, "PAYMENT_DECLINED", "the payment method was declined"),
    };
    let body = json!({
        "error": {
            "code": code,
            "message": message,
            "details": {
                "top_up_id": top_up.id.to_string(),
                "status": top_up.state.as_db(),
                "reason": reason,
            },
            "timestamp": rfc3339(at),
            "request_id": request_id,
        }
    });
    StoredReply {
        status,
        body: body.to_string(),
    }
}
