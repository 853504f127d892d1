//! The wallet API's tables: payment methods (per user, one default), top-ups (begun with their
//! idempotency key, settled once with their ledger movement and reply) and a user's reads.

pub mod methods;
pub mod reads;
pub mod top_ups;

pub use methods::{
    payment_methods_are_per_user_with_one_default, racing_default_changes_leave_one_default,
};
pub use reads::user_entries_page_newest_first_and_only_own;
pub use top_ups::{
    racing_settlements_settle_a_top_up_once, top_ups_begin_once_and_settle_with_their_movement,
};

use crate::fixtures::FixtureClock;
use crate::Fixture;
use serde_json::json;
use time::OffsetDateTime;
use tmcp_domain::ids::uuid_v7_at;
use tmcp_domain::wallet::TopUpState;
use tmcp_domain::{Money, UserId};
use tmcp_repository::{NewPaymentMethod, PaymentMethod, TopUp};
use uuid::Uuid;

/// A sandbox card of `user` with `token`.
pub async fn add_method(
    fixture: &Fixture,
    user: UserId,
    token: &str,
    make_default: bool,
) -> PaymentMethod {
    let at = fixture.clock.now_for_fixtures();
    fixture
        .db
        .add_payment_method(NewPaymentMethod {
            id: uuid_v7_at(at),
            user_id: user,
            method_type: "card".into(),
            provider: "sandbox".into(),
            provider_method_id: token.into(),
            method_data: json!({"brand": "visa", "last4": "4242", "exp_month": 12, "exp_year": 2030}),
            make_default,
            at,
        })
        .await
        .expect("method added")
}

/// A top-up of `amount` with `method` under idempotency `key`, as its request's first
/// transaction writes it: processing, not yet sent to a processor, created at `at`.
pub fn processing_top_up(
    user: UserId,
    method: Uuid,
    key: &str,
    amount: Money,
    at: OffsetDateTime,
) -> TopUp {
    TopUp {
        id: uuid_v7_at(at),
        user_id: user,
        payment_method_id: method,
        amount,
        state: TopUpState::Processing,
        processor: String::new(),
        provider_method_id: String::new(),
        idempotency_key: key.into(),
        processor_transaction_id: None,
        failure_reason: None,
        movement_id: None,
        created_at: at,
        updated_at: at,
        settled_at: None,
    }
}
