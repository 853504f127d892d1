//! Workers: one killed mid-delivery (after the receiver got the request, before the outcome
//! was recorded) delivers after a restart with the same event id; two workers on one
//! PostgreSQL database never send one event at the same time.

use crate::receiver::{Receiver, Reply};
use crate::support::{cipher, settings, Harness};
use rand::rngs::StdRng;
use rand::SeedableRng;
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tmcp_contract_tests::{engines, Fixture, START};
use tmcp_domain::{Clock, ManualClock};
use tmcp_jobs::sender::HttpSender;
use tmcp_jobs::webhook_job::WebhookDeliveryJob;
use tmcp_jobs::Runner;
use tmcp_postgres::{PgDatabase, PgSettings};
use tmcp_repository::{Database, DeliveryStatus};
use tmcp_usecases::webhooks::WebhookSettings;

fn worker(
    db: Arc<dyn Database>,
    clock: Arc<dyn Clock>,
    settings: WebhookSettings,
) -> tmcp_jobs::RunnerHandle {
    let job = WebhookDeliveryJob {
        db,
        cipher: cipher(),
        clock: clock.clone(),
        sender: Arc::new(HttpSender::new(true, Duration::from_secs(10)).expect("client")),
        settings,
        interval: Duration::from_millis(20),
        rng: Mutex::new(StdRng::seed_from_u64(5)),
    };
    Runner::new(clock).with(Arc::new(job)).spawn()
}

pub async fn a_worker_killed_mid_delivery_delivers_after_restart(fixture: Fixture) {
    let receiver = Receiver::start().await;
    receiver.script([Reply::Hang]);
    let hooks = Harness::new(&fixture, settings());
    hooks.register(&receiver.url).await;
    let id = hooks.event().await;
    let clock: Arc<dyn Clock> = Arc::new(fixture.clock.clone());
    let first = worker(fixture.db.clone(), clock.clone(), settings());
    receiver.wait_for(1).await;
    first.abort(); // killed: the request reached the receiver, nothing was recorded
    tokio::time::sleep(Duration::from_millis(50)).await;
    let state = hooks
        .db
        .delivery_state(id)
        .await
        .expect("state")
        .expect("row");
    assert_eq!(state.status, DeliveryStatus::Pending);
    assert!(hooks
        .db
        .delivery_attempts(id)
        .await
        .expect("log")
        .is_empty());

    let second = worker(fixture.db.clone(), clock, settings());
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        receiver.requests().len(),
        1,
        "still leased to the dead worker"
    );
    hooks.advance(121); // the lease (120 s) expires
    receiver.wait_for(2).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let state = hooks
            .db
            .delivery_state(id)
            .await
            .expect("state")
            .expect("row");
        if state.status == DeliveryStatus::Delivered {
            assert_eq!(state.attempts, 2, "the cut-short attempt counts");
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "delivered in time");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    second.stop().await;
    let got = receiver.requests();
    assert_eq!(got.len(), 2);
    assert!(got.iter().all(|r| r.header("webhook-id") == id.to_string()));
    assert_eq!(got[0].body, got[1].body, "the same event, byte for byte");
}

crate::on_both_engines!(a_worker_killed_mid_delivery_delivers_after_restart);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_workers_on_postgres_never_send_one_event_at_once() {
    let (first_db, url, _guard) = engines::fresh_database().await;
    let small = PgSettings {
        max_connections: 4,
        ..PgSettings::default()
    };
    let second_db = PgDatabase::connect(&url, &small)
        .await
        .expect("second pool");
    let clock = ManualClock::new(*START);
    let fixture = Fixture {
        db: Arc::new(first_db),
        clock: clock.clone(),
        _guard: Box::new(()),
    };
    let receiver = Receiver::start().await;
    receiver.delay_answers(Duration::from_millis(30));
    let batches = WebhookSettings {
        batch_size: 3,
        concurrency: 2,
        ..settings()
    };
    let hooks = Harness::new(&fixture, batches.clone());
    hooks.register(&receiver.url).await;
    let mut ids = HashSet::new();
    for _ in 0..24 {
        ids.insert(hooks.event().await.to_string());
    }
    let shared: Arc<dyn Clock> = Arc::new(clock);
    let a = worker(fixture.db.clone(), shared.clone(), batches.clone());
    let b = worker(Arc::new(second_db), shared, batches);
    receiver.wait_for(24).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    a.stop().await;
    b.stop().await;
    let got = receiver.requests();
    assert_eq!(got.len(), 24, "each event sent once");
    let seen: HashSet<String> = got
        .iter()
        .map(|r| r.header("webhook-id").to_owned())
        .collect();
    assert_eq!(seen, ids);
    assert_eq!(receiver.max_overlap(), 1);
}
