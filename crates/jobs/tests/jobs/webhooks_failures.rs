//! Deliveries the receiver refuses, and targets the policy refuses: 400 and 401 stop and
//! are recorded, 410 disables the endpoint, private targets are refused when saved and when
//! sent (including a host name that resolves to loopback at delivery time); timeouts and
//! refused connections are retried.

use crate::receiver::{Receiver, Reply};
use crate::support::{settings, Harness, APP};
use std::time::Duration;
use tmcp_contract_tests::Fixture;
use tmcp_domain::Clock;
use tmcp_jobs::sender::HttpSender;
use tmcp_repository::DeliveryStatus;
use tmcp_usecases::webhooks::{
    self, EndpointError, OutgoingRequest, SendResult, WebhookSender, WebhookSettings,
};

pub async fn bad_request_and_unauthorized_stop_and_are_recorded(fixture: Fixture) {
    let receiver = Receiver::start().await;
    receiver.script([Reply::Status(400), Reply::Status(401)]);
    let hooks = Harness::new(&fixture, settings());
    hooks.register(&receiver.url).await;
    let first = hooks.event().await;
    let second = hooks.event().await;
    assert_eq!(hooks.deliver().await.stopped, 2);
    hooks.advance(3600);
    assert_eq!(hooks.deliver().await.claimed, 0, "never retried");
    let mut codes = Vec::new();
    for id in [first, second] {
        let state = hooks
            .db
            .delivery_state(id)
            .await
            .expect("state")
            .expect("row");
        assert_eq!(state.status, DeliveryStatus::Failed);
        let log = hooks.db.delivery_attempts(id).await.expect("log");
        assert_eq!(log.len(), 1);
        assert!(log[0].error.is_some());
        codes.push(log[0].status_code);
    }
    codes.sort();
    assert_eq!(codes, vec![Some(400), Some(401)]);
    // The developer's view of the same record, through the use case the CLI prints.
    let (state, log) = webhooks::delivery_log(hooks.db.as_ref(), first)
        .await
        .expect("log");
    assert_eq!((state.status, log.len()), (DeliveryStatus::Failed, 1));
    assert!(matches!(
        webhooks::delivery_log(hooks.db.as_ref(), uuid::Uuid::nil()).await,
        Err(EndpointError::NoSuchEvent)
    ));
    let endpoint = hooks.db.find_webhook_endpoint(APP).await.expect("read");
    assert_eq!(endpoint.and_then(|e| e.disabled_at), None, "still enabled");
}

pub async fn gone_disables_the_endpoint(fixture: Fixture) {
    let receiver = Receiver::start().await;
    receiver.script([Reply::Status(410)]);
    let hooks = Harness::new(&fixture, settings());
    hooks.register(&receiver.url).await;
    let first = hooks.event().await;
    assert_eq!(hooks.deliver().await.stopped, 1);
    let endpoint = hooks
        .db
        .find_webhook_endpoint(APP)
        .await
        .expect("read")
        .expect("exists");
    assert!(endpoint.disabled_at.is_some());
    let state = hooks
        .db
        .delivery_state(first)
        .await
        .expect("state")
        .expect("row");
    assert_eq!(state.status, DeliveryStatus::Failed);
    // Later events are not sent while the endpoint is disabled (dead-lettered instead).
    let second = hooks.event().await;
    assert_eq!(hooks.deliver().await.stopped, 1);
    assert_eq!(receiver.requests().len(), 1);
    let state = hooks
        .db
        .delivery_state(second)
        .await
        .expect("state")
        .expect("row");
    assert_eq!(state.status, DeliveryStatus::Dead);
    // Saving the endpoint again enables it; the dead letter can then be redelivered.
    hooks.register(&receiver.url).await;
    webhooks::redeliver(hooks.db.as_ref(), &hooks.clock, second)
        .await
        .expect("requeued");
    assert_eq!(hooks.deliver().await.delivered, 1);
}

