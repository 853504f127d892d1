//! Idempotency keys: a key is claimed once per (scope, user), a replay finds the first
//! request's record and reply, racing claimers insert one row, and the purge takes only
//! finished records past their expiry, a bounded batch at a time.

use crate::fixtures::{self, FixtureClock};
use crate::Fixture;
use futures::future::join_all;
use std::sync::Arc;
use time::{Duration, OffsetDateTime};
use tmcp_domain::AppId;
use tmcp_repository::idempotency::REPLY_STORED;
use tmcp_repository::{IdempotencyRecord, IdempotencyScope, RepoError, StoredReply};

fn record(
    scope: &IdempotencyScope,
    key: &str,
    fingerprint: u8,
    resource: &str,
    at: OffsetDateTime,
    expires_at: OffsetDateTime,
) -> IdempotencyRecord {
    IdempotencyRecord {
        scope: scope.clone(),
        key: key.to_owned(),
        operation: "top_up".into(),
        fingerprint: [fingerprint; 32],
        resource_id: resource.to_owned(),
        reply: None,
        created_at: at,
        expires_at,
    }
}

fn reply(status: u16, body: &str) -> StoredReply {
    StoredReply {
        status,
        body: body.to_owned(),
    }
}

async fn purge(fixture: &Fixture, now: OffsetDateTime, limit: u32) -> u64 {
    fixture
        .db
        .purge_idempotency_keys(now, limit)
        .await
        .expect("purge")
}

pub async fn idempotency_keys_claim_once_and_replay(fixture: &Fixture) {
    let user = fixtures::user(fixture, "idem_owner").await;
    let other = fixtures::user(fixture, "idem_other").await;
    let session = IdempotencyScope {
        app_id: None,
        user_id: user.id,
    };
    let at = fixture.clock.now_for_fixtures();
    let expires = at + Duration::hours(72);
    let first = record(&session, "order-1", 1, "topup-1", at, expires);
    let claimed = fixture
        .db
        .claim_idempotency_key(&first)
        .await
        .expect("claim");
    assert_eq!(claimed, None, "a new key is inserted");

    // The same key again (even with another body): the first record, still running.
    let again = record(&session, "order-1", 2, "topup-2", at, expires);
    let existing = fixture
        .db
        .claim_idempotency_key(&again)
        .await
        .expect("claim")
        .expect("the key exists");
    assert_eq!(existing.fingerprint, [1; 32]);
    assert_eq!(existing.resource_id, "topup-1");
    assert_eq!(existing.reply, None);
    assert_eq!(existing.operation, "top_up");
    assert_eq!(existing.scope, session);

    // The reply is stored once; a replay then carries it byte for byte.
    let body = r#"{"top_up_id":"topup-1","amount":"12.50","note":"é \u00e9"}"#;
    fixture
        .db
        .store_idempotent_reply(&session, "order-1", &reply(201, body))
        .await
        .expect("reply stored");
    let second = fixture
        .db
        .store_idempotent_reply(&session, "order-1", &reply(500, "{}"))
        .await;
    assert!(
        matches!(second, Err(RepoError::Conflict { ref constraint }) if constraint == REPLY_STORED),
        "{second:?}"
    );
    let replayed = fixture
        .db
        .claim_idempotency_key(&first)
        .await
        .expect("claim")
        .expect("the key exists");
    assert_eq!(replayed.reply, Some(reply(201, body)));
    let read = fixture
        .db
        .idempotency_record(&session, "order-1")
        .await
        .expect("read")
        .expect("found");
    assert_eq!(read.reply, Some(reply(201, body)));

    // A key that was never claimed has no reply to store.
    let missing = fixture
        .db
        .store_idempotent_reply(&session, "never", &reply(200, "{}"))
        .await;
    assert!(
        matches!(missing, Err(RepoError::Conflict { .. })),
        "{missing:?}"
    );

    // Scopes are separate: another user, or an app of the same user, may use the same key.
    let other_scope = IdempotencyScope {
        app_id: None,
        user_id: other.id,
    };
    let app_scope = IdempotencyScope {
        app_id: Some(AppId::parse("ma_idem_app").expect("app id")),
        user_id: user.id,
    };
    for scope in [&other_scope, &app_scope] {
        let fresh = record(scope, "order-1", 3, "topup-3", at, expires);
        assert_eq!(
            fixture
                .db
                .claim_idempotency_key(&fresh)
                .await
                .expect("claim"),
            None
        );
    }
    let app_record = fixture
        .db
        .idempotency_record(&app_scope, "order-1")
        .await
        .expect("read")
        .expect("found");
    assert_eq!(app_record.scope, app_scope);
    assert_eq!(app_record.resource_id, "topup-3");
    assert_eq!(
        fixture
            .db
            .idempotency_record(&session, "order-2")
            .await
            .expect("read"),
        None
    );
}

