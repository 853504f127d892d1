//! Deliveries that succeed: both signatures verify independently, the body is the protocol's,
//! a 500 is retried on the schedule and then delivered once, secrets rotate with an overlap,
//! dead letters are redelivered with their id, and a grant withdrawal's event is delivered.

use crate::receiver::{Receiver, Reply};
use crate::support::{protocol_signature_valid, settings, standard_signature_valid, Harness, APP};
use tmcp_contract_tests::Fixture;
use tmcp_domain::ids::uuid_v7_at;
use tmcp_domain::Clock;
use tmcp_repository::{ConsentWithdrawal, DeliveryStatus, OAuthClient};
use tmcp_usecases::webhooks;

pub async fn deliveries_are_signed_for_both_verifiers(fixture: Fixture) {
    let receiver = Receiver::start().await;
    let hooks = Harness::new(&fixture, settings());
    let secret = hooks.register(&receiver.url).await;
    let id = hooks.event().await;
    let report = hooks.deliver().await;
    assert_eq!((report.claimed, report.delivered), (1, 1));
    let got = receiver.requests();
    assert_eq!(got.len(), 1);
    let request = &got[0];
    let body: serde_json::Value = serde_json::from_slice(&request.body).expect("JSON body");
    assert_eq!(body["event"], "scope.revoked");
    assert_eq!(body["event_id"], id.to_string());
    assert_eq!(body["data"]["scopes"][0], "storage:read");
    assert!(body["timestamp"].is_string());
    assert_eq!(request.header("x-webhook-event-id"), id.to_string());
    assert_eq!(request.header("webhook-id"), id.to_string());
    let sent_at = hooks.clock.now().unix_timestamp().to_string();
    assert_eq!(request.header("webhook-timestamp"), sent_at);
    assert_eq!(request.header("x-webhook-timestamp"), sent_at);
    assert!(protocol_signature_valid(
        request.header("x-webhook-signature"),
        &request.body,
        secret.expose()
    ));
    assert!(standard_signature_valid(
        request.header("webhook-id"),
        request.header("webhook-timestamp"),
        request.header("webhook-signature"),
        &request.body,
        secret.expose()
    ));
    // A different secret, or a tampered body, does not verify.
    let mut tampered = request.body.clone();
    tampered.push(b' ');
    assert!(!protocol_signature_valid(
        request.header("x-webhook-signature"),
        &tampered,
        secret.expose()
    ));
    let state = hooks.db.delivery_state(id).await.expect("state");
    assert_eq!(state.map(|s| s.status), Some(DeliveryStatus::Delivered));
}

pub async fn a_500_is_retried_on_the_schedule_then_delivered_once(fixture: Fixture) {
    let receiver = Receiver::start().await;
    receiver.script([Reply::Status(500), Reply::Status(503), Reply::Status(500)]);
    let hooks = Harness::new(&fixture, settings());
    hooks.register(&receiver.url).await;
    let id = hooks.event().await;
    assert_eq!(hooks.deliver().await.retried, 1);
    // Not due before each delay of the schedule has passed: 1 s, 5 s, 30 s.
    for delay in [1, 5, 30] {
        hooks.advance(delay - 1);
        assert_eq!(
            hooks.deliver().await.claimed,
            0,
            "early after a {delay} s delay"
        );
        hooks.advance(1);
        let report = hooks.deliver().await;
        assert_eq!(report.claimed, 1, "due after {delay} s");
    }
    hooks.advance(3600);
    assert_eq!(
        hooks.deliver().await.claimed,
        0,
        "delivered once, never again"
    );
    let got = receiver.requests();
    assert_eq!(got.len(), 4);
    assert!(got.iter().all(|r| r.header("webhook-id") == id.to_string()));
    let log = hooks.db.delivery_attempts(id).await.expect("log");
    assert_eq!(
        log.iter()
            .map(|a| (a.attempt, a.status_code))
            .collect::<Vec<_>>(),
        vec![
            (1, Some(500)),
            (2, Some(503)),
            (3, Some(500)),
            (4, Some(200))
        ]
    );
    assert_eq!(log[0].error.as_deref(), Some("HTTP 500"));
    let state = hooks
        .db
        .delivery_state(id)
        .await
        .expect("state")
        .expect("row");
    assert_eq!(state.status, DeliveryStatus::Delivered);
}

pub async fn retry_after_is_honoured(fixture: Fixture) {
    let receiver = Receiver::start().await;
    receiver.script([Reply::RetryAfter(429, "120")]);
    let hooks = Harness::new(&fixture, settings());
    hooks.register(&receiver.url).await;
    let id = hooks.event().await;
    let before = hooks.clock.now();
    assert_eq!(hooks.deliver().await.retried, 1);
    let state = hooks
        .db
        .delivery_state(id)
        .await
        .expect("state")
        .expect("row");
    assert_eq!(
        state.next_attempt_at,
        Some(before + time::Duration::seconds(120))
    );
}

