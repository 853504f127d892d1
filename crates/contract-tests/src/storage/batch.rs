//! Batches (one transaction, quota checked for the batch as a whole) and multi-key reads.

use super::{assert_usage_matches_rows, bytes_write, ctx, get, key, owner_and_app, put};
use crate::Fixture;
use time::Duration;
use tmcp_domain::storage::value::ExpectedVersion;
use tmcp_domain::storage::QuotaLimits;
use tmcp_domain::Clock;
use tmcp_repository::{EntryDelete, ListQuery, RepoError, WriteOp, WriteOutcome};

pub async fn batch_set_is_all_or_nothing(fixture: &Fixture) {
    let (user, app) = owner_and_app(fixture).await;
    let limits = QuotaLimits {
        total_bytes: 1000,
        total_keys: 10,
    };
    let ops = vec![
        WriteOp::Put(bytes_write("a", 400, None)),
        WriteOp::Put(bytes_write("b", 400, None)),
        WriteOp::Put(bytes_write("c", 201, None)),
    ];
    let refused = fixture
        .db
        .write_entries(user, &app, ops, &ctx(fixture, limits))
        .await;
    match refused {
        Err(RepoError::QuotaExceeded(usage)) => {
            assert_eq!((usage.used_bytes, usage.total_bytes), (0, 1000));
        }
        other => panic!("expected QuotaExceeded, got {other:?}"),
    }
    for name in ["a", "b", "c"] {
        assert!(
            get(fixture, user, &app, name).await.is_none(),
            "{name} leaked"
        );
    }

    // One byte less fits exactly.
    let ops = vec![
        WriteOp::Put(bytes_write("a", 400, None)),
        WriteOp::Put(bytes_write("b", 400, None)),
        WriteOp::Put(bytes_write("c", 200, None)),
    ];
    let outcomes = fixture
        .db
        .write_entries(user, &app, ops, &ctx(fixture, limits))
        .await
        .expect("fits exactly");
    assert!(outcomes
        .iter()
        .all(|o| matches!(o, WriteOutcome::Stored { created: true, .. })));
    let quota = assert_usage_matches_rows(fixture, user, &app).await;
    assert_eq!(quota.used_bytes, 1000);
}

pub async fn batch_quota_is_checked_for_the_batch_as_a_whole(fixture: &Fixture) {
    let (user, app) = owner_and_app(fixture).await;
    let limits = QuotaLimits {
        total_bytes: 1000,
        total_keys: 2,
    };
    put(fixture, user, &app, "big", 900, limits)
        .await
        .expect("fits");
    put(fixture, user, &app, "old", 100, limits)
        .await
        .expect("fits");
    fixture.clock.advance(Duration::seconds(1));
    // In request order the new key would first exceed both limits; as a whole the batch
    // ends at 600 bytes and 2 keys.
    let ops = vec![
        WriteOp::Put(bytes_write("new", 500, None)),
        WriteOp::Put(bytes_write("big", 100, None)),
        WriteOp::Delete(EntryDelete {
            key: key("old"),
            expected: None,
        }),
    ];
    let outcomes = fixture
        .db
        .write_entries(user, &app, ops, &ctx(fixture, limits))
        .await
        .expect("fits as a whole");
    assert!(matches!(
        &outcomes[0],
        WriteOutcome::Stored { created: true, entry } if entry.key == "new"
    ));
    assert!(matches!(
        &outcomes[1],
        WriteOutcome::Stored { created: false, entry } if entry.version == 2
    ));
    assert_eq!(outcomes[2], WriteOutcome::Deleted { existed: true });
    let quota = assert_usage_matches_rows(fixture, user, &app).await;
    assert_eq!((quota.used_bytes, quota.used_keys), (600, 2));
}

pub async fn batch_outcomes_keep_request_order_and_refusals(fixture: &Fixture) {
    let (user, app) = owner_and_app(fixture).await;
    let limits = QuotaLimits::default();
    put(fixture, user, &app, "kept", 5, limits)
        .await
        .expect("stored");
    let now = fixture.clock.now();
    let mut stale = bytes_write("kept", 6, None);
    stale.client_timestamp = Some(now - Duration::hours(1));
    stale.last_write_wins = true;
    let ops = vec![
        WriteOp::Put(bytes_write("one", 1, None)),
        WriteOp::Put(stale),
        WriteOp::Delete(EntryDelete {
            key: key("missing"),
            expected: None,
        }),
        WriteOp::Delete(EntryDelete {
            key: key("one-more"),
            expected: Some(ExpectedVersion::Version(3)),
        }),
    ];
    let outcomes = fixture
        .db
        .write_entries(user, &app, ops, &ctx(fixture, limits))
        .await
        .expect("applied");
    assert!(matches!(&outcomes[0], WriteOutcome::Stored { entry, .. } if entry.key == "one"));
    assert!(matches!(&outcomes[1], WriteOutcome::Stale { current } if current.size == 5));
    assert_eq!(outcomes[2], WriteOutcome::Deleted { existed: false });
    assert_eq!(
        outcomes[3],
        WriteOutcome::VersionMismatch {
            current_version: None
        }
    );
    assert_eq!(
        get(fixture, user, &app, "kept").await.map(|e| e.size),
        Some(5)
    );
}

