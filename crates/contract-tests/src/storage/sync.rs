//! Offline sync: idempotent pushes, the four strategies, manual conflicts and their
//! resolution, refusals that are recorded, and the sync status.

use super::{bytes_write, ctx, get, key, owner_and_app, put};
use crate::Fixture;
use futures::future::join_all;
use std::sync::Arc;
use time::{Duration, OffsetDateTime};
use tmcp_domain::storage::sync::{SyncOpStatus, SyncStrategy};
use tmcp_domain::storage::value::ValueEncoding;
use tmcp_domain::storage::QuotaLimits;
use tmcp_domain::{AppId, Clock, UserId};
use tmcp_repository::{
    ConflictResolution, EntryWrite, ResolveOutcome, SyncApplied, SyncOp, WriteContext,
};

fn set_op(
    op_id: &str,
    name: &str,
    value: &[u8],
    at: OffsetDateTime,
    base_version: Option<i64>,
    strategy: SyncStrategy,
) -> SyncOp {
    SyncOp {
        op_id: op_id.into(),
        key: key(name),
        write: Some(EntryWrite::new(
            key(name),
            value.to_vec(),
            ValueEncoding::Text,
        )),
        client_timestamp: at,
        base_version,
        strategy,
    }
}

fn delete_op(
    op_id: &str,
    name: &str,
    at: OffsetDateTime,
    base_version: Option<i64>,
    strategy: SyncStrategy,
) -> SyncOp {
    SyncOp {
        op_id: op_id.into(),
        key: key(name),
        write: None,
        client_timestamp: at,
        base_version,
        strategy,
    }
}

async fn push(fixture: &Fixture, user: UserId, app: &AppId, op: SyncOp) -> SyncApplied {
    fixture
        .db
        .sync_apply(user, app, op, &ctx(fixture, QuotaLimits::default()))
        .await
        .expect("push answered")
}

/// The server holds "doc" = "server" written with client time `t0 + 10 s` (version 1).
async fn server_doc(fixture: &Fixture, user: UserId, app: &AppId) -> OffsetDateTime {
    let t0 = fixture.clock.now();
    let mut write = EntryWrite::new(key("doc"), b"server".to_vec(), ValueEncoding::Text);
    write.client_timestamp = Some(t0 + Duration::seconds(10));
    fixture
        .db
        .put_entry(user, app, write, &ctx(fixture, QuotaLimits::default()))
        .await
        .expect("stored");
    t0
}

async fn value_of(fixture: &Fixture, user: UserId, app: &AppId, name: &str) -> Option<Vec<u8>> {
    get(fixture, user, app, name).await.map(|e| e.value)
}

