//! Webhook endpoints and the outbox's delivery state: claims under a lease, outcomes
//! recorded only by the lease holder, the attempt log, dead letters put back to pending.

use crate::fixtures::FixtureClock;
use crate::Fixture;
use futures::future::join_all;
use std::collections::HashSet;
use time::Duration;
use tmcp_domain::ids::uuid_v7_at;
use tmcp_domain::Clock;
use tmcp_repository::{
    ClaimRequest, DeliveryAttempt, DeliveryOutcome, DeliveryStatus, OutboxEvent, WebhookEndpoint,
};
use uuid::Uuid;

async fn event(fixture: &Fixture, app_id: &str) -> Uuid {
    let now = fixture.clock.now_for_fixtures();
    let id = uuid_v7_at(now);
    fixture
        .db
        .enqueue_event(OutboxEvent {
            id,
            app_id: app_id.into(),
            event: "scope.revoked".into(),
            payload: serde_json::json!({"event": "scope.revoked", "scopes": ["storage:read"]}),
            created_at: now,
        })
        .await
        .expect("event queued");
    id
}

fn claim(fixture: &Fixture, lease_secs: i64, limit: i64) -> ClaimRequest {
    let now = fixture.clock.now();
    ClaimRequest {
        now,
        lease_until: now + Duration::seconds(lease_secs),
        lease_owner: uuid_v7_at(now),
        limit,
    }
}

fn attempt(fixture: &Fixture, event_id: Uuid, number: i32, status: Option<i32>) -> DeliveryAttempt {
    let now = fixture.clock.now_for_fixtures();
    DeliveryAttempt {
        id: uuid_v7_at(now),
        event_id,
        app_id: "ma_hooks".into(),
        attempt: number,
        status_code: status,
        duration_ms: 12,
        error: status.filter(|s| *s >= 300).map(|s| format!("HTTP {s}")),
        attempted_at: now,
    }
}

pub async fn webhook_endpoints_store_rotate_and_disable(fixture: &Fixture) {
    let db = &fixture.db;
    let now = fixture.clock.now_for_fixtures();
    assert_eq!(
        db.find_webhook_endpoint("ma_hooks").await.expect("read"),
        None
    );
    let endpoint = WebhookEndpoint {
        app_id: "ma_hooks".into(),
        url: "https://hooks.example/tmcp".into(),
        secret_sealed: vec![1, 2, 3],
        previous_secret_sealed: None,
        previous_secret_expires_at: None,
        disabled_at: None,
        created_at: now,
        updated_at: now,
    };
    db.upsert_webhook_endpoint(endpoint.clone())
        .await
        .expect("stored");
    assert_eq!(
        db.find_webhook_endpoint("ma_hooks").await.expect("read"),
        Some(endpoint.clone())
    );
    let later = now + Duration::minutes(1);
    let until = later + Duration::hours(24);
    assert!(db
        .rotate_webhook_secret("ma_hooks", vec![4, 5], until, later)
        .await
        .expect("rotated"));
    assert!(!db
        .rotate_webhook_secret("ma_nobody", vec![4, 5], until, later)
        .await
        .expect("no endpoint"));
    let rotated = db
        .find_webhook_endpoint("ma_hooks")
        .await
        .expect("read")
        .expect("exists");
    assert_eq!(rotated.secret_sealed, vec![4, 5]);
    assert_eq!(rotated.previous_secret_sealed, Some(vec![1, 2, 3]));
    assert_eq!(rotated.previous_secret_expires_at, Some(until));
    db.disable_webhook_endpoint("ma_hooks", later)
        .await
        .expect("disabled");
    let disabled = db
        .find_webhook_endpoint("ma_hooks")
        .await
        .expect("read")
        .expect("exists");
    assert_eq!(disabled.disabled_at, Some(later));
    // Saving the endpoint again (a new URL) re-enables it.
    db.upsert_webhook_endpoint(WebhookEndpoint {
        updated_at: later,
        ..endpoint
    })
    .await
    .expect("stored again");
    let again = db.find_webhook_endpoint("ma_hooks").await.expect("read");
    assert_eq!(again.and_then(|e| e.disabled_at), None);
}

