//! Accounts: sessions (hash lookups, expiry, refresh rotation and reuse detection), devices,
//! MFA methods and the `mfa_enabled` flag, profile updates, suspension and account deletion.

use crate::fixtures::{self, FixtureClock};
use crate::Fixture;
use serde_json::json;
use time::macros::date;
use time::{Duration, OffsetDateTime};
use tmcp_domain::auth::tokens::{issue, TokenKind};
use tmcp_domain::ids::uuid_v7_at;
use tmcp_domain::user::UserStatus;
use tmcp_domain::{Clock, SessionId, UserId};
use tmcp_repository::{
    AccountTombstone, AccountUpdate, NewDevice, NewMfaMethod, NewSession, RefreshOutcome,
    RefreshRotation, RepoError, RevokeReason, Session,
};

struct Issued {
    session: Session,
    session_hash: String,
    refresh_hash: String,
}

async fn login(fixture: &Fixture, user: UserId) -> Issued {
    let now = fixture.clock.now_for_fixtures();
    let session_token = issue(TokenKind::Session);
    let refresh_token = issue(TokenKind::Refresh);
    let session = fixture
        .db
        .create_session(NewSession {
            id: SessionId::new_v7(now),
            user_id: user,
            session_token_hash: session_token.hash.clone(),
            refresh_token_hash: refresh_token.hash.clone(),
            device_id: Some("phone-1".into()),
            device_name: Some("Alice's phone".into()),
            user_agent: Some("TestAgent/1.0".into()),
            ip_address: Some("203.0.113.7".into()),
            expires_at: now + Duration::hours(24),
            refresh_expires_at: now + Duration::days(30),
            created_at: now,
        })
        .await
        .expect("session is created");
    Issued {
        session,
        session_hash: session_token.hash,
        refresh_hash: refresh_token.hash,
    }
}

fn rotation(fixture: &Fixture, presented: &str) -> (RefreshRotation, String, String) {
    let now = fixture.clock.now();
    let s = issue(TokenKind::Session);
    let r = issue(TokenKind::Refresh);
    (
        RefreshRotation {
            presented_hash: presented.to_owned(),
            new_session_token_hash: s.hash.clone(),
            new_refresh_token_hash: r.hash.clone(),
            expires_at: now + Duration::hours(24),
            refresh_expires_at: now + Duration::days(30),
            now,
        },
        s.hash,
        r.hash,
    )
}

pub async fn sessions_are_found_by_token_hash_until_expiry(fixture: &Fixture) {
    let alice = fixtures::user(fixture, "alice").await;
    let issued = login(fixture, alice.id).await;
    assert_eq!(issued.session.ip_address.as_deref(), Some("203.0.113.7"));
    assert_eq!(issued.session.user_agent.as_deref(), Some("TestAgent/1.0"));
    assert!(issued.session.revoked_at.is_none());

    let user = fixture.db.find_user(alice.id).await.expect("lookup");
    assert_eq!(
        user.and_then(|u| u.last_login_at),
        Some(issued.session.created_at),
        "login stamps last_login_at"
    );

    let now = fixture.clock.now();
    let found = fixture
        .db
        .find_live_session_by_token_hash(&issued.session_hash, now)
        .await
        .expect("lookup");
    assert_eq!(found.as_ref().map(|s| s.id), Some(issued.session.id));
    assert_eq!(found.map(|s| s.user_id), Some(alice.id));
    // The refresh token is not a session token.
    let by_refresh = fixture
        .db
        .find_live_session_by_token_hash(&issued.refresh_hash, now)
        .await
        .expect("lookup");
    assert!(by_refresh.is_none());
    // Expired session tokens are not live.
    let later = issued.session.expires_at + Duration::seconds(1);
    let expired = fixture
        .db
        .find_live_session_by_token_hash(&issued.session_hash, later)
        .await
        .expect("lookup");
    assert!(expired.is_none());
    // find_session sees it regardless.
    let any = fixture
        .db
        .find_session(issued.session.id)
        .await
        .expect("lookup");
    assert!(any.is_some_and(|s| s.is_live(now) && !s.is_live(later)));
}

