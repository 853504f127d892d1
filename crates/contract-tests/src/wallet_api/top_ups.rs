//! Top-ups: the key is claimed with the top-up; a second begin with the key writes nothing;
//! a settlement is a guarded update + the ledger movement + the reply, once.

use super::{add_method, processing_top_up};
use crate::fixtures::{self, FixtureClock};
use crate::wallets::{assert_ledger_clean, money, open};
use crate::Fixture;
use futures::future::join_all;
use std::sync::Arc;
use time::Duration;
use tmcp_domain::ids::uuid_v7_at;
use tmcp_domain::wallet::{TopUpState, WalletAccountId};
use tmcp_domain::UserId;
use tmcp_repository::{
    IdempotencyRecord, IdempotencyScope, NewTopUp, StoredReply, TopUp, TopUpBegin, TopUpError,
    TopUpSettlement, WalletOwner,
};
use uuid::Uuid;

fn new_top_up(fixture: &Fixture, user: UserId, method: Uuid, key: &str, minor: i64) -> NewTopUp {
    let top_up = processing_top_up(
        user,
        method,
        key,
        money(minor),
        fixture.clock.now_for_fixtures(),
    );
    let idempotency = IdempotencyRecord {
        scope: IdempotencyScope {
            app_id: None,
            user_id: user,
        },
        key: key.into(),
        operation: "top_up".into(),
        fingerprint: [9; 32],
        resource_id: top_up.id.to_string(),
        reply: None,
        created_at: top_up.created_at,
        expires_at: top_up.created_at + Duration::hours(72),
    };
    NewTopUp {
        top_up,
        idempotency,
    }
}

async fn accounts(fixture: &Fixture, user: UserId) -> (WalletAccountId, WalletAccountId) {
    (
        open(fixture, WalletOwner::Clearing).await.id,
        open(fixture, WalletOwner::User(user)).await.id,
    )
}

/// The wallet's available balance in minor units.
async fn available(fixture: &Fixture, wallet: &WalletAccountId) -> i64 {
    fixture
        .db
        .wallet_balance(wallet)
        .await
        .expect("balance")
        .expect("wallet")
        .available
        .minor
}

fn completed(fixture: &Fixture, top_up: &TopUp) -> TopUp {
    let at = fixture.clock.now_for_fixtures();
    TopUp {
        state: top_up.state.complete().expect("processing"),
        processor_transaction_id: Some(format!("sbx_{}", top_up.id.simple())),
        movement_id: Some(uuid_v7_at(at)),
        updated_at: at,
        settled_at: Some(at),
        ..top_up.clone()
    }
}

fn reply(status: u16) -> StoredReply {
    StoredReply {
        status,
        body: format!("{{\"status\":{status}}}"),
    }
}

