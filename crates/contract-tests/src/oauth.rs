//! OAuth grant storage: consents, single-use codes, refresh rotation with reuse detection,
//! device polling, and the outbox row written with a withdrawal.

use crate::fixtures::user;
use crate::Fixture;
use futures::future::join_all;
use time::{Duration, OffsetDateTime};
use tmcp_domain::ids::uuid_v7_at;
use tmcp_domain::oauth::{new_secret, user_code, SecretKind};
use tmcp_domain::{Clock, SessionId, UserId};
use tmcp_repository::{
    CodeRedemption, ConsentWithdrawal, DevicePoll, IssuedToken, NewAuthorizationCode,
    NewDeviceAuthorization, NewOAuthRefreshToken, OAuthClient, OAuthRefreshRedemption,
    OAuthRefreshRotation, RepoError, TokenLiveness, Withdrawn,
};
use uuid::Uuid;

const CLIENT: &str = "ma_contract_oauth";

async fn client(fixture: &Fixture, id: &str) {
    fixture
        .db
        .create_client(OAuthClient {
            client_id: id.into(),
            client_secret_hash: None,
            app_id: Some(id.into()),
            name: "Contract app".into(),
            redirect_uris: vec!["https://app.example/cb".into()],
            grant_types: vec!["authorization_code".into()],
            scopes: vec!["storage:read".into(), "user:read".into()],
            is_official: false,
            is_active: true,
            created_at: fixture.clock.now(),
        })
        .await
        .expect("client is created");
}

async fn access_token(fixture: &Fixture, user: UserId, grant: Option<Uuid>) -> String {
    let hash = new_secret(SecretKind::AuthorizationCode).hash;
    fixture
        .db
        .record_issued_token(IssuedToken {
            id: uuid_v7_at(*crate::START),
            client_id: CLIENT.into(),
            user_id: Some(user),
            token_hash: hash.clone(),
            scopes: vec!["storage:read".into()],
            expires_at: fixture.clock.now() + Duration::hours(1),
            created_at: fixture.clock.now(),
            grant_id: grant,
        })
        .await
        .expect("token recorded");
    hash
}

async fn live(fixture: &Fixture, user: UserId, hash: &str) -> bool {
    fixture
        .db
        .token_is_live(&TokenLiveness {
            token_hash: hash.to_owned(),
            client_id: CLIENT.into(),
            user_id: Some(user),
            session_id: None::<SessionId>,
        })
        .await
        .expect("liveness")
}

fn refresh(fixture: &Fixture, user: UserId, grant: Uuid) -> (String, NewOAuthRefreshToken) {
    let secret = new_secret(SecretKind::RefreshToken);
    let now = fixture.clock.now();
    (
        secret.value,
        NewOAuthRefreshToken {
            id: uuid_v7_at(*crate::START),
            token_hash: secret.hash,
            grant_id: grant,
            client_id: CLIENT.into(),
            user_id: user,
            scopes: vec!["storage:read".into(), "user:read".into()],
            expires_at: now + Duration::days(30),
            created_at: now,
        },
    )
}

fn rotation(fixture: &Fixture, presented_hash: &str) -> OAuthRefreshRotation {
    let next = new_secret(SecretKind::RefreshToken);
    OAuthRefreshRotation {
        presented_hash: presented_hash.to_owned(),
        client_id: CLIENT.into(),
        new_id: uuid_v7_at(*crate::START),
        new_hash: next.hash,
        new_expires_at: fixture.clock.now() + Duration::days(30),
        now: fixture.clock.now(),
    }
}

