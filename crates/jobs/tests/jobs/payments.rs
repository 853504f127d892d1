//! `payment_expiry`: requests past their deadline expire in bounded batches, once each,
//! even with two workers sweeping at the same time.

use std::sync::Arc;
use std::time::Duration as StdDuration;
use time::Duration;
use tmcp_contract_tests::payments::{merchant, request};
use tmcp_contract_tests::{fixtures, Fixture};
use tmcp_domain::Clock;
use tmcp_jobs::payment_job::PaymentExpiryJob;
use tmcp_jobs::Job;
use tmcp_repository::PaymentViewer;

pub async fn due_payments_expire_in_bounded_batches_once(fixture: Fixture) {
    let alice = fixtures::user(&fixture, "alice").await;
    let shop = merchant(&fixture, "ma_expiry").await;
    let mut ids = Vec::new();
    for minor in 1..=7 {
        ids.push(request(&fixture, alice.id, &shop, minor).await.id);
    }
    let job = Arc::new(PaymentExpiryJob {
        db: fixture.db.clone(),
        batch_size: 3,
        interval: StdDuration::from_secs(30),
    });
    // Not due yet.
    assert_eq!(job.run_batch(fixture.clock.now()).await.expect("batch"), 0);
    let later = fixture.clock.now() + Duration::minutes(6);
    // Two workers at once: every payment is expired by exactly one of them.
    let mut total = 0;
    loop {
        let workers: Vec<_> = (0..2)
            .map(|_| {
                let job = Arc::clone(&job);
                tokio::spawn(async move { job.run_batch(later).await })
            })
            .collect();
        let mut done = 0;
        for worker in workers {
            done += worker.await.expect("no panic").expect("batch");
        }
        assert!(done <= 6, "two bounded batches");
        total += done;
        if done == 0 {
            break;
        }
    }
    assert_eq!(total, 7);
    for id in ids {
        let payment = fixture
            .db
            .payment(id, &PaymentViewer::Admin)
            .await
            .expect("readable")
            .expect("exists");
        assert_eq!(payment.status().as_db(), "expired");
    }
    let failed = fixture
        .db
        .pending_outbox_events(100)
        .await
        .expect("outbox")
        .iter()
        .filter(|e| e.event == "payment.failed")
        .count();
    assert_eq!(failed, 7, "one payment.failed each");
}

crate::on_both_engines!(due_payments_expire_in_bounded_batches_once);