pub async fn private_targets_are_refused_unless_allowed(fixture: Fixture) {
    let receiver = Receiver::start().await;
    let strict = WebhookSettings {
        allow_private_targets: false,
        ..settings()
    };
    let hooks = Harness::new(&fixture, strict.clone());
    let mut rng = rand::rngs::OsRng;
    for url in [
        receiver.url.clone(),
        "https://127.0.0.1/hook".into(),
        "https://[::1]/hook".into(),
        "https://169.254.169.254/latest".into(),
        "https://10.0.0.8/hook".into(),
    ] {
        let refused = webhooks::register_endpoint(
            hooks.db.as_ref(),
            &hooks.cipher,
            &hooks.clock,
            &mut rng,
            &strict,
            APP,
            &url,
        )
        .await;
        assert!(matches!(refused, Err(EndpointError::Target(_))), "{url}");
    }
    // Saved while private targets were allowed, sent after they no longer are: refused at
    // delivery time, nothing reaches the receiver, the event is dead-lettered.
    let lenient = Harness::new(&fixture, settings());
    lenient.register(&receiver.url).await;
    let id = hooks.event().await;
    assert_eq!(hooks.deliver().await.stopped, 1);
    assert!(receiver.requests().is_empty());
    let state = hooks
        .db
        .delivery_state(id)
        .await
        .expect("state")
        .expect("row");
    assert_eq!(state.status, DeliveryStatus::Dead);
}

pub async fn host_names_are_checked_at_delivery_time(fixture: Fixture) {
    let receiver = Receiver::start().await;
    let port = receiver
        .url
        .split(':')
        .nth(2)
        .and_then(|p| p.split('/').next());
    let port = port.expect("port");
    // `localhost` passes the URL check (a name, https) and resolves to loopback only when
    // the request is made: the sender's resolver refuses it.
    let hooks = Harness::new(
        &fixture,
        WebhookSettings {
            allow_private_targets: false,
            ..settings()
        },
    );
    let url = format!("https://localhost:{port}/hook");
    let mut rng = rand::rngs::OsRng;
    webhooks::register_endpoint(
        hooks.db.as_ref(),
        &hooks.cipher,
        &hooks.clock,
        &mut rng,
        &hooks.settings,
        APP,
        &url,
    )
    .await
    .expect("a host name is accepted when saved");
    let id = hooks.event().await;
    assert_eq!(hooks.deliver().await.stopped, 1);
    let log = hooks.db.delivery_attempts(id).await.expect("log");
    assert_eq!(log[0].status_code, None);
    assert!(
        log[0]
            .error
            .as_deref()
            .unwrap_or("")
            .contains("not allowed"),
        "{log:?}"
    );
    assert!(receiver.requests().is_empty());
}

pub async fn network_errors_and_timeouts_are_retried(fixture: Fixture) {
    let receiver = Receiver::start().await;
    receiver.script([Reply::Hang]);
    let mut hooks = Harness::new(&fixture, settings());
    hooks.sender = HttpSender::new(true, Duration::from_millis(500)).expect("client");
    hooks.register(&receiver.url).await;
    let id = hooks.event().await;
    assert_eq!(hooks.deliver().await.retried, 1, "timed out");
    // Nothing listens on the endpoint's port any more: connection refused.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port");
    hooks.register(&format!("http://{closed}/hook")).await;
    hooks.advance(1);
    assert_eq!(hooks.deliver().await.retried, 1, "connection refused");
    let log = hooks.db.delivery_attempts(id).await.expect("log");
    assert_eq!(
        log.iter()
            .map(|a| (a.status_code, a.error.clone()))
            .collect::<Vec<_>>(),
        vec![
            (None, Some("timed out".to_owned())),
            (None, Some("connection failed".to_owned()))
        ]
    );
    let state = hooks
        .db
        .delivery_state(id)
        .await
        .expect("state")
        .expect("row");
    assert_eq!(state.status, DeliveryStatus::Pending);
    assert_eq!(
        state.next_attempt_at,
        Some(hooks.clock.now() + time::Duration::seconds(5))
    );
}

/// The sender on its own: redirects are answers, not followed.
pub async fn redirects_are_not_followed(_fixture: Fixture) {
    let receiver = Receiver::start().await;
    receiver.script([Reply::Status(307)]);
    let sender = HttpSender::new(true, Duration::from_secs(5)).expect("client");
    let result = sender
        .send(OutgoingRequest {
            url: receiver.url.clone(),
            headers: vec![],
            body: b"{}".to_vec(),
        })
        .await;
    assert_eq!(
        result,
        SendResult::Answered {
            status: 307,
            retry_after: None
        }
    );
    let strict = HttpSender::new(false, Duration::from_secs(5)).expect("client");
    let refused = strict
        .send(OutgoingRequest {
            url: receiver.url.clone(),
            headers: vec![],
            body: b"{}".to_vec(),
        })
        .await;
    assert!(matches!(refused, SendResult::Refused(_)), "{refused:?}");
}

crate::on_both_engines!(
    bad_request_and_unauthorized_stop_and_are_recorded,
    gone_disables_the_endpoint,
    private_targets_are_refused_unless_allowed,
    host_names_are_checked_at_delivery_time,
    network_errors_and_timeouts_are_retried,
    redirects_are_not_followed,
);