pub async fn top_ups_begin_once_and_settle_with_their_movement(fixture: &Fixture) {
    let user = fixtures::user(fixture, "tu_owner").await.id;
    let other = fixtures::user(fixture, "tu_other").await.id;
    let method = add_method(fixture, user, "pm_sandbox_ok-tu1", false).await;
    let others_method = add_method(fixture, other, "pm_sandbox_ok-tu2", false).await;
    let (clearing, wallet) = accounts(fixture, user).await;

    // Another user's method: refused, and the key is not kept.
    let refused = fixture
        .db
        .begin_top_up(&new_top_up(fixture, user, others_method.id, "k1", 500))
        .await;
    assert!(
        matches!(refused, Err(TopUpError::MethodNotFound)),
        "{refused:?}"
    );
    let scope = IdempotencyScope {
        app_id: None,
        user_id: user,
    };
    assert_eq!(
        fixture
            .db
            .idempotency_record(&scope, "k1")
            .await
            .expect("read"),
        None
    );

    let new = new_top_up(fixture, user, method.id, "k1", 500);
    let TopUpBegin::Created(top_up) = fixture.db.begin_top_up(&new).await.expect("begin") else {
        panic!("a new key creates the top-up");
    };
    assert_eq!(top_up.processor, "sandbox");
    assert_eq!(top_up.provider_method_id, "pm_sandbox_ok-tu1");
    // Clock times are whole milliseconds, so they survive both engines exactly.
    assert_eq!(
        fixture.db.top_up(top_up.id).await.expect("read"),
        Some(top_up.clone())
    );
    let again = fixture
        .db
        .begin_top_up(&new_top_up(fixture, user, method.id, "k1", 999))
        .await
        .expect("begin");
    let TopUpBegin::Existing(record) = again else {
        panic!("a used key writes nothing");
    };
    assert_eq!(record.resource_id, top_up.id.to_string());
    assert_eq!(record.reply, None);

    // A top-up left processing is listed for recovery once it is old enough.
    let later = fixture.clock.now_for_fixtures() + Duration::minutes(1);
    let stuck = fixture
        .db
        .processing_top_ups(later, 10)
        .await
        .expect("scan");
    assert_eq!(
        stuck.iter().map(|t| t.id).collect::<Vec<_>>(),
        vec![top_up.id]
    );
    assert!(fixture
        .db
        .processing_top_ups(top_up.created_at, 10)
        .await
        .expect("scan")
        .is_empty());

    let settled = completed(fixture, &top_up);
    let settlement = TopUpSettlement {
        settled: settled.clone(),
        clearing: clearing.clone(),
        wallet: wallet.clone(),
        reply: reply(201),
    };
    let done = fixture
        .db
        .settle_top_up(&settlement)
        .await
        .expect("settles");
    assert_eq!(done.state, TopUpState::Completed);
    assert_eq!(available(fixture, &wallet).await, 500);
    let record = fixture
        .db
        .idempotency_record(&scope, "k1")
        .await
        .expect("read")
        .expect("kept");
    assert_eq!(record.reply, Some(reply(201)));

    // Settling again (or failing it now) is refused and writes nothing.
    let twice = fixture.db.settle_top_up(&settlement).await;
    assert!(
        matches!(twice, Err(TopUpError::AlreadySettled(_))),
        "{twice:?}"
    );
    let at = fixture.clock.now_for_fixtures();
    let failed = TopUp {
        state: TopUpState::Failed,
        failure_reason: Some("card_declined".into()),
        updated_at: at,
        settled_at: Some(at),
        ..top_up.clone()
    };
    let late = fixture
        .db
        .settle_top_up(&TopUpSettlement {
            settled: failed,
            clearing: clearing.clone(),
            wallet: wallet.clone(),
            reply: reply(402),
        })
        .await;
    assert!(
        matches!(late, Err(TopUpError::AlreadySettled(_))),
        "{late:?}"
    );
    let stored = fixture
        .db
        .top_up(top_up.id)
        .await
        .expect("read")
        .expect("found");
    assert_eq!(stored.state, TopUpState::Completed);
    assert_eq!(stored.movement_id, settled.movement_id);
    assert_eq!(available(fixture, &wallet).await, 500);

    // A failed top-up moves no money and stores its reply.
    let second = new_top_up(fixture, user, method.id, "k2", 700);
    let TopUpBegin::Created(second) = fixture.db.begin_top_up(&second).await.expect("begin") else {
        panic!("new key");
    };
    let at = fixture.clock.now_for_fixtures();
    let failed = TopUp {
        state: second.state.fail().expect("processing"),
        failure_reason: Some("card_declined".into()),
        updated_at: at,
        settled_at: Some(at),
        ..second.clone()
    };
    fixture
        .db
        .settle_top_up(&TopUpSettlement {
            settled: failed,
            clearing,
            wallet: wallet.clone(),
            reply: reply(402),
        })
        .await
        .expect("fails cleanly");
    assert_eq!(available(fixture, &wallet).await, 500);
    let record = fixture
        .db
        .idempotency_record(&scope, "k2")
        .await
        .expect("read")
        .expect("kept");
    assert_eq!(record.reply, Some(reply(402)));
    assert_ledger_clean(fixture).await;
}

pub async fn racing_settlements_settle_a_top_up_once(fixture: &Fixture) {
    let user = fixtures::user(fixture, "tu_racer").await.id;
    let method = add_method(fixture, user, "pm_sandbox_ok-race", false).await;
    let (clearing, wallet) = accounts(fixture, user).await;
    let TopUpBegin::Created(top_up) = fixture
        .db
        .begin_top_up(&new_top_up(fixture, user, method.id, "race", 300))
        .await
        .expect("begin")
    else {
        panic!("new key");
    };
    let tasks = (0..8).map(|_| {
        let db = Arc::clone(&fixture.db);
        let settlement = TopUpSettlement {
            settled: completed(fixture, &top_up),
            clearing: clearing.clone(),
            wallet: wallet.clone(),
            reply: reply(201),
        };
        tokio::spawn(async move { db.settle_top_up(&settlement).await })
    });
    let mut settled = 0;
    for result in join_all(tasks).await {
        match result.expect("no panic") {
            Ok(_) => settled += 1,
            Err(TopUpError::AlreadySettled(_)) => {}
            Err(other) => panic!("unexpected: {other:?}"),
        }
    }
    assert_eq!(settled, 1);
    assert_eq!(available(fixture, &wallet).await, 300);
    assert_ledger_clean(fixture).await;
}