pub async fn consents_accumulate_and_withdrawal_kills_tokens_with_an_outbox_row(fixture: &Fixture) {
    client(fixture, CLIENT).await;
    let alice = user(fixture, "consent_alice").await;
    let db = &fixture.db;
    assert_eq!(db.find_consent(alice.id, CLIENT).await.expect("find"), None);
    db.grant_consent(alice.id, CLIENT, &["user:read".into()], fixture.clock.now())
        .await
        .expect("grant");
    fixture.clock.advance(Duration::seconds(1));
    db.grant_consent(
        alice.id,
        CLIENT,
        &["wallet:balance".into(), "user:read".into()],
        fixture.clock.now(),
    )
    .await
    .expect("grant more");
    let consent = db
        .find_consent(alice.id, CLIENT)
        .await
        .expect("find")
        .expect("exists");
    assert_eq!(consent.scopes, vec!["user:read", "wallet:balance"]);
    assert_eq!(consent.revoked_at, None);

    fixture.clock.advance(Duration::seconds(1));
    let token = access_token(fixture, alice.id, None).await;
    assert!(live(fixture, alice.id, &token).await);

    fixture.clock.advance(Duration::seconds(1));
    let at = fixture.clock.now();
    let withdrawn = db
        .withdraw_consent(withdrawal(alice.id, Some(vec!["user:read".into()]), at))
        .await
        .expect("withdraw");
    assert_eq!(
        withdrawn,
        Withdrawn {
            revoked_scopes: vec!["user:read".into()],
            remaining_scopes: vec!["wallet:balance".into()],
            tokens_revoked: 1,
            refresh_tokens_revoked: 0,
            event_queued: true,
        }
    );
    let consent = db
        .find_consent(alice.id, CLIENT)
        .await
        .expect("find")
        .expect("exists");
    assert_eq!(consent.scopes, vec!["wallet:balance"]);
    assert_eq!(consent.revoked_at, Some(at));
    assert!(!live(fixture, alice.id, &token).await, "token died");

    // Re-consenting keeps the withdrawal instant as history.
    fixture.clock.advance(Duration::seconds(1));
    db.grant_consent(alice.id, CLIENT, &["user:read".into()], fixture.clock.now())
        .await
        .expect("grant again");
    let consent = db
        .find_consent(alice.id, CLIENT)
        .await
        .expect("find")
        .expect("exists");
    assert_eq!(consent.scopes, vec!["user:read", "wallet:balance"]);
    assert_eq!(consent.revoked_at, Some(at));
    let fresh = access_token(fixture, alice.id, None).await;
    assert!(live(fixture, alice.id, &fresh).await, "new tokens live");

    let events = db.pending_outbox_events(10).await.expect("outbox");
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].event, "scope.revoked");
    assert_eq!(events[0].payload["scopes"][0], "user:read");

    // A client the user never used: nothing to revoke, no event; the mark is recorded.
    let bob = user(fixture, "consent_bob").await;
    let nothing = db
        .withdraw_consent(withdrawal(bob.id, None, at))
        .await
        .expect("withdraw nothing");
    assert_eq!(nothing, Withdrawn::default());
    assert_eq!(db.pending_outbox_events(10).await.expect("outbox").len(), 1);
    let mark = db.find_consent(bob.id, CLIENT).await.expect("find");
    assert_eq!(
        mark.map(|c| (c.scopes, c.revoked_at)),
        Some((vec![], Some(at)))
    );
}

fn withdrawal(user: UserId, scopes: Option<Vec<String>>, at: OffsetDateTime) -> ConsentWithdrawal {
    ConsentWithdrawal {
        user,
        client_id: CLIENT.into(),
        scopes,
        at,
        event_id: uuid_v7_at(*crate::START),
        app_id: CLIENT.into(),
    }
}

