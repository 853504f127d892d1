//! Single entries: versions, values, preconditions, TTL, quotas, isolation, deleting all.

use super::{
    assert_usage_matches_rows, bytes_write, ctx, get, key, owner_and_app, put, stored, usage,
};
use crate::fixtures;
use crate::Fixture;
use futures::future::join_all;
use std::sync::Arc;
use time::Duration;
use tmcp_domain::storage::value::{checksum, ExpectedVersion, ValueEncoding};
use tmcp_domain::storage::QuotaLimits;
use tmcp_domain::{AppId, Clock};
use tmcp_repository::{EntryWrite, QuotaUsage, RepoError, WriteContext, WriteOutcome};

pub async fn put_get_delete_and_versions(fixture: &Fixture) {
    let (user, app) = owner_and_app(fixture).await;
    let limits = QuotaLimits::default();
    let first = put(fixture, user, &app, "greeting", 5, limits)
        .await
        .expect("stored");
    assert_eq!((first.version, first.size), (1, 5));
    fixture.clock.advance(Duration::seconds(1));
    let second = put(fixture, user, &app, "greeting", 7, limits)
        .await
        .expect("replaced");
    assert_eq!((second.version, second.size), (2, 7));
    assert_eq!(
        second.created_at, first.created_at,
        "creation time survives updates"
    );
    assert!(second.updated_at > first.updated_at);
    assert!(second.change_seq > first.change_seq);

    let read = get(fixture, user, &app, "greeting").await.expect("present");
    assert_eq!(read.value, vec![b'x'; 7]);
    assert_eq!(read.metadata, serde_json::json!({"source": "contract"}));
    assert_eq!(
        assert_usage_matches_rows(fixture, user, &app)
            .await
            .used_bytes,
        7
    );

    let c = ctx(fixture, limits);
    assert!(fixture
        .db
        .delete_entry(user, &app, &key("greeting"), &c)
        .await
        .expect("delete works"));
    assert!(!fixture
        .db
        .delete_entry(user, &app, &key("greeting"), &c)
        .await
        .expect("delete works"));
    assert!(get(fixture, user, &app, "greeting").await.is_none());
    let quota = assert_usage_matches_rows(fixture, user, &app).await;
    assert_eq!((quota.used_bytes, quota.used_keys), (0, 0));

    // Versions continue across a deletion, so an old ETag never matches the new life.
    fixture.clock.advance(Duration::seconds(1));
    let reborn = put(fixture, user, &app, "greeting", 3, limits)
        .await
        .expect("stored again");
    assert_eq!(reborn.version, 3);

    // Keys are byte-limited, and a 256-byte multi-byte key round-trips.
    let wide = "é".repeat(128);
    put(fixture, user, &app, &wide, 1, limits)
        .await
        .expect("256-byte key stored");
    assert!(get(fixture, user, &app, &wide).await.is_some());
}

pub async fn values_round_trip_with_encoding_and_checksum(fixture: &Fixture) {
    let (user, app) = owner_and_app(fixture).await;
    let c = ctx(fixture, QuotaLimits::default());
    let binary: Vec<u8> = (0..=255u8).chain([0, 0, 255]).collect();
    let mut write = EntryWrite::new(key("blob"), binary.clone(), ValueEncoding::Binary);
    write.content_type = "image/x-test".into();
    write.metadata = serde_json::json!({"w": 1, "tags": ["a"]});
    let entry = stored(
        fixture
            .db
            .put_entry(user, &app, write, &c)
            .await
            .expect("stored"),
    );
    assert_eq!(entry.checksum, checksum(&binary));
    assert_eq!(entry.size, 259);
    let text = "héllo \u{1F600}\0end".as_bytes().to_vec();
    let write = EntryWrite::new(key("text"), text.clone(), ValueEncoding::Text);
    fixture
        .db
        .put_entry(user, &app, write, &c)
        .await
        .expect("stored");
    let json = br#"{"b":[1,2.5,"x"],"a":null}"#.to_vec();
    let write = EntryWrite::new(key("json"), json.clone(), ValueEncoding::Json);
    fixture
        .db
        .put_entry(user, &app, write, &c)
        .await
        .expect("stored");

    let blob = get(fixture, user, &app, "blob").await.expect("present");
    assert_eq!(blob.value, binary, "bytes are exact");
    assert_eq!(
        (blob.encoding, blob.content_type.as_str()),
        (ValueEncoding::Binary, "image/x-test")
    );
    assert_eq!(blob.metadata, serde_json::json!({"w": 1, "tags": ["a"]}));
    let read = get(fixture, user, &app, "text").await.expect("present");
    assert_eq!(
        (read.value, read.encoding, read.content_type.as_str()),
        (text, ValueEncoding::Text, "text/plain")
    );
    let read = get(fixture, user, &app, "json").await.expect("present");
    assert_eq!(
        (read.value, read.encoding, read.content_type.as_str()),
        (json, ValueEncoding::Json, "application/json")
    );
    assert_eq!(
        assert_usage_matches_rows(fixture, user, &app)
            .await
            .used_keys,
        3
    );
}

