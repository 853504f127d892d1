use crate::fixtures;
use crate::Fixture;
use futures::future::join_all;
use rand::{Rng, SeedableRng};
use std::sync::Arc;
use time::Duration;
use tmcp_domain::storage::{QuotaLimits, StorageKey};
use tmcp_domain::{AppId, Clock, UserId};
use tmcp_repository::{PutEntry, QuotaUsage, RepoError, RepoResult, StoredEntry};

fn key(raw: &str) -> StorageKey {
    StorageKey::parse(raw).expect("valid key")
}

fn entry(
    clock: &dyn Clock,
    name: &str,
    size: usize,
    ttl: Option<i64>,
    limits: QuotaLimits,
) -> PutEntry {
    PutEntry {
        key: key(name),
        value: vec![b'x'; size],
        content_type: "application/octet-stream".into(),
        ttl_seconds: ttl,
        checksum: "0".repeat(64),
        metadata: serde_json::json!({"source": "contract"}),
        now: clock.now(),
        limits,
    }
}

async fn put(
    fixture: &Fixture,
    user: UserId,
    app: &AppId,
    name: &str,
    size: usize,
    limits: QuotaLimits,
) -> RepoResult<StoredEntry> {
    fixture
        .db
        .put_entry(user, app, entry(&fixture.clock, name, size, None, limits))
        .await
}

async fn usage(fixture: &Fixture, user: UserId, app: &AppId) -> QuotaUsage {
    fixture
        .db
        .quota_usage(user, app)
        .await
        .expect("quota readable")
        .expect("quota row exists")
}

/// The invariant the quota trigger maintains: the quota row equals the stored rows.
async fn assert_usage_matches_rows(fixture: &Fixture, user: UserId, app: &AppId) -> QuotaUsage {
    let quota = usage(fixture, user, app).await;
    let (bytes, keys) = fixture
        .db
        .recount_usage(user, app)
        .await
        .expect("recount works");
    assert_eq!(
        (quota.used_bytes, quota.used_keys),
        (bytes, keys),
        "quota drifted from rows"
    );
    assert!(quota.used_bytes <= quota.total_bytes && quota.used_keys <= quota.total_keys);
    quota
}

async fn owner_and_app(fixture: &Fixture) -> (UserId, AppId) {
    let user = fixtures::user(fixture, "owner").await;
    (user.id, AppId::parse("ma_storage_test").expect("app id"))
}

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

    let read = fixture
        .db
        .get_entry(user, &app, &key("greeting"), fixture.clock.now())
        .await;
    let read = read.expect("read works").expect("entry present");
    assert_eq!(read.value, vec![b'x'; 7]);
    assert_eq!(read.metadata, serde_json::json!({"source": "contract"}));
    assert_eq!(
        assert_usage_matches_rows(fixture, user, &app)
            .await
            .used_bytes,
        7
    );

    assert!(fixture
        .db
        .delete_entry(user, &app, &key("greeting"))
        .await
        .expect("delete works"));
    assert!(!fixture
        .db
        .delete_entry(user, &app, &key("greeting"))
        .await
        .expect("delete works"));
    let gone = fixture
        .db
        .get_entry(user, &app, &key("greeting"), fixture.clock.now())
        .await;
    assert!(gone.expect("read works").is_none());
    let quota = assert_usage_matches_rows(fixture, user, &app).await;
    assert_eq!((quota.used_bytes, quota.used_keys), (0, 0));

    // Keys are byte-limited, and a 256-byte multi-byte key round-trips.
    let wide = "é".repeat(128);
    put(fixture, user, &app, &wide, 1, limits)
        .await
        .expect("256-byte key stored");
    let found = fixture
        .db
        .get_entry(user, &app, &key(&wide), fixture.clock.now())
        .await;
    assert!(found.expect("read works").is_some());
}