pub async fn refresh_rotates_and_reuse_revokes_the_session(fixture: &Fixture) {
    let alice = fixtures::user(fixture, "alice").await;
    let issued = login(fixture, alice.id).await;
    fixture.clock.advance(Duration::minutes(5));

    let (first, new_session_hash, new_refresh_hash) = rotation(fixture, &issued.refresh_hash);
    let outcome = fixture
        .db
        .rotate_refresh_token(first)
        .await
        .expect("rotation");
    let RefreshOutcome::Rotated(rotated) = outcome else {
        panic!("expected a rotation, got {outcome:?}");
    };
    assert_eq!(rotated.id, issued.session.id);
    let now = fixture.clock.now();
    assert_eq!(rotated.last_accessed_at, now);
    let old = fixture
        .db
        .find_live_session_by_token_hash(&issued.session_hash, now)
        .await
        .expect("lookup");
    assert!(old.is_none(), "the old session token stops working");
    let new = fixture
        .db
        .find_live_session_by_token_hash(&new_session_hash, now)
        .await
        .expect("lookup");
    assert!(new.is_some(), "the new session token works");

    // The new refresh token rotates again.
    let (second, newest_session_hash, _) = rotation(fixture, &new_refresh_hash);
    let outcome = fixture.db.rotate_refresh_token(second).await.expect("ok");
    assert!(matches!(outcome, RefreshOutcome::Rotated(_)), "{outcome:?}");

    // Presenting the first (rotated) refresh token again revokes the session.
    let (replay, _, _) = rotation(fixture, &issued.refresh_hash);
    let outcome = fixture.db.rotate_refresh_token(replay).await.expect("ok");
    assert_eq!(
        outcome,
        RefreshOutcome::Reused {
            session_id: issued.session.id,
            user_id: alice.id
        }
    );
    let dead = fixture
        .db
        .find_live_session_by_token_hash(&newest_session_hash, now)
        .await
        .expect("lookup");
    assert!(dead.is_none(), "theft detection ends the whole session");
    let session = fixture
        .db
        .find_session(issued.session.id)
        .await
        .expect("lookup")
        .expect("kept");
    assert_eq!(session.revoke_reason, Some(RevokeReason::RefreshReuse));

    // Unknown tokens are unknown; nothing else changes.
    let (unknown, _, _) = rotation(fixture, &issue(TokenKind::Refresh).hash);
    let outcome = fixture.db.rotate_refresh_token(unknown).await.expect("ok");
    assert_eq!(outcome, RefreshOutcome::Unknown);
}

pub async fn expired_or_revoked_refresh_tokens_are_dead(fixture: &Fixture) {
    let alice = fixtures::user(fixture, "alice").await;
    let issued = login(fixture, alice.id).await;
    fixture.clock.advance(Duration::days(31));
    let (late, _, _) = rotation(fixture, &issued.refresh_hash);
    let outcome = fixture.db.rotate_refresh_token(late).await.expect("ok");
    assert_eq!(outcome, RefreshOutcome::Dead);

    let other = login(fixture, alice.id).await;
    let revoked = fixture
        .db
        .revoke_session(
            alice.id,
            other.session.id,
            fixture.clock.now(),
            RevokeReason::Logout,
        )
        .await
        .expect("revoke");
    assert!(revoked);
    let (after_logout, _, _) = rotation(fixture, &other.refresh_hash);
    let outcome = fixture
        .db
        .rotate_refresh_token(after_logout)
        .await
        .expect("ok");
    assert_eq!(outcome, RefreshOutcome::Dead);
}