pub async fn version_preconditions_and_last_write_wins(fixture: &Fixture) {
    let (user, app) = owner_and_app(fixture).await;
    let limits = QuotaLimits::default();
    let first = put(fixture, user, &app, "doc", 10, limits)
        .await
        .expect("v1");
    fixture.clock.advance(Duration::seconds(1));

    let mut write = bytes_write("doc", 11, None);
    write.expected = Some(ExpectedVersion::Version(1));
    let second = stored(
        fixture
            .db
            .put_entry(user, &app, write.clone(), &ctx(fixture, limits))
            .await
            .expect("compare-and-set"),
    );
    assert_eq!(second.version, 2);
    // The same precondition again no longer holds.
    let outcome = fixture
        .db
        .put_entry(user, &app, write, &ctx(fixture, limits))
        .await
        .expect("answered");
    assert_eq!(
        outcome,
        WriteOutcome::VersionMismatch {
            current_version: Some(2)
        }
    );
    let mut create_only = bytes_write("doc", 12, None);
    create_only.expected = Some(ExpectedVersion::Absent);
    let outcome = fixture
        .db
        .put_entry(user, &app, create_only, &ctx(fixture, limits))
        .await
        .expect("answered");
    assert!(matches!(outcome, WriteOutcome::VersionMismatch { .. }));
    let mut must_exist = bytes_write("nothing", 1, None);
    must_exist.expected = Some(ExpectedVersion::Any);
    let outcome = fixture
        .db
        .put_entry(user, &app, must_exist, &ctx(fixture, limits))
        .await
        .expect("answered");
    assert_eq!(
        outcome,
        WriteOutcome::VersionMismatch {
            current_version: None
        }
    );

    // Last write wins by client timestamp.
    let t0 = fixture.clock.now();
    let mut write = bytes_write("doc", 20, None);
    write.client_timestamp = Some(t0 + Duration::seconds(100));
    write.last_write_wins = true;
    let third = stored(
        fixture
            .db
            .put_entry(user, &app, write, &ctx(fixture, limits))
            .await
            .expect("newer write"),
    );
    assert_eq!(third.last_write_at, t0 + Duration::seconds(100));
    let mut older = bytes_write("doc", 30, None);
    older.client_timestamp = Some(t0 + Duration::seconds(99));
    older.last_write_wins = true;
    let outcome = fixture
        .db
        .put_entry(user, &app, older, &ctx(fixture, limits))
        .await
        .expect("answered");
    match outcome {
        WriteOutcome::Stale { current } => {
            assert_eq!((current.version, current.size), (3, 20));
        }
        other => panic!("expected Stale, got {other:?}"),
    }
    let mut equal = bytes_write("doc", 31, None);
    equal.client_timestamp = Some(t0 + Duration::seconds(100));
    equal.last_write_wins = true;
    let fourth = stored(
        fixture
            .db
            .put_entry(user, &app, equal, &ctx(fixture, limits))
            .await
            .expect("equal timestamps: the newer request wins"),
    );
    assert_eq!(fourth.version, 4);
    assert_eq!(first.created_at, fourth.created_at);
    let read = get(fixture, user, &app, "doc").await.expect("present");
    assert_eq!(read.size, 31);
}

pub async fn expired_entries_are_invisible_and_purged(fixture: &Fixture) {
    let (user, app) = owner_and_app(fixture).await;
    let limits = QuotaLimits::default();
    let c = ctx(fixture, limits);
    let stored_short = stored(
        fixture
            .db
            .put_entry(user, &app, bytes_write("short", 10, Some(60)), &c)
            .await
            .expect("stored"),
    );
    assert_eq!(
        stored_short.expires_at,
        Some(fixture.clock.now() + Duration::seconds(60))
    );
    put(fixture, user, &app, "forever", 20, limits)
        .await
        .expect("stored");

    fixture.clock.advance(Duration::seconds(59));
    assert!(
        get(fixture, user, &app, "short").await.is_some(),
        "visible before expiry"
    );
    fixture.clock.advance(Duration::seconds(1));
    assert!(
        get(fixture, user, &app, "short").await.is_none(),
        "invisible from the expiry instant"
    );

    let purged = fixture
        .db
        .purge_expired(fixture.clock.now(), 100)
        .await
        .expect("purge works");
    assert_eq!(purged, 1);
    let quota = assert_usage_matches_rows(fixture, user, &app).await;
    assert_eq!((quota.used_bytes, quota.used_keys), (20, 1));

    // Writing over an expired-but-unpurged key: the expiry is purged first, the version
    // continues from the tombstone and the new value has no TTL.
    fixture
        .db
        .put_entry(
            user,
            &app,
            bytes_write("again", 5, Some(60)),
            &ctx(fixture, limits),
        )
        .await
        .expect("stored");
    fixture.clock.advance(Duration::seconds(61));
    let reborn = put(fixture, user, &app, "again", 5, limits)
        .await
        .expect("stored");
    assert_eq!(reborn.version, 2);
    assert_eq!(reborn.expires_at, None);
    assert_eq!(reborn.created_at, fixture.clock.now(), "a new life");
}

