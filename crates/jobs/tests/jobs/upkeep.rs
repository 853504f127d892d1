//! Upkeep as jobs: a purge backlog drains in bounded batches, a full batch asking for the
//! next one at once, and the partition job is idempotent.

use std::time::Duration as StdDuration;
use time::Duration;
use tmcp_contract_tests::storage::{bytes_write, ctx, owner_and_app};
use tmcp_contract_tests::Fixture;
use tmcp_domain::storage::QuotaLimits;
use tmcp_domain::Clock;
use tmcp_jobs::runner::run_once;
use tmcp_jobs::upkeep::{PartitionsJob, StorageExpiryJob, UpkeepSettings};
use tmcp_jobs::Job;

fn settings() -> UpkeepSettings {
    UpkeepSettings {
        interval: StdDuration::from_secs(3600),
        partition_months_ahead: 3,
        analytics_retention_days: 90,
        purge_batch_size: 3,
        storage_sync_retention_days: 30,
    }
}

pub async fn expired_entries_drain_in_bounded_batches(fixture: Fixture) {
    let (user, app) = owner_and_app(&fixture).await;
    let c = ctx(&fixture, QuotaLimits::default());
    for i in 0..7 {
        fixture
            .db
            .put_entry(user, &app, bytes_write(&format!("t{i}"), 10, Some(60)), &c)
            .await
            .expect("stored");
    }
    fixture.clock.advance(Duration::seconds(61));
    let job = StorageExpiryJob {
        db: fixture.db.clone(),
        settings: settings(),
    };
    let mut batches = Vec::new();
    loop {
        let items = job.run_batch(fixture.clock.now()).await.expect("batch");
        batches.push(items);
        if items < job.batch_limit() {
            break;
        }
    }
    assert_eq!(batches, vec![3, 3, 1]);
    // Through the runner's bookkeeping: nothing left, so the batch is not full.
    assert!(!run_once(&job, &fixture.clock).await);
}

pub async fn partition_job_is_idempotent(fixture: Fixture) {
    let job = PartitionsJob {
        db: fixture.db.clone(),
        settings: settings(),
    };
    let far = fixture.clock.now() + Duration::days(400);
    job.run_batch(far).await.expect("first run");
    assert_eq!(job.run_batch(far).await.expect("second run"), 0);
}

crate::on_both_engines!(
    expired_entries_drain_in_bounded_batches,
    partition_job_is_idempotent
);
