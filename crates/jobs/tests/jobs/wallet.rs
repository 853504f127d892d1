//! The wallet jobs: the idempotency purge drains expired, finished keys in bounded batches;
//! the recovery job settles top-ups whose request died between its two transactions —
//! with their movement and stored reply, without charging twice — and leaves young ones.

use std::sync::Arc;
use std::time::Duration as StdDuration;
use time::Duration;
use tmcp_contract_tests::fixtures;
use tmcp_contract_tests::wallet_api::{add_method, processing_top_up};
use tmcp_contract_tests::Fixture;
use tmcp_domain::wallet::TopUpState;
use tmcp_domain::{Clock, Currency, Money, UserId};
use tmcp_jobs::runner::run_once;
use tmcp_jobs::wallet_jobs::{IdempotencyExpiryJob, TopUpRecoveryJob};
use tmcp_jobs::Job;
use tmcp_repository::{
    ledger_check, IdempotencyRecord, IdempotencyScope, NewTopUp, StoredReply, TopUp, TopUpBegin,
};
use tmcp_usecases::wallet::{
    ChargeOutcome, ChargeRequest, PaymentProcessor, Processors, SandboxProcessor, WalletSettings,
};
use uuid::Uuid;

fn scope(user: UserId) -> IdempotencyScope {
    IdempotencyScope {
        app_id: None,
        user_id: user,
    }
}

pub async fn expired_idempotency_keys_drain_in_bounded_batches(fixture: Fixture) {
    let user = fixtures::user(&fixture, "idem_job").await.id;
    let now = fixture.clock.now();
    for i in 0..8 {
        let key = format!("k{i}");
        let record = IdempotencyRecord {
            scope: scope(user),
            key: key.clone(),
            operation: "top_up".into(),
            fingerprint: [1; 32],
            resource_id: "r".into(),
            reply: None,
            created_at: now,
            expires_at: now + Duration::hours(72),
        };
        fixture
            .db
            .claim_idempotency_key(&record)
            .await
            .expect("claim");
        // k7 stays running: its key is kept until the top-up is settled.
        if i < 7 {
            let reply = StoredReply {
                status: 201,
                body: "{}".into(),
            };
            fixture
                .db
                .store_idempotent_reply(&scope(user), &key, &reply)
                .await
                .expect("reply");
        }
    }
    let job = IdempotencyExpiryJob {
        db: fixture.db.clone(),
        batch_size: 3,
        interval: StdDuration::from_secs(60),
    };
    assert_eq!(
        job.run_batch(now + Duration::hours(71))
            .await
            .expect("batch"),
        0
    );
    let later = now + Duration::hours(73);
    let mut batches = Vec::new();
    loop {
        let items = job.run_batch(later).await.expect("batch");
        batches.push(items);
        if items < job.batch_limit() {
            break;
        }
    }
    assert_eq!(batches, vec![3, 3, 1]);
    assert!(fixture
        .db
        .idempotency_record(&scope(user), "k7")
        .await
        .expect("read")
        .is_some());
    assert!(!run_once(&job, &fixture.clock).await);
}

async fn stuck_top_up(fixture: &Fixture, user: UserId, method: Uuid, key: &str) -> TopUp {
    let at = fixture.clock.now();
    let usd = Currency::parse("USD").expect("USD");
    let top_up = processing_top_up(
        user,
        method,
        key,
        Money {
            minor: 1500,
            currency: usd,
        },
        at,
    );
    let new = NewTopUp {
        idempotency: IdempotencyRecord {
            scope: scope(user),
            key: key.into(),
            operation: "top_up".into(),
            fingerprint: [2; 32],
            resource_id: top_up.id.to_string(),
            reply: None,
            created_at: at,
            expires_at: at + Duration::hours(72),
        },
        top_up,
    };
    match fixture.db.begin_top_up(&new).await.expect("begin") {
        TopUpBegin::Created(top_up) => top_up,
        TopUpBegin::Existing(_) => panic!("new key"),
    }
}