/// Scopes that need no consent (`storage:*`) are issued without a consent row; withdrawing
/// must still end every usable token of the pair and tell the app.
pub async fn withdrawal_without_consent_ends_pre_approved_tokens(fixture: &Fixture) {
    client(fixture, CLIENT).await;
    let alice = user(fixture, "preapproved_alice").await;
    let db = &fixture.db;
    let grant = uuid_v7_at(*crate::START);
    // Already dead before the withdrawal: an expired TEP and a rotated refresh token.
    let expired = new_secret(SecretKind::AuthorizationCode).hash;
    db.record_issued_token(IssuedToken {
        id: uuid_v7_at(*crate::START),
        client_id: CLIENT.into(),
        user_id: Some(alice.id),
        token_hash: expired,
        scopes: vec!["storage:write".into()],
        expires_at: fixture.clock.now() + Duration::seconds(1),
        created_at: fixture.clock.now(),
        grant_id: None,
    })
    .await
    .expect("token recorded");
    let (_, first) = refresh(fixture, alice.id, grant);
    let first_hash = first.token_hash.clone();
    db.store_oauth_refresh_token(first).await.expect("stored");
    fixture.clock.advance(Duration::seconds(2));
    let next = rotation(fixture, &first_hash);
    let current_hash = next.new_hash.clone();
    let rotated = db.rotate_oauth_refresh_token(next).await.expect("rotate");
    assert!(matches!(rotated, OAuthRefreshRedemption::Rotated(_)));
    let tep = access_token(fixture, alice.id, None).await;
    assert!(live(fixture, alice.id, &tep).await);
    assert_eq!(db.find_consent(alice.id, CLIENT).await.expect("find"), None);

    fixture.clock.advance(Duration::seconds(1));
    let at = fixture.clock.now();
    let withdrawn = db
        .withdraw_consent(withdrawal(alice.id, None, at))
        .await
        .expect("withdraw");
    assert_eq!(
        withdrawn,
        Withdrawn {
            revoked_scopes: vec!["storage:read".into(), "user:read".into()],
            remaining_scopes: vec![],
            tokens_revoked: 1,
            refresh_tokens_revoked: 1,
            event_queued: true,
        }
    );
    assert!(!live(fixture, alice.id, &tep).await, "the TEP died");
    assert_eq!(
        db.rotate_oauth_refresh_token(rotation(fixture, &current_hash))
            .await
            .expect("rotate after"),
        OAuthRefreshRedemption::Dead
    );
    let mark = db
        .find_consent(alice.id, CLIENT)
        .await
        .expect("find")
        .expect("the withdrawal left its mark");
    assert_eq!((mark.scopes, mark.revoked_at), (vec![], Some(at)));

    let events = db.pending_outbox_events(10).await.expect("outbox");
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].event, "scope.revoked");
    assert_eq!(events[0].app_id, CLIENT);
    assert_eq!(events[0].created_at, at);
    assert_eq!(events[0].payload["user_id"], alice.id.to_string());
    assert_eq!(events[0].payload["client_id"], CLIENT);
    assert_eq!(
        events[0].payload["scopes"],
        serde_json::json!(["storage:read", "user:read"])
    );

    // A TEP whose row the revocation missed (minted concurrently, stamped before the
    // withdrawal) dies by the mark; one minted afterwards lives.
    let straggler = new_secret(SecretKind::AuthorizationCode).hash;
    db.record_issued_token(IssuedToken {
        id: uuid_v7_at(*crate::START),
        client_id: CLIENT.into(),
        user_id: Some(alice.id),
        token_hash: straggler.clone(),
        scopes: vec!["storage:read".into()],
        expires_at: at + Duration::hours(1),
        created_at: at - Duration::milliseconds(5),
        grant_id: None,
    })
    .await
    .expect("token recorded");
    assert!(!live(fixture, alice.id, &straggler).await);
    fixture.clock.advance(Duration::seconds(1));
    let later = access_token(fixture, alice.id, None).await;
    assert!(live(fixture, alice.id, &later).await);

    // Withdrawing again revokes the newer token only; a third time does nothing at all.
    fixture.clock.advance(Duration::seconds(1));
    let again = db
        .withdraw_consent(withdrawal(alice.id, None, fixture.clock.now()))
        .await
        .expect("withdraw again");
    assert_eq!(again.tokens_revoked, 1);
    assert_eq!(again.revoked_scopes, vec!["storage:read"]);
    let nothing = db
        .withdraw_consent(withdrawal(alice.id, None, fixture.clock.now()))
        .await
        .expect("withdraw a third time");
    assert_eq!(nothing, Withdrawn::default());
    assert_eq!(db.pending_outbox_events(10).await.expect("outbox").len(), 2);
}