pub async fn sync_last_write_wins_and_replays(fixture: &Fixture) {
    let (user, app) = owner_and_app(fixture).await;
    let t0 = server_doc(fixture, user, &app).await;
    let lww = SyncStrategy::LastWriteWins;

    // Older than the server's write: the server wins, nothing changes.
    let older = push(
        fixture,
        user,
        &app,
        set_op("op-1", "doc", b"old", t0, None, lww),
    )
    .await;
    assert!(!older.replayed);
    assert_eq!(older.result.status, SyncOpStatus::Conflict);
    assert_eq!(older.result.resolution.as_deref(), Some("server_wins"));
    assert_eq!(older.result.version, Some(1));
    let server_value = older.result.server_value.clone().expect("server value");
    assert_eq!(server_value.bytes, b"server");
    assert_eq!(server_value.encoding, ValueEncoding::Text);
    assert_eq!(
        value_of(fixture, user, &app, "doc").await.as_deref(),
        Some(&b"server"[..])
    );

    // Newer: applied.
    let newer_at = t0 + Duration::seconds(20);
    let newer = push(
        fixture,
        user,
        &app,
        set_op("op-2", "doc", b"new", newer_at, None, lww),
    )
    .await;
    assert_eq!(newer.result.status, SyncOpStatus::Applied);
    assert_eq!(newer.result.version, Some(2));
    let entry = get(fixture, user, &app, "doc").await.expect("present");
    assert_eq!(
        (entry.value.as_slice(), entry.last_write_at),
        (&b"new"[..], newer_at)
    );

    // Replays return the first result, whatever happened since.
    let again = push(
        fixture,
        user,
        &app,
        set_op("op-1", "doc", b"old", t0, None, lww),
    )
    .await;
    assert!(again.replayed);
    assert_eq!(again.result, older.result);
    let again = push(
        fixture,
        user,
        &app,
        set_op("op-2", "doc", b"other", t0, None, lww),
    )
    .await;
    assert!(again.replayed);
    assert_eq!(again.result, newer.result);
    assert_eq!(
        get(fixture, user, &app, "doc").await.map(|e| e.version),
        Some(2)
    );

    // A deletion newer than the server's write applies; the feed shows it.
    let gone = push(
        fixture,
        user,
        &app,
        delete_op("op-3", "doc", t0 + Duration::seconds(30), Some(2), lww),
    )
    .await;
    assert_eq!(
        (gone.result.status, gone.result.version),
        (SyncOpStatus::Applied, None)
    );
    assert!(get(fixture, user, &app, "doc").await.is_none());
    // A set made offline before that deletion loses to it (the tombstone is newer).
    let late = push(
        fixture,
        user,
        &app,
        set_op(
            "op-4",
            "doc",
            b"late",
            t0 + Duration::seconds(25),
            None,
            lww,
        ),
    )
    .await;
    assert_eq!(late.result.status, SyncOpStatus::Conflict);
    assert_eq!(
        (late.result.version, late.result.server_value.clone()),
        (None, None)
    );

    let status = fixture.db.sync_status(user, &app).await.expect("status");
    assert_eq!(
        (
            status.completed_ops,
            status.pending_ops,
            status.failed_ops,
            status.open_conflicts
        ),
        (4, 0, 0, 0)
    );
    assert_eq!(status.last_push_at, Some(fixture.clock.now()));
}

pub async fn sync_local_and_remote_wins(fixture: &Fixture) {
    let (user, app) = owner_and_app(fixture).await;
    let t0 = server_doc(fixture, user, &app).await;
    // The client edited version 0 (it never saw the server's), earlier than the server.
    let remote = push(
        fixture,
        user,
        &app,
        set_op("r-1", "doc", b"mine", t0, Some(0), SyncStrategy::RemoteWins),
    )
    .await;
    assert_eq!(remote.result.status, SyncOpStatus::Conflict);
    assert_eq!(remote.result.resolution.as_deref(), Some("server_wins"));
    assert_eq!(
        value_of(fixture, user, &app, "doc").await.as_deref(),
        Some(&b"server"[..])
    );
    // Without a conflict remote_wins applies like any other strategy.
    let clean = push(
        fixture,
        user,
        &app,
        set_op("r-2", "doc", b"next", t0, Some(1), SyncStrategy::RemoteWins),
    )
    .await;
    assert_eq!(
        (clean.result.status, clean.result.version),
        (SyncOpStatus::Applied, Some(2))
    );

    let local = push(
        fixture,
        user,
        &app,
        set_op("l-1", "doc", b"mine", t0, Some(1), SyncStrategy::LocalWins),
    )
    .await;
    assert_eq!(
        (local.result.status, local.result.version),
        (SyncOpStatus::Applied, Some(3))
    );
    assert_eq!(
        value_of(fixture, user, &app, "doc").await.as_deref(),
        Some(&b"mine"[..])
    );
    let replay = push(
        fixture,
        user,
        &app,
        set_op(
            "l-1",
            "doc",
            b"ignored",
            t0,
            Some(1),
            SyncStrategy::LocalWins,
        ),
    )
    .await;
    assert!(replay.replayed);
    assert_eq!(
        get(fixture, user, &app, "doc").await.map(|e| e.version),
        Some(3)
    );
}