pub async fn racing_claimers_of_one_key_insert_once(fixture: &Fixture) {
    let user = fixtures::user(fixture, "idem_racer").await;
    let scope = IdempotencyScope {
        app_id: None,
        user_id: user.id,
    };
    let at = fixture.clock.now_for_fixtures();
    let tasks = (0..32).map(|i| {
        let db = Arc::clone(&fixture.db);
        let claim = record(
            &scope,
            "racing",
            7,
            &format!("r{i}"),
            at,
            at + Duration::hours(1),
        );
        tokio::spawn(async move { db.claim_idempotency_key(&claim).await })
    });
    let mut winners = 0;
    let mut seen = Vec::new();
    for result in join_all(tasks).await {
        match result.expect("task did not panic").expect("claim works") {
            None => winners += 1,
            Some(existing) => seen.push(existing.resource_id),
        }
    }
    assert_eq!(winners, 1, "exactly one claimer inserts");
    let stored = fixture
        .db
        .idempotency_record(&scope, "racing")
        .await
        .expect("read")
        .expect("found");
    assert_eq!(seen.len(), 31);
    assert!(
        seen.iter().all(|r| *r == stored.resource_id),
        "every loser sees the winner's record"
    );
}

pub async fn idempotency_purge_is_bounded_and_spares_running_keys(fixture: &Fixture) {
    let user = fixtures::user(fixture, "idem_purge").await;
    let scope = IdempotencyScope {
        app_id: None,
        user_id: user.id,
    };
    let at = fixture.clock.now_for_fixtures();
    let soon = at + Duration::hours(1);
    let later = at + Duration::hours(3);
    let mut keys = Vec::new();
    for (i, expires) in [soon, soon, soon, soon, soon, later, later]
        .iter()
        .enumerate()
    {
        let key = format!("done-{i}");
        let claim = record(&scope, &key, 1, "r", at, *expires);
        assert_eq!(
            fixture
                .db
                .claim_idempotency_key(&claim)
                .await
                .expect("claim"),
            None
        );
        fixture
            .db
            .store_idempotent_reply(&scope, &key, &reply(201, "{}"))
            .await
            .expect("reply");
        keys.push(key);
    }
    // A request still running when its key expires keeps its key.
    let running = record(&scope, "running", 1, "r", at, soon);
    assert_eq!(
        fixture
            .db
            .claim_idempotency_key(&running)
            .await
            .expect("claim"),
        None
    );

    let now = at + Duration::hours(2);
    assert_eq!(purge(fixture, now, 3).await, 3);
    assert_eq!(purge(fixture, now, 3).await, 2);
    assert_eq!(purge(fixture, now, 3).await, 0);
    for key in &keys[..5] {
        assert_eq!(
            fixture
                .db
                .idempotency_record(&scope, key)
                .await
                .expect("read"),
            None
        );
    }
    for key in keys[5..].iter().chain(["running".to_owned()].iter()) {
        assert!(
            fixture
                .db
                .idempotency_record(&scope, key)
                .await
                .expect("read")
                .is_some(),
            "{key} is kept"
        );
    }
    // Exactly at expiry counts as expired.
    assert_eq!(purge(fixture, later, 10).await, 2);
    assert!(fixture
        .db
        .idempotency_record(&scope, "running")
        .await
        .expect("read")
        .is_some());
    // A purged key can be claimed afresh.
    let reused = record(&scope, "done-0", 2, "r2", later, later + Duration::hours(1));
    assert_eq!(
        fixture
            .db
            .claim_idempotency_key(&reused)
            .await
            .expect("claim"),
        None
    );
}