/// A refresh rotation racing a withdrawal either loses (the presented token is revoked) or
/// wins before it (and its replacement is revoked with the rest): no refresh token survives.
pub async fn racing_rotation_and_withdrawal_leave_no_live_refresh_token(fixture: &Fixture) {
    client(fixture, CLIENT).await;
    let alice = user(fixture, "withdraw_race").await;
    let db = &fixture.db;
    db.grant_consent(alice.id, CLIENT, &["user:read".into()], fixture.clock.now())
        .await
        .expect("grant");
    for _ in 0..12 {
        fixture.clock.advance(Duration::seconds(1));
        let (_, first) = refresh(fixture, alice.id, uuid_v7_at(*crate::START));
        let first_hash = first.token_hash.clone();
        db.store_oauth_refresh_token(first).await.expect("stored");
        let next = rotation(fixture, &first_hash);
        let next_hash = next.new_hash.clone();
        let rotating = {
            let db = db.clone();
            tokio::spawn(async move { db.rotate_oauth_refresh_token(next).await })
        };
        let withdrawing = {
            let db = db.clone();
            let request = withdrawal(alice.id, None, fixture.clock.now());
            tokio::spawn(async move { db.withdraw_consent(request).await })
        };
        rotating.await.expect("task").expect("rotate");
        withdrawing.await.expect("task").expect("withdraw");
        for hash in [&first_hash, &next_hash] {
            let found = db.find_oauth_refresh_token(hash).await.expect("find");
            assert!(
                found.is_none_or(|t| t.revoked_at.is_some() || t.rotated_at.is_some()),
                "a refresh token outlived the withdrawal"
            );
        }
    }
}

pub async fn codes_are_single_use_and_a_replay_revokes_the_grant(fixture: &Fixture) {
    client(fixture, CLIENT).await;
    let alice = user(fixture, "code_alice").await;
    let db = &fixture.db;
    let secret = new_secret(SecretKind::AuthorizationCode);
    let grant = uuid_v7_at(*crate::START);
    let now = fixture.clock.now();
    db.create_authorization_code(NewAuthorizationCode {
        code_hash: secret.hash.clone(),
        grant_id: grant,
        client_id: CLIENT.into(),
        user_id: alice.id,
        redirect_uri: "https://app.example/cb".into(),
        scopes: vec!["user:read".into()],
        code_challenge: Some("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".into()),
        expires_at: now + Duration::seconds(60),
        created_at: now,
    })
    .await
    .expect("code stored");

    let first = db
        .redeem_authorization_code(&secret.hash, now)
        .await
        .expect("redeem");
    let CodeRedemption::Redeemed(code) = first else {
        panic!("first redemption must win: {first:?}");
    };
    assert_eq!(code.grant_id, grant);
    assert_eq!(code.user_id, alice.id);
    assert_eq!(code.scopes, vec!["user:read"]);
    assert_eq!(
        code.code_challenge.as_deref(),
        Some("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM")
    );

    let access = access_token(fixture, alice.id, Some(grant)).await;
    let (_, refresh_row) = refresh(fixture, alice.id, grant);
    let refresh_hash = refresh_row.token_hash.clone();
    db.store_oauth_refresh_token(refresh_row)
        .await
        .expect("refresh stored");
    let unrelated = access_token(fixture, alice.id, Some(uuid_v7_at(*crate::START))).await;

    let second = db
        .redeem_authorization_code(&secret.hash, now)
        .await
        .expect("redeem again");
    let CodeRedemption::AlreadyUsed(replayed) = second else {
        panic!("second redemption must be detected: {second:?}");
    };
    assert_eq!(
        db.revoke_grant(replayed.grant_id, now)
            .await
            .expect("revoke"),
        2
    );
    assert!(!live(fixture, alice.id, &access).await);
    assert!(live(fixture, alice.id, &unrelated).await);
    let stored = db
        .find_oauth_refresh_token(&refresh_hash)
        .await
        .expect("find")
        .expect("exists");
    assert!(stored.revoked_at.is_some());

    assert_eq!(
        db.redeem_authorization_code(&new_secret(SecretKind::AuthorizationCode).hash, now)
            .await
            .expect("unknown"),
        CodeRedemption::Unknown
    );
}

pub async fn racing_redemptions_of_one_code_have_one_winner(fixture: &Fixture) {
    client(fixture, CLIENT).await;
    let alice = user(fixture, "race_alice").await;
    let secret = new_secret(SecretKind::AuthorizationCode);
    let now = fixture.clock.now();
    fixture
        .db
        .create_authorization_code(NewAuthorizationCode {
            code_hash: secret.hash.clone(),
            grant_id: uuid_v7_at(*crate::START),
            client_id: CLIENT.into(),
            user_id: alice.id,
            redirect_uri: "https://app.example/cb".into(),
            scopes: vec![],
            code_challenge: None,
            expires_at: now + Duration::seconds(60),
            created_at: now,
        })
        .await
        .expect("code stored");
    let attempts = (0..8).map(|_| {
        let db = fixture.db.clone();
        let hash = secret.hash.clone();
        tokio::spawn(async move { db.redeem_authorization_code(&hash, now).await })
    });
    let results = join_all(attempts).await;
    let winners = results
        .into_iter()
        .map(|r| r.expect("task").expect("redeem"))
        .filter(|r| matches!(r, CodeRedemption::Redeemed(_)))
        .count();
    assert_eq!(winners, 1);
}

