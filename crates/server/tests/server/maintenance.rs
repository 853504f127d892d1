//! The maintenance run's storage work on both engines: expired entries go in bounded
//! batches with the quota kept exact, and sync history past retention is dropped so that
//! old sync cursors resync.

use time::Duration;
use tmcp_contract_tests::storage::{bytes_write, ctx, key, owner_and_app};
use tmcp_contract_tests::Fixture;
use tmcp_domain::storage::QuotaLimits;
use tmcp_domain::Clock;
use tmcp_server::config::MaintenanceConfig;
use tmcp_server::maintenance::run_once;

async fn storage_upkeep(fixture: Fixture) {
    let (user, app) = owner_and_app(&fixture).await;
    let limits = QuotaLimits::default();
    let c = ctx(&fixture, limits);
    for i in 0..7 {
        fixture
            .db
            .put_entry(user, &app, bytes_write(&format!("t{i}"), 10, Some(60)), &c)
            .await
            .expect("stored");
    }
    fixture
        .db
        .put_entry(user, &app, bytes_write("keep", 5, None), &c)
        .await
        .expect("stored");
    let cursor = fixture
        .db
        .pull_changes(user, &app, None, 100, &c)
        .await
        .expect("pull")
        .next;
    fixture.clock.advance(Duration::seconds(61));

    let settings = MaintenanceConfig {
        purge_batch_size: 3,
        storage_sync_retention_days: 30,
        ..MaintenanceConfig::default()
    };
    let report = run_once(fixture.db.as_ref(), &fixture.clock, &settings)
        .await
        .expect("maintenance");
    assert_eq!(report.entries_purged, 7, "in batches of 3");
    let usage = fixture
        .db
        .quota_usage(user, &app)
        .await
        .expect("read")
        .expect("row");
    assert_eq!((usage.used_bytes, usage.used_keys), (5, 1));
    assert_eq!(
        fixture.db.recount_usage(user, &app).await.expect("recount"),
        (5, 1)
    );
    // The expiries are in the feed while their tombstones are kept.
    let c = ctx(&fixture, limits);
    let recent = fixture
        .db
        .pull_changes(user, &app, Some(cursor), 100, &c)
        .await
        .expect("pull");
    assert_eq!(recent.changes.len(), 7);
    assert!(!recent.full_resync);

    // Thirty days on, the tombstones go and the old cursor must resync.
    fixture.clock.advance(Duration::days(31));
    let report = run_once(fixture.db.as_ref(), &fixture.clock, &settings)
        .await
        .expect("maintenance");
    assert_eq!(report.sync_history_purged, 7);
    let c = ctx(&fixture, limits);
    let stale = fixture
        .db
        .pull_changes(user, &app, Some(cursor), 100, &c)
        .await
        .expect("pull");
    assert!(stale.full_resync);
    assert_eq!(stale.changes.len(), 1, "only the live entry");
    let fresh = fixture
        .db
        .pull_changes(user, &app, Some(recent.next), 100, &c)
        .await
        .expect("pull");
    assert!(
        !fresh.full_resync,
        "a client that saw the deletions carries on"
    );
    assert!(fixture
        .db
        .get_entry(user, &app, &key("keep"), fixture.clock.now())
        .await
        .expect("read")
        .is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storage_upkeep_on_sqlite() {
    storage_upkeep(tmcp_contract_tests::engines::sqlite().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storage_upkeep_on_postgres() {
    storage_upkeep(tmcp_contract_tests::engines::postgres().await).await;
}