pub async fn sync_manual_conflicts_wait_for_a_resolution(fixture: &Fixture) {
    let (user, app) = owner_and_app(fixture).await;
    let t0 = server_doc(fixture, user, &app).await;
    let manual = SyncStrategy::Manual;
    let opened = push(
        fixture,
        user,
        &app,
        set_op("m-1", "doc", b"local", t0, Some(0), manual),
    )
    .await;
    assert_eq!(opened.result.status, SyncOpStatus::Conflict);
    assert_eq!(opened.result.resolution.as_deref(), Some("manual"));
    let conflict_id = opened.result.conflict_id.expect("conflict opened");
    assert_eq!(
        value_of(fixture, user, &app, "doc").await.as_deref(),
        Some(&b"server"[..])
    );
    // A delete that conflicts too, and a third conflict to resolve with a given value.
    let del = push(
        fixture,
        user,
        &app,
        delete_op("m-2", "doc", t0, Some(0), manual),
    )
    .await;
    let del_id = del.result.conflict_id.expect("conflict opened");
    let third = push(
        fixture,
        user,
        &app,
        set_op("m-3", "doc", b"x", t0, Some(0), manual),
    )
    .await;
    let third_id = third.result.conflict_id.expect("conflict opened");

    let status = fixture.db.sync_status(user, &app).await.expect("status");
    assert_eq!((status.pending_ops, status.open_conflicts), (3, 3));
    let pending = fixture
        .db
        .list_conflicts(user, &app, Some("pending"), None, 10)
        .await
        .expect("listed");
    assert_eq!(pending.len(), 3);
    let first = pending
        .iter()
        .find(|c| c.id == conflict_id)
        .expect("listed");
    assert_eq!(
        first.local.as_ref().map(|v| v.bytes.as_slice()),
        Some(&b"local"[..])
    );
    assert_eq!(
        first.remote.as_ref().map(|v| v.bytes.as_slice()),
        Some(&b"server"[..])
    );
    assert_eq!(
        (
            first.remote_version,
            first.strategy.as_deref(),
            first.op_id.as_deref()
        ),
        (Some(1), Some("manual"), Some("m-1"))
    );
    // Paging by id.
    let page = fixture
        .db
        .list_conflicts(user, &app, None, Some(pending[0].id), 10)
        .await
        .expect("listed");
    assert_eq!(page.len(), 2);

    let c = ctx(fixture, QuotaLimits::default());
    let resolved = fixture
        .db
        .resolve_conflict(user, &app, conflict_id, ConflictResolution::Local, &c)
        .await
        .expect("resolved");
    match resolved {
        ResolveOutcome::Resolved { conflict, entry } => {
            assert_eq!(conflict.status, "resolved");
            assert_eq!(conflict.resolution.as_deref(), Some("local"));
            assert_eq!(conflict.resolved.map(|v| v.bytes), Some(b"local".to_vec()));
            let entry = entry.expect("stored");
            assert_eq!((entry.value.as_slice(), entry.version), (&b"local"[..], 2));
        }
        other => panic!("expected Resolved, got {other:?}"),
    }
    let twice = fixture
        .db
        .resolve_conflict(user, &app, conflict_id, ConflictResolution::Remote, &c)
        .await
        .expect("answered");
    assert_eq!(
        twice,
        ResolveOutcome::NotPending {
            status: "resolved".into()
        }
    );
    // Keeping the server's state changes nothing.
    let remote = fixture
        .db
        .resolve_conflict(user, &app, third_id, ConflictResolution::Remote, &c)
        .await
        .expect("resolved");
    assert!(
        matches!(remote, ResolveOutcome::Resolved { entry: Some(ref e), .. } if e.version == 2)
    );
    // The client's deletion, chosen.
    let deleted = fixture
        .db
        .resolve_conflict(user, &app, del_id, ConflictResolution::Local, &c)
        .await
        .expect("resolved");
    assert!(matches!(
        deleted,
        ResolveOutcome::Resolved { entry: None, .. }
    ));
    assert!(get(fixture, user, &app, "doc").await.is_none());

    // A fourth conflict resolved with a new value.
    let fourth = push(
        fixture,
        user,
        &app,
        set_op("m-4", "note", b"a", t0, Some(5), manual),
    )
    .await;
    let fourth_id = fourth.result.conflict_id.expect("conflict opened");
    let value = ConflictResolution::Value {
        value: br#"{"merged":true}"#.to_vec(),
        encoding: ValueEncoding::Json,
        content_type: "application/json".into(),
        ttl_seconds: None,
        metadata: serde_json::json!({}),
    };
    let merged = fixture
        .db
        .resolve_conflict(
            user,
            &app,
            fourth_id,
            value,
            &ctx(fixture, QuotaLimits::default()),
        )
        .await
        .expect("resolved");
    assert!(
        matches!(merged, ResolveOutcome::Resolved { entry: Some(ref e), .. }
        if e.encoding == ValueEncoding::Json && e.version == 1)
    );

    let status = fixture.db.sync_status(user, &app).await.expect("status");
    assert_eq!(
        (
            status.pending_ops,
            status.open_conflicts,
            status.completed_ops
        ),
        (0, 0, 4)
    );
    // The op replays its first answer even after the resolution.
    let replay = push(
        fixture,
        user,
        &app,
        set_op("m-1", "doc", b"local", t0, Some(0), manual),
    )
    .await;
    assert!(replay.replayed);
    assert_eq!(replay.result.conflict_id, Some(conflict_id));
    // Unknown conflicts, and other users' conflicts, are not found.
    let unknown = fixture
        .db
        .resolve_conflict(user, &app, uuid::Uuid::nil(), ConflictResolution::Local, &c)
        .await
        .expect("answered");
    assert_eq!(unknown, ResolveOutcome::NotFound);
    let stranger = crate::fixtures::user(fixture, "stranger").await.id;
    let foreign = fixture
        .db
        .resolve_conflict(stranger, &app, fourth_id, ConflictResolution::Local, &c)
        .await
        .expect("answered");
    assert_eq!(foreign, ResolveOutcome::NotFound);
}

