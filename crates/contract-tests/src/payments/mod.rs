//! Payment scenarios: requests read back only by their owners, settlement moving the money
//! with its fee and events in one unit of work, clean failures without funds, expiry, and
//! concurrent settlements from one wallet never overdrawing it.

pub mod concurrency;
pub mod flow;
pub mod property;

pub use concurrency::{
    parallel_settlements_never_overdraw, racing_requests_with_one_key_create_one_payment,
};
pub use flow::{
    due_requests_expire_once, payments_are_read_only_by_their_owners,
    settlement_moves_money_fee_and_events_once, unpaid_payments_fail_cleanly,
};
pub use property::random_payment_interleavings_keep_the_ledger_clean;

use crate::fixtures::{self, FixtureClock};
use crate::wallets::{money, open};
use crate::Fixture;
use time::Duration;
use tmcp_domain::payment_state::PaymentState;
use tmcp_domain::{AppId, PaymentId, UserId};
use tmcp_repository::{IdempotencyRecord, IdempotencyScope, Payment, StoredReply, WalletOwner};

/// A fresh payment request of `minor` USD from `app` to `user`, created through the
/// repository (state `Initiated`, expiring 5 minutes after creation).
pub async fn request(fixture: &Fixture, user: UserId, app: &AppId, minor: i64) -> Payment {
    let payment = new_payment(fixture, user, app, minor);
    let key = key_for(&payment, &payment.id.to_string());
    let existing = fixture
        .db
        .create_payment(&payment, &key)
        .await
        .expect("payment request stored");
    assert_eq!(existing, None, "a fresh key");
    payment
}

/// The idempotency record of a request for `payment` under `key`, its 201 reply included.
pub fn key_for(payment: &Payment, key: &str) -> IdempotencyRecord {
    IdempotencyRecord {
        scope: IdempotencyScope {
            app_id: payment.app_id.clone(),
            user_id: payment.user_id,
        },
        key: key.to_owned(),
        operation: "payment_request".into(),
        fingerprint: [7; 32],
        resource_id: payment.id.to_string(),
        reply: Some(StoredReply {
            status: 201,
            body: format!("{{\"payment_id\":\"{}\"}}", payment.id),
        }),
        created_at: payment.created_at,
        expires_at: payment.created_at + Duration::hours(72),
    }
}

/// A payment request row, not stored.
pub fn new_payment(fixture: &Fixture, user: UserId, app: &AppId, minor: i64) -> Payment {
    let at = fixture.clock.now_for_fixtures();
    Payment {
        id: PaymentId::new_v7(at),
        user_id: user,
        app_id: Some(app.clone()),
        amount: money(minor),
        description: Some("a scenario purchase".into()),
        merchant_order_id: Some(format!("order-{minor}")),
        items: serde_json::json!([]),
        metadata: serde_json::json!({"k": "v"}),
        callback_url: None,
        state: PaymentState::Initiated,
        mfa_required: false,
        mfa_method: None,
        mfa_verified: false,
        mfa_attempts: 0,
        hold_id: None,
        refunded: 0,
        fee: 0,
        failure_reason: None,
        created_at: at,
        updated_at: at,
        expires_at: Some(at + Duration::minutes(5)),
        completed_at: None,
    }
}

/// A merchant app with its developer, and the merchant and platform accounts a settlement
/// expects to exist.
pub async fn merchant(fixture: &Fixture, id: &str) -> AppId {
    let developer = fixtures::user(fixture, &format!("dev_{id}")).await;
    let app = fixtures::app(fixture, id, &developer).await;
    open(fixture, WalletOwner::Merchant(app.clone())).await;
    open(fixture, WalletOwner::Platform).await;
    app
}