pub async fn batch_delete_is_atomic_and_reports_each_key(fixture: &Fixture) {
    let (user, app) = owner_and_app(fixture).await;
    let limits = QuotaLimits::default();
    for name in ["x", "y"] {
        put(fixture, user, &app, name, 10, limits)
            .await
            .expect("stored");
    }
    let ops = ["x", "nope", "y"]
        .iter()
        .map(|name| {
            WriteOp::Delete(EntryDelete {
                key: key(name),
                expected: None,
            })
        })
        .collect();
    let outcomes = fixture
        .db
        .write_entries(user, &app, ops, &ctx(fixture, limits))
        .await
        .expect("deleted");
    assert_eq!(
        outcomes,
        vec![
            WriteOutcome::Deleted { existed: true },
            WriteOutcome::Deleted { existed: false },
            WriteOutcome::Deleted { existed: true },
        ]
    );
    let quota = assert_usage_matches_rows(fixture, user, &app).await;
    assert_eq!((quota.used_bytes, quota.used_keys), (0, 0));
}

pub async fn listing_is_in_byte_order_with_prefix_and_pages(fixture: &Fixture) {
    let (user, app) = owner_and_app(fixture).await;
    let limits = QuotaLimits::default();
    // Byte order differs from most locales' collation: upper case first, non-ASCII last.
    let names = ["é", "b", "a", "B", "ä", "z", "ab", "a/1", "a/2", "ab/x"];
    for name in names {
        put(fixture, user, &app, name, 3, limits)
            .await
            .expect("stored");
    }
    let c = ctx(fixture, limits);
    fixture
        .db
        .put_entry(user, &app, bytes_write("a/expiring", 3, Some(60)), &c)
        .await
        .expect("stored");
    fixture.clock.advance(Duration::seconds(60));
    let now = fixture.clock.now();
    let list = |prefix: Option<&str>, after: Option<&str>, limit: i64| ListQuery {
        prefix: prefix.map(str::to_owned),
        after: after.map(str::to_owned),
        limit,
    };
    let all: Vec<String> = fixture
        .db
        .list_entries(user, &app, &list(None, None, 100), now)
        .await
        .expect("listed")
        .into_iter()
        .map(|s| s.key)
        .collect();
    let mut expected: Vec<&str> = names.to_vec();
    expected.sort_by(|x, y| x.as_bytes().cmp(y.as_bytes()));
    assert_eq!(all, expected, "byte order, expired key hidden");
    assert_eq!(
        expected,
        ["B", "a", "a/1", "a/2", "ab", "ab/x", "b", "z", "ä", "é"]
    );

    let page1 = fixture
        .db
        .list_entries(user, &app, &list(Some("a"), None, 3), now)
        .await
        .expect("listed");
    let keys1: Vec<&str> = page1.iter().map(|s| s.key.as_str()).collect();
    assert_eq!(keys1, ["a", "a/1", "a/2"]);
    assert_eq!((page1[0].size, page1[0].version), (3, 1));
    let page2 = fixture
        .db
        .list_entries(user, &app, &list(Some("a"), Some("a/2"), 3), now)
        .await
        .expect("listed");
    let keys2: Vec<&str> = page2.iter().map(|s| s.key.as_str()).collect();
    assert_eq!(keys2, ["ab", "ab/x"]);
    let none = fixture
        .db
        .list_entries(user, &app, &list(Some("%"), None, 10), now)
        .await
        .expect("listed");
    assert!(none.is_empty(), "prefix is literal, not a pattern");
    let wide = fixture
        .db
        .list_entries(user, &app, &list(Some("é"), None, 10), now)
        .await
        .expect("listed");
    assert_eq!(wide.len(), 1);

    let found = fixture
        .db
        .get_entries(
            user,
            &app,
            &[key("a"), key("missing"), key("é"), key("a/expiring")],
            now,
        )
        .await
        .expect("read");
    let mut found: Vec<String> = found.into_iter().map(|e| e.key).collect();
    found.sort();
    assert_eq!(found, ["a", "é"]);
}