pub async fn refresh_tokens_rotate_and_reuse_revokes_the_family(fixture: &Fixture) {
    client(fixture, CLIENT).await;
    client(fixture, "ma_contract_other").await;
    let alice = user(fixture, "refresh_alice").await;
    let db = &fixture.db;
    let grant = uuid_v7_at(*crate::START);
    let (_, first) = refresh(fixture, alice.id, grant);
    let first_hash = first.token_hash.clone();
    db.store_oauth_refresh_token(first).await.expect("stored");
    let access = access_token(fixture, alice.id, Some(grant)).await;

    // Another client cannot use it, and the attempt changes nothing.
    let mut foreign = rotation(fixture, &first_hash);
    foreign.client_id = "ma_contract_other".into();
    assert_eq!(
        db.rotate_oauth_refresh_token(foreign)
            .await
            .expect("rotate"),
        OAuthRefreshRedemption::Dead
    );

    fixture.clock.advance(Duration::minutes(1));
    let second = rotation(fixture, &first_hash);
    let second_hash = second.new_hash.clone();
    let rotated = db.rotate_oauth_refresh_token(second).await.expect("rotate");
    let OAuthRefreshRedemption::Rotated(old) = rotated else {
        panic!("current token rotates: {rotated:?}");
    };
    assert_eq!(old.grant_id, grant);
    assert_eq!(old.scopes, vec!["storage:read", "user:read"]);
    let replacement = db
        .find_oauth_refresh_token(&second_hash)
        .await
        .expect("find")
        .expect("replacement stored");
    assert_eq!(replacement.grant_id, grant);
    assert_eq!(replacement.scopes, old.scopes);
    assert!(live(fixture, alice.id, &access).await);

    // The rotated token comes back: theft. Everything of the grant dies.
    let reuse = db
        .rotate_oauth_refresh_token(rotation(fixture, &first_hash))
        .await
        .expect("reuse");
    assert_eq!(reuse, OAuthRefreshRedemption::Reused { grant_id: grant });
    assert!(!live(fixture, alice.id, &access).await);
    assert_eq!(
        db.rotate_oauth_refresh_token(rotation(fixture, &second_hash))
            .await
            .expect("after reuse"),
        OAuthRefreshRedemption::Dead
    );
    assert_eq!(
        db.rotate_oauth_refresh_token(rotation(fixture, "0".repeat(64).as_str()))
            .await
            .expect("unknown"),
        OAuthRefreshRedemption::Unknown
    );

    // Expired tokens are dead.
    let (_, short) = refresh(fixture, alice.id, uuid_v7_at(*crate::START));
    let short_hash = short.token_hash.clone();
    db.store_oauth_refresh_token(short).await.expect("stored");
    fixture.clock.advance(Duration::days(31));
    assert_eq!(
        db.rotate_oauth_refresh_token(rotation(fixture, &short_hash))
            .await
            .expect("expired"),
        OAuthRefreshRedemption::Dead
    );
}

pub async fn racing_refresh_rotations_rotate_once(fixture: &Fixture) {
    client(fixture, CLIENT).await;
    let alice = user(fixture, "refresh_race").await;
    let (_, first) = refresh(fixture, alice.id, uuid_v7_at(*crate::START));
    let hash = first.token_hash.clone();
    fixture
        .db
        .store_oauth_refresh_token(first)
        .await
        .expect("stored");
    let attempts = (0..6).map(|_| {
        let db = fixture.db.clone();
        let request = rotation(fixture, &hash);
        tokio::spawn(async move { db.rotate_oauth_refresh_token(request).await })
    });
    let outcomes: Vec<_> = join_all(attempts)
        .await
        .into_iter()
        .map(|r| r.expect("task").expect("rotate"))
        .collect();
    let rotated = outcomes
        .iter()
        .filter(|o| matches!(o, OAuthRefreshRedemption::Rotated(_)))
        .count();
    assert_eq!(rotated, 1, "{outcomes:?}");
}

