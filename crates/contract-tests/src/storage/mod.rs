//! Storage scenarios (the TMCP protocol §3) at the repository level, on every engine: entries and
//! quotas ([`entries`]), batches ([`batch`]), the change feed ([`feed`]), offline sync and
//! conflicts ([`sync`]), and the quota invariant under random operations ([`property`]).

pub mod batch;
pub mod entries;
pub mod feed;
pub mod property;
pub mod sync;

// Scenarios are listed in `contract_suite!` as `storage::<name>`.
pub use batch::*;
pub use entries::*;
pub use feed::*;
pub use property::*;
pub use sync::*;

use crate::fixtures;
use crate::Fixture;
use tmcp_domain::storage::value::ValueEncoding;
use tmcp_domain::storage::{QuotaLimits, StorageKey};
use tmcp_domain::{AppId, Clock, UserId};
use tmcp_repository::{
    EntryWrite, QuotaUsage, RepoResult, StoredEntry, WriteContext, WriteOutcome,
};

pub fn key(raw: &str) -> StorageKey {
    StorageKey::parse(raw).expect("valid key")
}

pub fn ctx(fixture: &Fixture, limits: QuotaLimits) -> WriteContext {
    WriteContext {
        now: fixture.clock.now(),
        limits,
    }
}

/// A binary write of `size` bytes of `x`, with metadata.
pub fn bytes_write(name: &str, size: usize, ttl: Option<i64>) -> EntryWrite {
    let mut write = EntryWrite::new(key(name), vec![b'x'; size], ValueEncoding::Binary);
    write.ttl_seconds = ttl;
    write.metadata = serde_json::json!({"source": "contract"});
    write
}

pub fn stored(outcome: WriteOutcome) -> StoredEntry {
    match outcome {
        WriteOutcome::Stored { entry, .. } => entry,
        other => panic!("expected a stored entry, got {other:?}"),
    }
}

pub async fn put(
    fixture: &Fixture,
    user: UserId,
    app: &AppId,
    name: &str,
    size: usize,
    limits: QuotaLimits,
) -> RepoResult<StoredEntry> {
    fixture
        .db
        .put_entry(
            user,
            app,
            bytes_write(name, size, None),
            &ctx(fixture, limits),
        )
        .await
        .map(stored)
}

pub async fn get(fixture: &Fixture, user: UserId, app: &AppId, name: &str) -> Option<StoredEntry> {
    fixture
        .db
        .get_entry(user, app, &key(name), fixture.clock.now())
        .await
        .expect("read works")
}

pub async fn usage(fixture: &Fixture, user: UserId, app: &AppId) -> QuotaUsage {
    fixture
        .db
        .quota_usage(user, app)
        .await
        .expect("quota readable")
        .expect("quota row exists")
}

/// The invariant the quota trigger maintains: the quota row equals the stored rows.
pub async fn assert_usage_matches_rows(fixture: &Fixture, user: UserId, app: &AppId) -> QuotaUsage {
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

pub async fn owner_and_app(fixture: &Fixture) -> (UserId, AppId) {
    let user = fixtures::user(fixture, "owner").await;
    (user.id, AppId::parse("ma_storage_test").expect("app id"))
}