pub async fn quota_counts_only_live_entries(fixture: &Fixture) {
    let (user, app) = owner_and_app(fixture).await;
    let limits = QuotaLimits {
        total_bytes: 1000,
        total_keys: 3,
    };
    let c = ctx(fixture, limits);
    for (name, size, ttl) in [
        ("a", 400, Some(60)),
        ("b", 300, None),
        ("c", 300, Some(120)),
    ] {
        fixture
            .db
            .put_entry(user, &app, bytes_write(name, size, ttl), &c)
            .await
            .expect("stored");
    }
    // Full: a fourth key and a byte more are refused.
    let refused = put(fixture, user, &app, "d", 1, limits).await;
    assert!(
        matches!(refused, Err(RepoError::QuotaExceeded(_))),
        "{refused:?}"
    );

    fixture.clock.advance(Duration::seconds(60));
    // "a" expired but nothing purged it yet: the stored row still counts it ...
    assert_eq!(usage(fixture, user, &app).await.used_bytes, 1000);
    // ... but the quota reported is that of the live entries, and it is now exact in the row.
    let snapshot = fixture
        .db
        .quota(user, &app, &ctx(fixture, limits))
        .await
        .expect("quota");
    assert_eq!(
        snapshot.usage,
        QuotaUsage {
            total_bytes: 1000,
            used_bytes: 600,
            total_keys: 3,
            used_keys: 2
        }
    );
    assert!(snapshot.last_updated.is_some());
    assert_eq!(
        assert_usage_matches_rows(fixture, user, &app).await,
        snapshot.usage
    );

    fixture.clock.advance(Duration::seconds(60));
    // A write purges expired entries before the quota check: "c" expired, so 700 fit.
    put(fixture, user, &app, "big", 700, limits)
        .await
        .expect("fits once expired entries are gone");
    let snapshot = fixture
        .db
        .quota(user, &app, &ctx(fixture, limits))
        .await
        .expect("quota");
    assert_eq!(
        (snapshot.usage.used_bytes, snapshot.usage.used_keys),
        (1000, 2)
    );

    // A (user, app) that never stored anything reports the configured limits, unused.
    let other = AppId::parse("ma_untouched").expect("app id");
    let empty = fixture
        .db
        .quota(user, &other, &ctx(fixture, limits))
        .await
        .expect("quota");
    assert_eq!(
        (
            empty.usage.used_bytes,
            empty.usage.total_bytes,
            empty.last_updated
        ),
        (0, 1000, None)
    );
    assert!(fixture
        .db
        .quota_usage(user, &other)
        .await
        .expect("read")
        .is_none());
}

pub async fn quota_refuses_bytes_and_keys_atomically(fixture: &Fixture) {
    let (user, app) = owner_and_app(fixture).await;
    let limits = QuotaLimits {
        total_bytes: 1000,
        total_keys: 3,
    };
    put(fixture, user, &app, "a", 600, limits)
        .await
        .expect("fits");
    let refused = put(fixture, user, &app, "b", 401, limits).await;
    match refused {
        Err(RepoError::QuotaExceeded(usage)) => {
            assert_eq!(
                usage,
                QuotaUsage {
                    total_bytes: 1000,
                    used_bytes: 600,
                    total_keys: 3,
                    used_keys: 1
                }
            );
        }
        other => panic!("expected QuotaExceeded, got {other:?}"),
    }
    put(fixture, user, &app, "b", 400, limits)
        .await
        .expect("exactly at the byte limit");
    let empty = put(fixture, user, &app, "c", 0, limits).await;
    assert!(
        matches!(&empty, Err(RepoError::Constraint { constraint }) if constraint == "chk_storage_size"),
        "{empty:?}"
    );
    let quota = assert_usage_matches_rows(fixture, user, &app).await;
    assert_eq!((quota.used_bytes, quota.used_keys), (1000, 2));
    assert!(get(fixture, user, &app, "c").await.is_none());

    // Keys: the third key is the last one.
    let keys = QuotaLimits {
        total_bytes: 10_000,
        total_keys: 3,
    };
    put(fixture, user, &app, "c", 1, keys)
        .await
        .expect("raised byte limit applies; third key fits");
    let refused = put(fixture, user, &app, "d", 1, keys).await;
    assert!(
        matches!(refused, Err(RepoError::QuotaExceeded(_))),
        "{refused:?}"
    );
}