fn device(fixture: &Fixture, code: &str) -> (String, NewDeviceAuthorization) {
    let secret = new_secret(SecretKind::DeviceCode);
    let now = fixture.clock.now();
    (
        secret.hash.clone(),
        NewDeviceAuthorization {
            id: uuid_v7_at(*crate::START),
            device_code_hash: secret.hash,
            user_code: code.to_owned(),
            client_id: CLIENT.into(),
            scopes: vec!["user:read".into()],
            interval_secs: 5,
            expires_at: now + Duration::seconds(900),
            created_at: now,
        },
    )
}

pub async fn device_authorizations_poll_slow_down_and_issue_once(fixture: &Fixture) {
    client(fixture, CLIENT).await;
    let alice = user(fixture, "device_alice").await;
    let db = &fixture.db;
    let code = user_code::generate();
    let (hash, row) = device(fixture, &code);
    db.create_device_authorization(row).await.expect("created");
    let (_, clash) = device(fixture, &code);
    assert!(matches!(
        db.create_device_authorization(clash).await,
        Err(RepoError::Conflict { .. })
    ));

    let poll = |at| db.poll_device_authorization(&hash, CLIENT, at);
    let t0 = fixture.clock.now();
    assert_eq!(poll(t0).await.expect("poll"), DevicePoll::Pending);
    assert_eq!(
        poll(t0 + Duration::seconds(2)).await.expect("poll"),
        DevicePoll::SlowDown { interval_secs: 10 }
    );
    // The interval is now 10 s, measured from the last poll.
    assert_eq!(
        poll(t0 + Duration::seconds(9)).await.expect("poll"),
        DevicePoll::SlowDown { interval_secs: 15 }
    );
    assert_eq!(
        poll(t0 + Duration::seconds(30)).await.expect("poll"),
        DevicePoll::Pending
    );
    assert_eq!(
        db.poll_device_authorization(&hash, "ma_someone_else", t0)
            .await
            .expect("poll"),
        DevicePoll::Invalid
    );

    let pending = db
        .find_pending_device_authorization(&code, t0)
        .await
        .expect("find")
        .expect("pending");
    assert_eq!(pending.client_id, CLIENT);
    assert_eq!(pending.scopes, vec!["user:read"]);
    assert!(db
        .decide_device_authorization(&code, alice.id, true, t0 + Duration::seconds(31))
        .await
        .expect("approve"));
    assert!(!db
        .decide_device_authorization(&code, alice.id, false, t0 + Duration::seconds(31))
        .await
        .expect("second decision refused"));
    assert_eq!(
        db.find_pending_device_authorization(&code, t0)
            .await
            .expect("find"),
        None
    );
    let approved = poll(t0 + Duration::seconds(60)).await.expect("poll");
    let DevicePoll::Approved(approved) = approved else {
        panic!("approved poll issues: {approved:?}");
    };
    assert_eq!(approved.user_id, Some(alice.id));
    assert_eq!(
        poll(t0 + Duration::seconds(90)).await.expect("poll"),
        DevicePoll::Invalid,
        "a device code issues tokens once"
    );

    // Denied and expired authorizations.
    let denied_code = user_code::generate();
    let (denied_hash, row) = device(fixture, &denied_code);
    db.create_device_authorization(row).await.expect("created");
    assert!(db
        .decide_device_authorization(&denied_code, alice.id, false, t0)
        .await
        .expect("deny"));
    assert_eq!(
        db.poll_device_authorization(&denied_hash, CLIENT, t0)
            .await
            .expect("poll"),
        DevicePoll::Denied
    );
    let late_code = user_code::generate();
    let (late_hash, row) = device(fixture, &late_code);
    db.create_device_authorization(row).await.expect("created");
    let late = t0 + Duration::seconds(901);
    assert_eq!(
        db.poll_device_authorization(&late_hash, CLIENT, late)
            .await
            .expect("poll"),
        DevicePoll::Expired
    );
    assert!(!db
        .decide_device_authorization(&late_code, alice.id, true, late)
        .await
        .expect("too late"));

    // An expired user code can be handed out again.
    fixture.clock.set(late);
    let (_, reuse) = device(fixture, &late_code);
    db.create_device_authorization(reuse)
        .await
        .expect("expired code is replaced");
}