pub async fn due_events_are_claimed_once_under_a_lease(fixture: &Fixture) {
    let db = &fixture.db;
    let first = event(fixture, "ma_hooks").await;
    fixture.clock.advance(Duration::milliseconds(5));
    let second = event(fixture, "ma_hooks").await;
    let held = db
        .claim_due_events(claim(fixture, 60, 10))
        .await
        .expect("claim");
    assert_eq!(
        held.iter().map(|e| e.id).collect::<Vec<_>>(),
        vec![first, second]
    );
    assert!(held.iter().all(|e| e.attempt == 1));
    assert_eq!(held[0].payload["scopes"][0], "storage:read");
    // Leased: nobody else gets them until the lease runs out.
    assert!(db
        .claim_due_events(claim(fixture, 60, 10))
        .await
        .expect("claim")
        .is_empty());
    fixture.clock.advance(Duration::seconds(61));
    let retaken = db
        .claim_due_events(claim(fixture, 60, 1))
        .await
        .expect("claim");
    assert_eq!(retaken.len(), 1, "the limit bounds the batch");
    assert_eq!(retaken[0].id, first);
    assert_eq!(retaken[0].attempt, 2, "the crashed attempt counts");
    // The first claimer lost the lease: its outcome is not recorded.
    let stale = db
        .record_delivery(
            held[0].lease_owner,
            attempt(fixture, first, 1, Some(200)),
            DeliveryOutcome::Delivered {
                at: fixture.clock.now_for_fixtures(),
            },
        )
        .await
        .expect("record");
    assert!(!stale);
    assert!(db
        .delivery_attempts(first)
        .await
        .expect("attempts")
        .is_empty());
}

pub async fn outcomes_are_logged_and_schedule_the_next_attempt(fixture: &Fixture) {
    let db = &fixture.db;
    let id = event(fixture, "ma_hooks").await;
    let now = fixture.clock.now();
    let oldest = db.oldest_due_event(now).await.expect("lag");
    assert!(oldest.is_some_and(|due| due <= now), "{oldest:?}");
    let held = db
        .claim_due_events(claim(fixture, 60, 10))
        .await
        .expect("claim");
    let retry_at = now + Duration::seconds(5);
    assert!(db
        .record_delivery(
            held[0].lease_owner,
            attempt(fixture, id, 1, Some(503)),
            DeliveryOutcome::Retry {
                next_attempt_at: retry_at
            },
        )
        .await
        .expect("recorded"));
    let state = db.delivery_state(id).await.expect("state").expect("exists");
    assert_eq!(state.status, DeliveryStatus::Pending);
    assert_eq!(state.next_attempt_at, Some(retry_at));
    assert_eq!(state.last_error.as_deref(), Some("HTTP 503"));
    assert!(db
        .claim_due_events(claim(fixture, 60, 10))
        .await
        .expect("claim")
        .is_empty());
    fixture.clock.advance(Duration::seconds(5));
    let held = db
        .claim_due_events(claim(fixture, 60, 10))
        .await
        .expect("claim");
    assert_eq!(held.len(), 1);
    assert_eq!(held[0].attempt, 2);
    let done_at = fixture.clock.now_for_fixtures();
    assert!(db
        .record_delivery(
            held[0].lease_owner,
            attempt(fixture, id, 2, Some(204)),
            DeliveryOutcome::Delivered { at: done_at },
        )
        .await
        .expect("recorded"));
    let state = db.delivery_state(id).await.expect("state").expect("exists");
    assert_eq!(state.status, DeliveryStatus::Delivered);
    assert_eq!(state.delivered_at, Some(done_at));
    let log = db.delivery_attempts(id).await.expect("attempts");
    assert_eq!(
        log.iter()
            .map(|a| (a.attempt, a.status_code))
            .collect::<Vec<_>>(),
        vec![(1, Some(503)), (2, Some(204))]
    );
    assert_eq!(
        db.oldest_due_event(fixture.clock.now_for_fixtures())
            .await
            .expect("lag"),
        None
    );
}