pub async fn configured_limits_apply_when_usage_fits(fixture: &Fixture) {
    let (user, app) = owner_and_app(fixture).await;
    let small = QuotaLimits {
        total_bytes: 100,
        total_keys: 2,
    };
    put(fixture, user, &app, "a", 80, small)
        .await
        .expect("fits");
    assert!(put(fixture, user, &app, "b", 21, small).await.is_err());

    // An operator raises the app's quota: the next unit of work applies it.
    let raised = QuotaLimits {
        total_bytes: 500,
        total_keys: 5,
    };
    put(fixture, user, &app, "b", 21, raised)
        .await
        .expect("raised limit applies");
    assert_eq!(usage(fixture, user, &app).await.total_bytes, 500);

    // Lowering below the current usage keeps the old limits (nothing is deleted to meet
    // it) until usage fits.
    let lowered = QuotaLimits {
        total_bytes: 50,
        total_keys: 5,
    };
    let snapshot = fixture
        .db
        .quota(user, &app, &ctx(fixture, lowered))
        .await
        .expect("quota");
    assert_eq!(
        snapshot.usage.total_bytes, 500,
        "101 bytes do not fit in 50"
    );
    let c = ctx(fixture, lowered);
    fixture
        .db
        .delete_entry(user, &app, &key("a"), &c)
        .await
        .expect("deleted");
    let snapshot = fixture
        .db
        .quota(user, &app, &ctx(fixture, lowered))
        .await
        .expect("quota");
    assert_eq!(
        (snapshot.usage.total_bytes, snapshot.usage.used_bytes),
        (50, 21),
        "now it fits"
    );
}

pub async fn growing_an_entry_past_the_quota_keeps_the_old_value(fixture: &Fixture) {
    let (user, app) = owner_and_app(fixture).await;
    let limits = QuotaLimits {
        total_bytes: 1000,
        total_keys: 10,
    };
    put(fixture, user, &app, "a", 500, limits)
        .await
        .expect("fits");
    put(fixture, user, &app, "b", 400, limits)
        .await
        .expect("fits");
    let refused = put(fixture, user, &app, "a", 601, limits).await;
    assert!(
        matches!(refused, Err(RepoError::QuotaExceeded(_))),
        "{refused:?}"
    );
    let kept = get(fixture, user, &app, "a").await.expect("old value kept");
    assert_eq!((kept.size, kept.version), (500, 1));
    put(fixture, user, &app, "a", 600, limits)
        .await
        .expect("exactly at the limit");
    assert_eq!(
        assert_usage_matches_rows(fixture, user, &app)
            .await
            .used_bytes,
        1000
    );
}

async fn race(
    fixture: &Fixture,
    writers: usize,
    size: usize,
    limits: QuotaLimits,
) -> (usize, usize) {
    let (user, app) = owner_and_app(fixture).await;
    let db = Arc::clone(&fixture.db);
    let c = ctx(fixture, limits);
    let tasks = (0..writers).map(|i| {
        let db = Arc::clone(&db);
        let app = app.clone();
        tokio::spawn(async move {
            let write = EntryWrite::new(
                key(&format!("k{i:03}")),
                vec![b'v'; size],
                ValueEncoding::Binary,
            );
            db.put_entry(user, &app, write, &c).await
        })
    });
    let mut stored_count = 0;
    let mut refused = 0;
    for result in join_all(tasks).await {
        match result.expect("task did not panic") {
            Ok(WriteOutcome::Stored { .. }) => stored_count += 1,
            Err(RepoError::QuotaExceeded(_)) => refused += 1,
            other => panic!("unexpected result under concurrency: {other:?}"),
        }
    }
    let quota = assert_usage_matches_rows(fixture, user, &app).await;
    assert_eq!(quota.used_keys, i64::try_from(stored_count).unwrap_or(-1));
    (stored_count, refused)
}