pub async fn sync_refusals_are_recorded_and_replayed(fixture: &Fixture) {
    let (user, app) = owner_and_app(fixture).await;
    let tight = QuotaLimits {
        total_bytes: 10,
        total_keys: 10,
    };
    let op = SyncOp {
        op_id: "big-1".into(),
        key: key("big"),
        write: Some(bytes_write("big", 11, None)),
        client_timestamp: fixture.clock.now(),
        base_version: None,
        strategy: SyncStrategy::LastWriteWins,
    };
    let refused = fixture
        .db
        .sync_apply(user, &app, op.clone(), &ctx(fixture, tight))
        .await
        .expect("answered");
    assert_eq!(refused.result.status, SyncOpStatus::Rejected);
    assert_eq!(
        refused.result.error.as_ref().map(|e| e.code.as_str()),
        Some("STORAGE_QUOTA_EXCEEDED")
    );
    assert!(get(fixture, user, &app, "big").await.is_none());
    let status = fixture.db.sync_status(user, &app).await.expect("status");
    assert_eq!(status.failed_ops, 1);
    // Even with room now, the same op id answers as the first time.
    let replay = fixture
        .db
        .sync_apply(user, &app, op, &ctx(fixture, QuotaLimits::default()))
        .await
        .expect("answered");
    assert!(replay.replayed);
    assert_eq!(replay.result, refused.result);
    assert!(get(fixture, user, &app, "big").await.is_none());
}

pub async fn concurrent_pushes_of_one_op_apply_it_once(fixture: &Fixture) {
    let (user, app) = owner_and_app(fixture).await;
    put(fixture, user, &app, "counter", 1, QuotaLimits::default())
        .await
        .expect("stored");
    let db = Arc::clone(&fixture.db);
    let c: WriteContext = ctx(fixture, QuotaLimits::default());
    let op = set_op(
        "same-op",
        "counter",
        b"2",
        fixture.clock.now(),
        Some(1),
        SyncStrategy::LastWriteWins,
    );
    let tasks = (0..12).map(|_| {
        let db = Arc::clone(&db);
        let app = app.clone();
        let op = op.clone();
        tokio::spawn(async move { db.sync_apply(user, &app, op, &c).await })
    });
    let mut fresh = 0;
    for result in join_all(tasks).await {
        let applied = result.expect("no panic").expect("answered");
        assert_eq!(applied.result.status, SyncOpStatus::Applied);
        assert_eq!(applied.result.version, Some(2));
        if !applied.replayed {
            fresh += 1;
        }
    }
    assert_eq!(fresh, 1, "exactly one push applied the op");
    assert_eq!(
        get(fixture, user, &app, "counter").await.map(|e| e.version),
        Some(2)
    );
}