pub async fn stuck_top_ups_are_settled_once_with_their_reply(fixture: Fixture) {
    let user = fixtures::user(&fixture, "recovery").await.id;
    let ok = add_method(&fixture, user, "pm_sandbox_ok-rec", false).await;
    let poor = add_method(&fixture, user, "pm_sandbox_card_declined-rec", false).await;
    // Two requests died after their first transaction; the first had even been charged.
    let charged = stuck_top_up(&fixture, user, ok.id, "died-after-charge").await;
    let declined = stuck_top_up(&fixture, user, poor.id, "died-declined").await;
    let sandbox = Arc::new(SandboxProcessor::default());
    let first = sandbox
        .charge(&ChargeRequest {
            idempotency_key: charged.id.to_string(),
            amount: charged.amount,
            provider_method_id: charged.provider_method_id.clone(),
        })
        .await;
    assert!(matches!(first, ChargeOutcome::Approved { .. }));

    let settings = WalletSettings {
        processor_timeout: StdDuration::from_secs(2),
        recovery_margin: StdDuration::from_secs(10),
        ..WalletSettings::default()
    };
    let clock: Arc<dyn Clock> = Arc::new(fixture.clock.clone());
    let job = TopUpRecoveryJob {
        db: fixture.db.clone(),
        clock: clock.clone(),
        processors: Processors::new().with(Arc::clone(&sandbox) as Arc<dyn PaymentProcessor>),
        settings,
        interval: StdDuration::from_secs(60),
    };
    // Too young: their requests may still be running.
    fixture.clock.advance(Duration::seconds(5));
    assert_eq!(job.run_batch(clock.now()).await.expect("batch"), 0);
    assert_eq!(job.oldest_due(clock.now()).await.expect("lag"), None);
    fixture.clock.advance(Duration::seconds(10));
    assert_eq!(
        job.oldest_due(clock.now()).await.expect("lag"),
        Some(charged.created_at)
    );
    // A young one made now is left alone.
    let young = stuck_top_up(&fixture, user, ok.id, "young").await;
    assert_eq!(job.run_batch(clock.now()).await.expect("batch"), 2);
    assert_eq!(
        sandbox.charges(),
        1,
        "the charge made before the crash is not repeated"
    );

    let settled = fixture
        .db
        .top_up(charged.id)
        .await
        .expect("read")
        .expect("kept");
    assert_eq!(settled.state, TopUpState::Completed);
    let failed = fixture
        .db
        .top_up(declined.id)
        .await
        .expect("read")
        .expect("kept");
    assert_eq!(failed.state, TopUpState::Failed);
    assert_eq!(failed.failure_reason.as_deref(), Some("card_declined"));
    let untouched = fixture
        .db
        .top_up(young.id)
        .await
        .expect("read")
        .expect("kept");
    assert_eq!(untouched.state, TopUpState::Processing);

    // A client retrying either key now gets the final answer.
    let mut replies = Vec::new();
    for top_up in [&charged, &declined] {
        let record = fixture
            .db
            .idempotency_record(&scope(user), &top_up.idempotency_key)
            .await
            .expect("read")
            .expect("kept");
        replies.push(record.reply.map(|r| r.status));
    }
    assert_eq!(replies, [Some(201), Some(402)]);
    let accounts = fixture
        .db
        .user_wallet_accounts(user)
        .await
        .expect("accounts");
    assert_eq!(accounts.len(), 1);
    assert_eq!(accounts[0].balance, 1500);
    assert!(ledger_check(fixture.db.as_ref())
        .await
        .expect("check")
        .is_clean());
    assert_eq!(
        job.run_batch(clock.now()).await.expect("batch"),
        0,
        "nothing left"
    );
}

crate::on_both_engines!(
    expired_idempotency_keys_drain_in_bounded_batches,
    stuck_top_ups_are_settled_once_with_their_reply
);