pub async fn parallel_writers_never_exceed_the_byte_quota(fixture: &Fixture) {
    // 40 writers of 60 000 bytes against 1 000 000: exactly 16 fit.
    let limits = QuotaLimits {
        total_bytes: 1_000_000,
        total_keys: 1000,
    };
    let (stored_count, refused) = race(fixture, 40, 60_000, limits).await;
    assert_eq!((stored_count, refused), (16, 24));
}

pub async fn parallel_writers_never_exceed_the_key_quota(fixture: &Fixture) {
    let limits = QuotaLimits {
        total_bytes: 10_485_760,
        total_keys: 10,
    };
    let (stored_count, refused) = race(fixture, 30, 10, limits).await;
    assert_eq!((stored_count, refused), (10, 20));
}

pub async fn users_and_apps_are_isolated(fixture: &Fixture) {
    let alice = fixtures::user(fixture, "alice").await.id;
    let bob = fixtures::user(fixture, "bob").await.id;
    let app = AppId::parse("ma_first_app").expect("app id");
    let other_app = AppId::parse("ma_second_app").expect("app id");
    let limits = QuotaLimits::default();
    put(fixture, alice, &app, "secret", 10, limits)
        .await
        .expect("stored");
    assert!(get(fixture, bob, &app, "secret").await.is_none());
    assert!(get(fixture, alice, &other_app, "secret").await.is_none());
    let now = fixture.clock.now();
    assert!(fixture
        .db
        .get_entries(bob, &app, &[key("secret")], now)
        .await
        .expect("read")
        .is_empty());
    let listing = tmcp_repository::ListQuery {
        prefix: None,
        after: None,
        limit: 100,
    };
    assert!(fixture
        .db
        .list_entries(alice, &other_app, &listing, now)
        .await
        .expect("list")
        .is_empty());
    let c = ctx(fixture, limits);
    assert!(!fixture
        .db
        .delete_entry(bob, &app, &key("secret"), &c)
        .await
        .expect("delete works"));
    // Bob's own (empty) usage; Alice's entry never counts for him.
    let bobs = fixture
        .db
        .quota_usage(bob, &app)
        .await
        .expect("read")
        .map_or(0, |u| u.used_bytes);
    assert_eq!(bobs, 0);
    assert_eq!(
        fixture
            .db
            .delete_all_for_app(bob, &app, &c)
            .await
            .expect("nothing of bob's"),
        0
    );
    let kept = get(fixture, alice, &app, "secret")
        .await
        .expect("untouched");
    assert_eq!(kept.version, 1);
}

pub async fn delete_all_for_app_removes_data_and_resets_the_quota(fixture: &Fixture) {
    let (user, app) = owner_and_app(fixture).await;
    let other = AppId::parse("ma_neighbour").expect("app id");
    let limits = QuotaLimits {
        total_bytes: 1000,
        total_keys: 5,
    };
    for name in ["a", "b", "c"] {
        put(fixture, user, &app, name, 300, limits)
            .await
            .expect("stored");
    }
    put(fixture, user, &other, "a", 300, limits)
        .await
        .expect("stored");
    let c = ctx(fixture, limits);
    fixture
        .db
        .delete_entry(user, &app, &key("c"), &c)
        .await
        .expect("deleted");
    let before = fixture
        .db
        .pull_changes(user, &app, None, 100, &c)
        .await
        .expect("pull");

    let bigger = QuotaLimits {
        total_bytes: 5000,
        total_keys: 50,
    };
    let deleted = fixture
        .db
        .delete_all_for_app(user, &app, &ctx(fixture, bigger))
        .await
        .expect("deleted");
    assert_eq!(deleted, 2);
    assert!(get(fixture, user, &app, "a").await.is_none());
    let quota = assert_usage_matches_rows(fixture, user, &app).await;
    assert_eq!(
        quota,
        QuotaUsage {
            total_bytes: 5000,
            used_bytes: 0,
            total_keys: 50,
            used_keys: 0
        },
        "usage reset, configured limits applied"
    );
    // The neighbour app is untouched.
    assert!(get(fixture, user, &other, "a").await.is_some());
    // A client that synced before must start over (its data is gone).
    let after = fixture
        .db
        .pull_changes(user, &app, Some(before.next), 100, &ctx(fixture, bigger))
        .await
        .expect("pull");
    assert!(after.full_resync);
    assert!(after.changes.is_empty(), "{:?}", after.changes);
    // The full quota is usable again at once.
    put(fixture, user, &app, "fresh", 5000, bigger)
        .await
        .expect("whole quota available");
}

/// A write context at the fixture's current time with default limits.
pub fn default_ctx(fixture: &Fixture) -> WriteContext {
    ctx(fixture, QuotaLimits::default())
}
