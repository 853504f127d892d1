//! The change feed behind sync pull: every set and deletion after a cursor, in commit order,
//! expiries included, and a forced resync when deletions the client never saw are gone.

use super::{bytes_write, ctx, key, owner_and_app, put};
use crate::Fixture;
use time::Duration;
use tmcp_domain::storage::QuotaLimits;
use tmcp_domain::Clock;
use tmcp_repository::{Change, ChangeKind, ChangePage};

fn summary(page: &ChangePage) -> Vec<(String, &'static str, i64)> {
    page.changes
        .iter()
        .map(|Change { kind, .. }| match kind {
            ChangeKind::Set(entry) => (entry.key.clone(), "set", entry.version),
            ChangeKind::Deleted { key, version, .. } => (key.clone(), "delete", *version),
        })
        .collect()
}

fn owned(items: &[(&str, &'static str, i64)]) -> Vec<(String, &'static str, i64)> {
    items
        .iter()
        .map(|(k, op, v)| ((*k).to_owned(), *op, *v))
        .collect()
}

pub async fn change_feed_reports_sets_and_deletions_in_order(fixture: &Fixture) {
    let (user, app) = owner_and_app(fixture).await;
    let limits = QuotaLimits::default();
    for name in ["a", "b", "c"] {
        put(fixture, user, &app, name, 4, limits)
            .await
            .expect("stored");
    }
    let c = ctx(fixture, limits);
    fixture
        .db
        .delete_entry(user, &app, &key("b"), &c)
        .await
        .expect("deleted");
    put(fixture, user, &app, "a", 6, limits)
        .await
        .expect("stored");

    let first = fixture
        .db
        .pull_changes(user, &app, None, 100, &ctx(fixture, limits))
        .await
        .expect("pull");
    assert_eq!(
        summary(&first),
        owned(&[("c", "set", 1), ("b", "delete", 1), ("a", "set", 2)]),
        "one change per key, latest state, feed order"
    );
    assert!(first.full_resync, "no cursor: the feed is the whole state");
    assert!(!first.has_more);
    let seqs: Vec<i64> = first.changes.iter().map(|c| c.seq).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
    if let Some(ChangeKind::Set(entry)) = first.changes.last().map(|c| &c.kind) {
        assert_eq!(entry.value, vec![b'x'; 6]);
    }

    let idle = fixture
        .db
        .pull_changes(user, &app, Some(first.next), 100, &ctx(fixture, limits))
        .await
        .expect("pull");
    assert!(idle.changes.is_empty() && !idle.has_more && !idle.full_resync);
    assert_eq!(idle.next, first.next);

    put(fixture, user, &app, "d", 1, limits)
        .await
        .expect("stored");
    let next = fixture
        .db
        .pull_changes(user, &app, Some(idle.next), 100, &ctx(fixture, limits))
        .await
        .expect("pull");
    assert_eq!(summary(&next), owned(&[("d", "set", 1)]));

    // Pages.
    let page1 = fixture
        .db
        .pull_changes(user, &app, None, 2, &ctx(fixture, limits))
        .await
        .expect("pull");
    assert_eq!(page1.changes.len(), 2);
    assert!(page1.has_more);
    let page2 = fixture
        .db
        .pull_changes(user, &app, Some(page1.next), 2, &ctx(fixture, limits))
        .await
        .expect("pull");
    assert!(
        !page2.full_resync,
        "paging through the first pull is no resync"
    );
    let page3 = fixture
        .db
        .pull_changes(user, &app, Some(page2.next), 2, &ctx(fixture, limits))
        .await
        .expect("pull");
    let mut all = summary(&page1);
    all.extend(summary(&page2));
    all.extend(summary(&page3));
    assert_eq!(
        all,
        owned(&[
            ("c", "set", 1),
            ("b", "delete", 1),
            ("a", "set", 2),
            ("d", "set", 1)
        ])
    );
    assert!(!page3.has_more || page3.changes.is_empty());
}

pub async fn expiry_shows_as_a_deletion_in_the_feed(fixture: &Fixture) {
    let (user, app) = owner_and_app(fixture).await;
    let limits = QuotaLimits::default();
    let c = ctx(fixture, limits);
    fixture
        .db
        .put_entry(user, &app, bytes_write("session", 8, Some(60)), &c)
        .await
        .expect("stored");
    let seen = fixture
        .db
        .pull_changes(user, &app, None, 100, &c)
        .await
        .expect("pull");
    assert_eq!(summary(&seen), owned(&[("session", "set", 1)]));
    fixture.clock.advance(Duration::seconds(60));
    let later = fixture
        .db
        .pull_changes(user, &app, Some(seen.next), 100, &ctx(fixture, limits))
        .await
        .expect("pull");
    assert_eq!(summary(&later), owned(&[("session", "delete", 1)]));
    if let Some(ChangeKind::Deleted { deleted_at, .. }) = later.changes.first().map(|c| &c.kind) {
        assert_eq!(*deleted_at, fixture.clock.now(), "dated at the expiry");
    }
}

pub async fn purged_tombstones_force_a_resync(fixture: &Fixture) {
    let (user, app) = owner_and_app(fixture).await;
    let limits = QuotaLimits::default();
    put(fixture, user, &app, "keep", 2, limits)
        .await
        .expect("stored");
    put(fixture, user, &app, "gone", 2, limits)
        .await
        .expect("stored");
    let before_delete = fixture
        .db
        .pull_changes(user, &app, None, 100, &ctx(fixture, limits))
        .await
        .expect("pull")
        .next;
    fixture
        .db
        .delete_entry(user, &app, &key("gone"), &ctx(fixture, limits))
        .await
        .expect("deleted");
    let after_delete = fixture
        .db
        .pull_changes(user, &app, Some(before_delete), 100, &ctx(fixture, limits))
        .await
        .expect("pull");
    assert_eq!(summary(&after_delete), owned(&[("gone", "delete", 1)]));

    // Retention passes; the tombstone is purged.
    fixture.clock.advance(Duration::days(31));
    let purged = fixture
        .db
        .purge_sync_history(fixture.clock.now() - Duration::days(30), 100)
        .await
        .expect("purged");
    assert!(purged >= 1);
    // A client that saw the deletion carries on.
    let fine = fixture
        .db
        .pull_changes(
            user,
            &app,
            Some(after_delete.next),
            100,
            &ctx(fixture, limits),
        )
        .await
        .expect("pull");
    assert!(!fine.full_resync && fine.changes.is_empty());
    // A client that did not must start over, from the live state.
    let stale = fixture
        .db
        .pull_changes(user, &app, Some(before_delete), 100, &ctx(fixture, limits))
        .await
        .expect("pull");
    assert!(stale.full_resync);
    assert_eq!(summary(&stale), owned(&[("keep", "set", 1)]));
    // ... and the cursor it got is good from then on.
    let resumed = fixture
        .db
        .pull_changes(user, &app, Some(stale.next), 100, &ctx(fixture, limits))
        .await
        .expect("pull");
    assert!(!resumed.full_resync && resumed.changes.is_empty());
}