pub async fn concurrent_refreshes_rotate_once(fixture: &Fixture) {
    let alice = fixtures::user(fixture, "alice").await;
    let issued = login(fixture, alice.id).await;
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let db = fixture.db.clone();
        let (rot, _, _) = rotation(fixture, &issued.refresh_hash);
        tasks.push(tokio::spawn(
            async move { db.rotate_refresh_token(rot).await },
        ));
    }
    let mut rotated = 0;
    let mut reused = 0;
    for task in tasks {
        match task.await.expect("task").expect("rotation call") {
            RefreshOutcome::Rotated(_) => rotated += 1,
            RefreshOutcome::Reused { .. } => reused += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(rotated, 1, "exactly one presentation wins");
    assert_eq!(reused, 7, "every other presentation is a reuse");
    let session = fixture
        .db
        .find_session(issued.session.id)
        .await
        .expect("lookup")
        .expect("kept");
    assert!(
        session.revoked_at.is_some(),
        "a raced token revokes the session"
    );
}

pub async fn sessions_are_listed_and_ended_per_user(fixture: &Fixture) {
    let alice = fixtures::user(fixture, "alice").await;
    let bob = fixtures::user(fixture, "bob").await;
    let a1 = login(fixture, alice.id).await;
    let a2 = login(fixture, alice.id).await;
    let b1 = login(fixture, bob.id).await;
    let now = fixture.clock.now();

    let listed = fixture
        .db
        .list_live_sessions(alice.id, now)
        .await
        .expect("list");
    let ids: Vec<_> = listed.iter().map(|s| s.id).collect();
    assert_eq!(
        ids,
        vec![a2.session.id, a1.session.id],
        "own sessions, newest first"
    );

    let foreign = fixture
        .db
        .revoke_session(alice.id, b1.session.id, now, RevokeReason::User)
        .await
        .expect("call");
    assert!(!foreign, "another user's session cannot be ended");
    let still = fixture
        .db
        .find_live_session_by_token_hash(&b1.session_hash, now)
        .await
        .expect("lookup");
    assert!(still.is_some());

    assert!(fixture
        .db
        .revoke_session(alice.id, a1.session.id, now, RevokeReason::User)
        .await
        .expect("call"));
    assert!(!fixture
        .db
        .revoke_session(alice.id, a1.session.id, now, RevokeReason::User)
        .await
        .expect("call"));
    let listed = fixture
        .db
        .list_live_sessions(alice.id, now)
        .await
        .expect("list");
    assert_eq!(listed.len(), 1);

    let ended = fixture
        .db
        .revoke_all_sessions(alice.id, now, RevokeReason::Admin)
        .await
        .expect("call");
    assert_eq!(ended, 1);
    let gone = fixture
        .db
        .find_live_session_by_token_hash(&a2.session_hash, now)
        .await
        .expect("lookup");
    assert!(gone.is_none());
    let bob_live = fixture
        .db
        .list_live_sessions(bob.id, now)
        .await
        .expect("list");
    assert_eq!(bob_live.len(), 1, "bob is untouched");
}

fn device(fixture: &Fixture, user: UserId, device_id: &str) -> NewDevice {
    NewDevice {
        id: uuid_v7_at(*crate::START),
        user_id: user,
        device_id: device_id.into(),
        device_name: Some("Phone".into()),
        device_type: Some("mobile".into()),
        platform: Some("android".into()),
        public_key_alg: "EdDSA".into(),
        public_key_spki: vec![0x30, 0x2a, 1, 2, 3],
        public_key_hash: format!("sha256:{}", "ab".repeat(32)),
        attestation: Some(json!({"format": "none"})),
        created_at: fixture.clock.now_for_fixtures(),
    }
}

fn method(
    fixture: &Fixture,
    user: UserId,
    kind: tmcp_repository::MfaMethodType,
    device_id: Option<&str>,
    active: bool,
) -> NewMfaMethod {
    NewMfaMethod {
        id: uuid_v7_at(*crate::START),
        user_id: user,
        method_type: kind,
        method_data: json!({"v": 1}),
        device_id: device_id.map(str::to_owned),
        is_active: active,
        created_at: fixture.clock.now_for_fixtures(),
    }
}

async fn mfa_enabled(fixture: &Fixture, user: UserId) -> bool {
    fixture
        .db
        .find_user(user)
        .await
        .expect("lookup")
        .expect("exists")
        .mfa_enabled
}

pub async fn devices_are_per_user_and_unique(fixture: &Fixture) {
    use tmcp_repository::MfaMethodType;
    let alice = fixtures::user(fixture, "alice").await;
    let bob = fixtures::user(fixture, "bob").await;
    let created = fixture
        .db
        .register_device(device(fixture, alice.id, "phone-1"))
        .await
        .expect("registered");
    assert_eq!(created.public_key_alg.as_deref(), Some("EdDSA"));
    assert_eq!(
        created.public_key_spki.as_deref(),
        Some(&[0x30, 0x2a, 1, 2, 3][..])
    );
    let dup = fixture
        .db
        .register_device(device(fixture, alice.id, "phone-1"))
        .await;
    assert!(
        matches!(&dup, Err(RepoError::Conflict { constraint }) if constraint == "device_registrations_user_id_device_id_key"),
        "{dup:?}"
    );
    // Another user may use the same device id.
    fixture
        .db
        .register_device(device(fixture, bob.id, "phone-1"))
        .await
        .expect("bob's device");

    let listed = fixture.db.list_devices(alice.id).await.expect("list");
    assert_eq!(listed.len(), 1);
    assert!(fixture
        .db
        .find_device(alice.id, "phone-1")
        .await
        .expect("find")
        .is_some());
    assert!(fixture
        .db
        .find_device(alice.id, "nope")
        .await
        .expect("find")
        .is_none());

    fixture
        .db
        .touch_device(alice.id, "phone-1", fixture.clock.now())
        .await
        .expect("touch");
    let touched = fixture
        .db
        .find_device(alice.id, "phone-1")
        .await
        .expect("find")
        .expect("exists");
    assert_eq!(touched.last_used_at, Some(fixture.clock.now()));

    // A biometric method bound to the device goes away with it, and so does mfa_enabled.
    fixture
        .db
        .create_mfa_method(method(
            fixture,
            alice.id,
            MfaMethodType::Biometric,
            Some("phone-1"),
            true,
        ))
        .await
        .expect("biometric");
    assert!(mfa_enabled(fixture, alice.id).await);
    assert!(fixture
        .db
        .remove_device(alice.id, "phone-1")
        .await
        .expect("remove"));
    assert!(!fixture
        .db
        .remove_device(alice.id, "phone-1")
        .await
        .expect("remove"));
    assert!(fixture
        .db
        .list_mfa_methods(alice.id)
        .await
        .expect("list")
        .is_empty());
    assert!(!mfa_enabled(fixture, alice.id).await);
    assert_eq!(
        fixture.db.list_devices(bob.id).await.expect("list").len(),
        1
    );
}

pub async fn mfa_methods_drive_mfa_enabled_and_refuse_replays(fixture: &Fixture) {
    use tmcp_repository::MfaMethodType;
    let alice = fixtures::user(fixture, "alice").await;
    let bob = fixtures::user(fixture, "bob").await;
    let pending = fixture
        .db
        .create_mfa_method(method(fixture, alice.id, MfaMethodType::Totp, None, false))
        .await
        .expect("pending totp");
    assert!(!pending.is_active);
    assert!(
        !mfa_enabled(fixture, alice.id).await,
        "unconfirmed does not count"
    );

    let now = fixture.clock.now();
    assert!(!fixture
        .db
        .activate_mfa_method(bob.id, pending.id, now)
        .await
        .expect("call"));
    assert!(fixture
        .db
        .activate_mfa_method(alice.id, pending.id, now)
        .await
        .expect("call"));
    assert!(!fixture
        .db
        .activate_mfa_method(alice.id, pending.id, now)
        .await
        .expect("call"));
    assert!(mfa_enabled(fixture, alice.id).await);

    // One active TOTP per user.
    let second = fixture
        .db
        .create_mfa_method(method(fixture, alice.id, MfaMethodType::Totp, None, true))
        .await;
    assert!(
        matches!(second, Err(RepoError::Conflict { .. })),
        "{second:?}"
    );
    // But a pending one may exist beside it, and is cleaned up on demand.
    fixture
        .db
        .create_mfa_method(method(fixture, alice.id, MfaMethodType::Totp, None, false))
        .await
        .expect("pending");
    let removed = fixture
        .db
        .delete_inactive_mfa_methods(alice.id, MfaMethodType::Totp)
        .await
        .expect("cleanup");
    assert_eq!(removed, 1);

    // Steps are accepted only when newer than the last one.
    assert!(fixture
        .db
        .record_mfa_use(alice.id, pending.id, 100, now)
        .await
        .expect("call"));
    assert!(!fixture
        .db
        .record_mfa_use(alice.id, pending.id, 100, now)
        .await
        .expect("call"));
    assert!(!fixture
        .db
        .record_mfa_use(alice.id, pending.id, 99, now)
        .await
        .expect("call"));
    assert!(!fixture
        .db
        .record_mfa_use(bob.id, pending.id, 101, now)
        .await
        .expect("call"));
    assert!(fixture
        .db
        .record_mfa_use(alice.id, pending.id, 101, now)
        .await
        .expect("call"));
    let stored = fixture
        .db
        .find_mfa_method(alice.id, pending.id)
        .await
        .expect("find")
        .expect("exists");
    assert_eq!(stored.last_used_step, Some(101));
    assert!(fixture
        .db
        .find_mfa_method(bob.id, pending.id)
        .await
        .expect("find")
        .is_none());

    // Concurrent uses of one step: exactly one wins.
    let mut tasks = Vec::new();
    for _ in 0..6 {
        let db = fixture.db.clone();
        let id = pending.id;
        let user = alice.id;
        tasks.push(tokio::spawn(async move {
            db.record_mfa_use(user, id, 500, now).await
        }));
    }
    let mut wins = 0;
    for task in tasks {
        if task.await.expect("task").expect("call") {
            wins += 1;
        }
    }
    assert_eq!(wins, 1);

    // A PIN too; removing the TOTP keeps MFA on, removing both turns it off.
    let pin = fixture
        .db
        .create_mfa_method(method(
            fixture,
            alice.id,
            MfaMethodType::TransactionPin,
            None,
            true,
        ))
        .await
        .expect("pin");
    assert!(fixture
        .db
        .delete_mfa_method(alice.id, pending.id)
        .await
        .expect("delete"));
    assert!(mfa_enabled(fixture, alice.id).await);
    assert!(!fixture
        .db
        .delete_mfa_method(bob.id, pin.id)
        .await
        .expect("delete"));
    assert!(fixture
        .db
        .delete_mfa_method(alice.id, pin.id)
        .await
        .expect("delete"));
    assert!(!mfa_enabled(fixture, alice.id).await);
}

pub async fn profiles_update_partially(fixture: &Fixture) {
    let alice = fixtures::user(fixture, "alice").await;
    let details = fixture
        .db
        .account_details(alice.id)
        .await
        .expect("read")
        .expect("exists");
    assert_eq!(details.profile.language, "en");
    assert_eq!(details.profile.timezone, "UTC");
    assert_eq!(details.preferences, json!({}));
    assert_eq!(details.user.first_name.as_deref(), Some("Test"));

    let now = fixture.clock.now_for_fixtures();
    let updated = fixture
        .db
        .update_account(
            alice.id,
            AccountUpdate {
                first_name: Some(None),
                last_name: Some(Some("Liddell".into())),
                display_name: Some(Some("Alice L.".into())),
                birth_date: Some(Some(date!(1990 - 02 - 28))),
                language: Some("fr".into()),
                metadata: Some(json!({"k": [1, 2]})),
                preferences: Some(json!({"theme": "dark"})),
                public_profile: Some(true),
                ..AccountUpdate::default()
            },
            now,
        )
        .await
        .expect("update")
        .expect("exists");
    assert_eq!(updated.user.first_name, None, "Some(None) clears");
    assert_eq!(updated.user.last_name.as_deref(), Some("Liddell"));
    assert_eq!(updated.user.updated_at, now);
    assert_eq!(updated.profile.display_name.as_deref(), Some("Alice L."));
    assert_eq!(updated.profile.birth_date, Some(date!(1990 - 02 - 28)));
    assert_eq!(updated.profile.language, "fr");
    assert_eq!(updated.profile.timezone, "UTC", "untouched fields stay");
    assert!(updated.profile.public_profile);
    assert_eq!(updated.profile.metadata, json!({"k": [1, 2]}));
    assert_eq!(updated.preferences, json!({"theme": "dark"}));

    let second = fixture
        .db
        .update_account(
            alice.id,
            AccountUpdate {
                bio: Some(Some("hello".into())),
                ..AccountUpdate::default()
            },
            now,
        )
        .await
        .expect("update")
        .expect("exists");
    assert_eq!(second.profile.display_name.as_deref(), Some("Alice L."));
    assert_eq!(second.profile.bio.as_deref(), Some("hello"));

    let missing = fixture
        .db
        .update_account(
            UserId(uuid_v7_at(*crate::START)),
            AccountUpdate::default(),
            now,
        )
        .await
        .expect("call");
    assert!(missing.is_none());
}

pub async fn suspension_changes_status(fixture: &Fixture) {
    let alice = fixtures::user(fixture, "alice").await;
    let now: OffsetDateTime = fixture.clock.now_for_fixtures();
    assert!(fixture
        .db
        .set_user_status(alice.id, UserStatus::Suspended, now)
        .await
        .expect("call"));
    let user = fixture.db.find_user(alice.id).await.expect("find");
    assert_eq!(user.map(|u| u.status), Some(UserStatus::Suspended));
    assert!(!fixture
        .db
        .set_user_status(UserId(uuid_v7_at(*crate::START)), UserStatus::Active, now)
        .await
        .expect("call"));
}

pub async fn account_deletion_erases_personal_data_and_keeps_payments(fixture: &Fixture) {
    use tmcp_repository::MfaMethodType;
    let alice = fixtures::user(fixture, "alice").await;
    let shop_owner = fixtures::user(fixture, "shopowner").await;
    let app = fixtures::app(fixture, "ma_shop", &shop_owner).await;
    fixtures::payment(fixture, &alice, &app, 1250, "completed").await;
    let issued = login(fixture, alice.id).await;
    let bob = fixtures::user(fixture, "bob").await;
    let bobs = login(fixture, bob.id).await;
    let now = fixture.clock.now_for_fixtures();
    fixture
        .db
        .update_account(
            alice.id,
            AccountUpdate {
                phone_ciphertext: Some(Some(vec![1, 2, 3])),
                avatar_url: Some(Some("https://img.example.com/a.png".into())),
                bio: Some(Some("secret bio".into())),
                ..AccountUpdate::default()
            },
            now,
        )
        .await
        .expect("update");
    fixture
        .db
        .register_device(device(fixture, alice.id, "phone-1"))
        .await
        .expect("device");
    fixture
        .db
        .create_mfa_method(method(
            fixture,
            alice.id,
            MfaMethodType::TransactionPin,
            None,
            true,
        ))
        .await
        .expect("pin");

    let tombstone = AccountTombstone::for_user(alice.id);
    assert!(fixture
        .db
        .delete_account(alice.id, tombstone.clone(), now)
        .await
        .expect("delete"));

    let details = fixture
        .db
        .account_details(alice.id)
        .await
        .expect("read")
        .expect("row kept");
    let user = &details.user;
    assert_eq!(user.status, UserStatus::Deleted);
    assert_eq!(user.username, tombstone.username);
    assert_eq!(user.email, tombstone.email);
    assert_eq!(user.password_hash, tombstone.password_hash);
    assert!(user.first_name.is_none() && user.last_name.is_none());
    assert!(user.phone_ciphertext.is_none());
    assert!(!user.mfa_enabled);
    assert!(details.avatar_url.is_none());
    assert_eq!(details.profile.bio, None);
    assert_eq!(details.preferences, json!({}));
    assert!(fixture
        .db
        .list_devices(alice.id)
        .await
        .expect("list")
        .is_empty());
    assert!(fixture
        .db
        .list_mfa_methods(alice.id)
        .await
        .expect("list")
        .is_empty());
    let dead = fixture
        .db
        .find_live_session_by_token_hash(&issued.session_hash, now)
        .await
        .expect("lookup");
    assert!(dead.is_none(), "sessions are ended");
    let session = fixture
        .db
        .find_session(issued.session.id)
        .await
        .expect("lookup")
        .expect("kept");
    assert_eq!(session.revoke_reason, Some(RevokeReason::AccountDeleted));
    assert!(fixture
        .db
        .find_user_by_login("alice")
        .await
        .expect("lookup")
        .is_none());
    assert!(fixture
        .db
        .find_user_by_login("alice@example.com")
        .await
        .expect("lookup")
        .is_none());
    // Money history stays.
    let summary = fixture
        .db
        .user_summary(alice.id)
        .await
        .expect("summary")
        .expect("row");
    assert_eq!(summary.payment_count, 1);
    assert_eq!(summary.total_spent, 1250);
    // The name is free again, and other users are untouched.
    fixtures::user(fixture, "alice").await;
    let bob_live = fixture
        .db
        .find_live_session_by_token_hash(&bobs.session_hash, now)
        .await
        .expect("lookup");
    assert!(bob_live.is_some());
}