pub async fn expired_entries_are_invisible_and_purged(fixture: &Fixture) {
    let (user, app) = owner_and_app(fixture).await;
    let limits = QuotaLimits::default();
    let short = entry(&fixture.clock, "short", 10, Some(60), limits);
    let stored = fixture
        .db
        .put_entry(user, &app, short)
        .await
        .expect("stored");
    assert_eq!(
        stored.expires_at,
        Some(fixture.clock.now() + Duration::seconds(60))
    );
    put(fixture, user, &app, "forever", 20, limits)
        .await
        .expect("stored");

    fixture.clock.advance(Duration::seconds(59));
    let live = fixture
        .db
        .get_entry(user, &app, &key("short"), fixture.clock.now())
        .await;
    assert!(live.expect("read works").is_some(), "visible before expiry");
    fixture.clock.advance(Duration::seconds(1));
    let expired = fixture
        .db
        .get_entry(user, &app, &key("short"), fixture.clock.now())
        .await;
    assert!(
        expired.expect("read works").is_none(),
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

    // Writing over an expired-but-unpurged key starts it afresh at version 1.
    let again = entry(&fixture.clock, "forever2", 5, Some(60), limits);
    fixture
        .db
        .put_entry(user, &app, again)
        .await
        .expect("stored");
    fixture.clock.advance(Duration::seconds(61));
    let reborn = put(fixture, user, &app, "forever2", 5, limits)
        .await
        .expect("stored");
    assert_eq!(reborn.version, 1);
    assert_eq!(reborn.expires_at, None);
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

    let bigger = QuotaLimits {
        total_bytes: 10_000,
        total_keys: 3,
    };
    // Limits apply from the quota row, which already exists: the larger totals are ignored.
    let refused = put(fixture, user, &app, "c", 1, bigger).await;
    assert!(
        matches!(refused, Err(RepoError::QuotaExceeded(_))),
        "{refused:?}"
    );
    assert!(fixture
        .db
        .get_entry(user, &app, &key("c"), fixture.clock.now())
        .await
        .expect("read")
        .is_none());
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
    let kept = fixture
        .db
        .get_entry(user, &app, &key("a"), fixture.clock.now())
        .await;
    let kept = kept.expect("read works").expect("old value kept");
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
    let now = fixture.clock.now();
    let tasks = (0..writers).map(|i| {
        let db = Arc::clone(&db);
        let app = app.clone();
        tokio::spawn(async move {
            let put = PutEntry {
                key: key(&format!("k{i:03}")),
                value: vec![b'v'; size],
                content_type: "application/octet-stream".into(),
                ttl_seconds: None,
                checksum: "0".repeat(64),
                metadata: serde_json::json!({}),
                now,
                limits,
            };
            db.put_entry(user, &app, put).await
        })
    });
    let mut stored = 0;
    let mut refused = 0;
    for result in join_all(tasks).await {
        match result.expect("task did not panic") {
            Ok(_) => stored += 1,
            Err(RepoError::QuotaExceeded(_)) => refused += 1,
            Err(other) => panic!("unexpected error under concurrency: {other:?}"),
        }
    }
    let quota = assert_usage_matches_rows(fixture, user, &app).await;
    assert_eq!(quota.used_keys, i64::try_from(stored).unwrap_or(-1));
    (stored, refused)
}

pub async fn parallel_writers_never_exceed_the_byte_quota(fixture: &Fixture) {
    // 40 writers of 60 000 bytes against 1 000 000: exactly 16 fit.
    let limits = QuotaLimits {
        total_bytes: 1_000_000,
        total_keys: 1000,
    };
    let (stored, refused) = race(fixture, 40, 60_000, limits).await;
    assert_eq!((stored, refused), (16, 24));
}

pub async fn parallel_writers_never_exceed_the_key_quota(fixture: &Fixture) {
    let limits = QuotaLimits {
        total_bytes: 10_485_760,
        total_keys: 10,
    };
    let (stored, refused) = race(fixture, 30, 10, limits).await;
    assert_eq!((stored, refused), (10, 20));
}

/// Random puts, overwrites, deletes, expiries and purges (seeded, so failures reproduce):
/// after every step the quota row equals the stored rows and never exceeds its limits.
pub async fn random_operations_keep_usage_equal_to_live_entries(fixture: &Fixture) {
    let (user, app) = owner_and_app(fixture).await;
    let limits = QuotaLimits {
        total_bytes: 200_000,
        total_keys: 12,
    };
    let mut rng = rand::rngs::StdRng::seed_from_u64(0x7e57);
    for step in 0..150 {
        let name = format!("key{}", rng.gen_range(0..16));
        match rng.gen_range(0..10) {
            0..=5 => {
                let size = rng.gen_range(1..40_000);
                let ttl = rng.gen_bool(0.3).then(|| rng.gen_range(60..600));
                let current = fixture.db.quota_usage(user, &app).await.expect("readable");
                let before = current.map_or(0, |q| q.used_bytes);
                let result = fixture
                    .db
                    .put_entry(user, &app, entry(&fixture.clock, &name, size, ttl, limits))
                    .await;
                match result {
                    Ok(_) => {}
                    Err(RepoError::QuotaExceeded(_)) => {
                        assert_eq!(
                            usage(fixture, user, &app).await.used_bytes,
                            before,
                            "step {step}"
                        );
                    }
                    Err(other) => panic!("step {step}: {other:?}"),
                }
            }
            6 | 7 => {
                fixture
                    .db
                    .delete_entry(user, &app, &key(&name))
                    .await
                    .expect("delete works");
            }
            8 => fixture
                .clock
                .advance(Duration::seconds(rng.gen_range(1..300))),
            _ => {
                fixture
                    .db
                    .purge_expired(fixture.clock.now(), 3)
                    .await
                    .expect("purge works");
            }
        }
        if fixture
            .db
            .quota_usage(user, &app)
            .await
            .expect("readable")
            .is_some()
        {
            assert_usage_matches_rows(fixture, user, &app).await;
        }
    }
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
    let now = fixture.clock.now();
    assert!(fixture
        .db
        .get_entry(bob, &app, &key("secret"), now)
        .await
        .expect("read")
        .is_none());
    assert!(fixture
        .db
        .get_entry(alice, &other_app, &key("secret"), now)
        .await
        .expect("read")
        .is_none());
    assert!(!fixture
        .db
        .delete_entry(bob, &app, &key("secret"))
        .await
        .expect("delete works"));
    assert!(fixture
        .db
        .quota_usage(bob, &app)
        .await
        .expect("read")
        .is_none());
    assert!(fixture
        .db
        .get_entry(alice, &app, &key("secret"), now)
        .await
        .expect("read")
        .is_some());
}