pub async fn rotated_secrets_sign_under_both_until_the_overlap_ends(fixture: Fixture) {
    let receiver = Receiver::start().await;
    let hooks = Harness::new(&fixture, settings());
    let old = hooks.register(&receiver.url).await;
    let mut rng = rand::rngs::OsRng;
    let (new, until) = webhooks::rotate_secret(
        hooks.db.as_ref(),
        &hooks.cipher,
        &hooks.clock,
        &mut rng,
        &hooks.settings,
        crate::support::APP,
    )
    .await
    .expect("rotated");
    assert_ne!(old, new);
    hooks.event().await;
    hooks.deliver().await;
    let overlap_over = until - hooks.clock.now() + time::Duration::seconds(1);
    hooks.clock.advance(overlap_over);
    hooks.event().await;
    hooks.deliver().await;
    let got = receiver.requests();
    assert_eq!(got.len(), 2);
    for (request, secrets_that_verify) in [(&got[0], vec![&old, &new]), (&got[1], vec![&new])] {
        for secret in [&old, &new] {
            let expected = secrets_that_verify.contains(&secret);
            assert_eq!(
                protocol_signature_valid(
                    request.header("x-webhook-signature"),
                    &request.body,
                    secret.expose()
                ),
                expected
            );
            assert_eq!(
                standard_signature_valid(
                    request.header("webhook-id"),
                    request.header("webhook-timestamp"),
                    request.header("webhook-signature"),
                    &request.body,
                    secret.expose()
                ),
                expected
            );
        }
    }
}

pub async fn dead_letters_are_redelivered_with_their_id(fixture: Fixture) {
    let receiver = Receiver::start().await;
    let hooks = Harness::new(&fixture, settings());
    // No endpoint yet: dead-lettered at once.
    let id = hooks.event().await;
    assert_eq!(hooks.deliver().await.stopped, 1);
    let state = hooks
        .db
        .delivery_state(id)
        .await
        .expect("state")
        .expect("row");
    assert_eq!(state.status, DeliveryStatus::Dead);
    assert!(receiver.requests().is_empty());
    hooks.register(&receiver.url).await;
    webhooks::redeliver(hooks.db.as_ref(), &hooks.clock, id)
        .await
        .expect("requeued");
    assert_eq!(hooks.deliver().await.delivered, 1);
    assert_eq!(receiver.requests()[0].header("webhook-id"), id.to_string());
    assert!(webhooks::redeliver(hooks.db.as_ref(), &hooks.clock, id)
        .await
        .is_err());
}

/// The `scope.revoked` event a grant withdrawal writes is delivered as written.
pub async fn withdrawal_events_are_delivered(fixture: Fixture) {
    let receiver = Receiver::start().await;
    let hooks = Harness::new(&fixture, settings());
    hooks.register(&receiver.url).await;
    let now = hooks.clock.now();
    hooks
        .db
        .create_client(OAuthClient {
            client_id: APP.into(),
            client_secret_hash: None,
            app_id: Some(APP.into()),
            name: "Hooks".into(),
            redirect_uris: vec!["https://app.example/cb".into()],
            grant_types: vec!["authorization_code".into()],
            scopes: vec!["storage:read".into()],
            is_official: false,
            is_active: true,
            created_at: now,
        })
        .await
        .expect("client");
    let alice = tmcp_contract_tests::fixtures::user(&fixture, "hook_alice").await;
    hooks
        .db
        .grant_consent(alice.id, APP, &["storage:read".into()], now)
        .await
        .expect("consent");
    hooks.advance(1);
    let event_id = uuid_v7_at(hooks.clock.now());
    let withdrawn = hooks
        .db
        .withdraw_consent(ConsentWithdrawal {
            user: alice.id,
            client_id: APP.into(),
            scopes: None,
            at: hooks.clock.now(),
            event_id,
            app_id: APP.into(),
        })
        .await
        .expect("withdrawn");
    assert!(withdrawn.event_queued);
    assert_eq!(hooks.deliver().await.delivered, 1);
    let got = receiver.requests();
    let body: serde_json::Value = serde_json::from_slice(&got[0].body).expect("JSON");
    assert_eq!(body["event"], "scope.revoked");
    assert_eq!(body["event_id"], event_id.to_string());
    assert_eq!(body["data"]["user_id"], alice.id.to_string());
    assert_eq!(body["data"]["scopes"][0], "storage:read");
}

crate::on_both_engines!(
    withdrawal_events_are_delivered,
    deliveries_are_signed_for_both_verifiers,
    a_500_is_retried_on_the_schedule_then_delivered_once,
    retry_after_is_honoured,
    rotated_secrets_sign_under_both_until_the_overlap_ends,
    dead_letters_are_redelivered_with_their_id,
);