pub async fn dead_letters_can_be_requeued(fixture: &Fixture) {
    let db = &fixture.db;
    let id = event(fixture, "ma_hooks").await;
    assert!(!db
        .requeue_event(id, fixture.clock.now_for_fixtures())
        .await
        .expect("pending is not requeued"));
    let held = db
        .claim_due_events(claim(fixture, 60, 10))
        .await
        .expect("claim");
    assert!(db
        .record_delivery(
            held[0].lease_owner,
            attempt(fixture, id, 1, None),
            DeliveryOutcome::Stop {
                status: DeliveryStatus::Dead
            },
        )
        .await
        .expect("recorded"));
    assert_eq!(
        db.delivery_state(id)
            .await
            .expect("state")
            .map(|s| s.status),
        Some(DeliveryStatus::Dead)
    );
    let later = fixture.clock.now_for_fixtures() + Duration::hours(1);
    assert!(db.requeue_event(id, later).await.expect("requeued"));
    let state = db.delivery_state(id).await.expect("state").expect("exists");
    assert_eq!(
        (state.status, state.attempts, state.next_attempt_at),
        (DeliveryStatus::Pending, 0, Some(later))
    );
    assert!(!db
        .requeue_event(uuid_v7_at(later), later)
        .await
        .expect("unknown event"));
}

pub async fn racing_claimers_never_share_an_event(fixture: &Fixture) {
    let mut ids = HashSet::new();
    for _ in 0..40 {
        ids.insert(event(fixture, "ma_hooks").await);
    }
    let claims = (0..8).map(|_| {
        let db = fixture.db.clone();
        let request = claim(fixture, 60, 7);
        tokio::spawn(async move { db.claim_due_events(request).await })
    });
    let mut seen = HashSet::new();
    for result in join_all(claims).await {
        for held in result.expect("task").expect("claim") {
            assert!(seen.insert(held.id), "event {} claimed twice", held.id);
        }
    }
    assert!(seen.is_subset(&ids));
    assert_eq!(seen.len(), 40, "8 claimers x 7 cover all 40 events");
}

/// Finished events past retention go with their attempt logs, oldest first and bounded;
/// pending ones and recent ones stay.
pub async fn finished_events_past_retention_are_purged(fixture: &Fixture) {
    let db = &fixture.db;
    let delivered = event(fixture, "ma_hooks").await;
    let dead = event(fixture, "ma_hooks").await;
    let held = db
        .claim_due_events(claim(fixture, 60, 10))
        .await
        .expect("claim");
    assert_eq!(held.len(), 2);
    for (id, outcome) in [
        (
            delivered,
            DeliveryOutcome::Delivered {
                at: fixture.clock.now_for_fixtures(),
            },
        ),
        (
            dead,
            DeliveryOutcome::Stop {
                status: DeliveryStatus::Dead,
            },
        ),
    ] {
        assert!(db
            .record_delivery(
                held[0].lease_owner,
                attempt(fixture, id, 1, Some(204)),
                outcome
            )
            .await
            .expect("recorded"));
    }
    let pending = event(fixture, "ma_hooks").await;
    fixture.clock.advance(Duration::days(31));
    let recent = event(fixture, "ma_hooks").await;
    let cutoff = fixture.clock.now_for_fixtures() - Duration::days(30);
    assert_eq!(db.purge_webhook_history(cutoff, 1).await.expect("purge"), 1);
    assert_eq!(
        db.purge_webhook_history(cutoff, 10).await.expect("purge"),
        1
    );
    assert_eq!(
        db.purge_webhook_history(cutoff, 10).await.expect("purge"),
        0
    );
    for gone in [delivered, dead] {
        assert!(db.delivery_state(gone).await.expect("state").is_none());
        assert!(db.delivery_attempts(gone).await.expect("log").is_empty());
    }
    for kept in [pending, recent] {
        assert!(db.delivery_state(kept).await.expect("state").is_some());
    }
}
