use crate::fixtures::{self, FixtureClock};
use crate::Fixture;
use tmcp_domain::crypto::FieldCipher;
use tmcp_domain::user::{Role, UserStatus};
use tmcp_domain::UserId;
use tmcp_repository::{NewUser, RepoError};

fn new_user(fixture: &Fixture, username: &str, email: &str) -> NewUser {
    let at = fixture.clock.now_for_fixtures();
    NewUser {
        id: UserId::new_v7(at),
        username: username.into(),
        email: email.into(),
        password_hash: "hash".into(),
        first_name: None,
        last_name: None,
        phone_ciphertext: None,
        role: Role::Developer,
        created_at: at,
    }
}

pub async fn create_and_find(fixture: &Fixture) {
    let created = fixtures::user(fixture, "alice").await;
    assert_eq!(created.status, UserStatus::Active);
    assert_eq!(created.role, Role::User);
    assert!(!created.mfa_enabled && !created.email_verified);
    assert_eq!(created.created_at, created.updated_at);

    let by_id = fixture
        .db
        .find_user(created.id)
        .await
        .expect("lookup works");
    assert_eq!(by_id.as_ref(), Some(&created));
    let by_name = fixture
        .db
        .find_user_by_login("alice")
        .await
        .expect("lookup works");
    assert_eq!(by_name.map(|u| u.id), Some(created.id));
    let by_email = fixture
        .db
        .find_user_by_login("alice@example.com")
        .await
        .expect("lookup works");
    assert_eq!(by_email.map(|u| u.id), Some(created.id));
    let missing = fixture
        .db
        .find_user_by_login("nobody")
        .await
        .expect("lookup works");
    assert!(missing.is_none(), "unknown users are None, not an error");
}

pub async fn duplicates_conflict_by_constraint(fixture: &Fixture) {
    fixture
        .db
        .create_user(new_user(fixture, "bob", "bob@example.com"))
        .await
        .expect("first bob");
    let same_name = fixture
        .db
        .create_user(new_user(fixture, "bob", "other@example.com"))
        .await;
    assert!(
        matches!(&same_name, Err(RepoError::Conflict { constraint }) if constraint == "users_username_key"),
        "{same_name:?}"
    );
    let same_email = fixture
        .db
        .create_user(new_user(fixture, "bobby", "bob@example.com"))
        .await;
    assert!(
        matches!(&same_email, Err(RepoError::Conflict { constraint }) if constraint == "users_email_key"),
        "{same_email:?}"
    );
}

/// The domain validates emails first, but the database's own CHECK is the last line.
pub async fn database_rejects_malformed_email(fixture: &Fixture) {
    for bad in ["no-at-sign", "a@b", "a@b.c", "x@.ab", "a b@c.de"] {
        let result = fixture
            .db
            .create_user(new_user(fixture, "carol", bad))
            .await;
        assert!(
            matches!(&result, Err(RepoError::Constraint { constraint }) if constraint.contains("chk_users_email_format")),
            "{bad}: {result:?}"
        );
    }
    let ok = fixture
        .db
        .create_user(new_user(fixture, "carol", "carol+tag@mail.example.org"))
        .await;
    assert!(ok.is_ok(), "{ok:?}");
}

pub async fn phone_is_stored_only_as_ciphertext(fixture: &Fixture) {
    let cipher = FieldCipher::new(&[42u8; 32]).expect("key");
    let mut user = new_user(fixture, "dave", "dave@example.com");
    let context = format!("users.phone:{}", user.id);
    user.phone_ciphertext = Some(cipher.encrypt(b"+15550001111", &context));
    let stored = fixture.db.create_user(user).await.expect("created");
    let sealed = stored.phone_ciphertext.expect("phone kept");
    assert!(
        !sealed.windows(12).any(|w| w == b"+15550001111"),
        "no plaintext at rest"
    );
    assert_eq!(
        cipher.decrypt(&sealed, &context).as_deref(),
        Ok(&b"+15550001111"[..])
    );
}
