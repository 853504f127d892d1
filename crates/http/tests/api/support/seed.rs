//! Rows and tokens the tests need before they start: users, OAuth clients and TEPs minted
//! straight from the state (no login or consent round trip).

use tmcp_contract_tests::Fixture;
use tmcp_domain::scope::ScopeSet;
use tmcp_domain::user::Role;
use tmcp_domain::{Clock, UserId};
use tmcp_http::auth::TepMint;
use tmcp_http::AppState;
use tmcp_repository::{NewUser, OAuthClient};

/// A plain user `name` (`name@example.com`) that never logs in (no usable password).
pub async fn user(fixture: &Fixture, name: &str) -> UserId {
    let now = fixture.clock.now();
    let id = UserId::new_v7(now);
    fixture
        .db
        .create_user(NewUser {
            id,
            username: name.into(),
            email: format!("{name}@example.com"),
            password_hash: "x".into(),
            first_name: None,
            last_name: None,
            phone_ciphertext: None,
            role: Role::User,
            created_at: now,
        })
        .await
        .expect("user");
    id
}

/// A public client of the app of the same id, with the code grant and the given scopes.
pub async fn client(fixture: &Fixture, client_id: &str, name: &str, scopes: &[&str]) {
    fixture
        .db
        .create_client(OAuthClient {
            client_id: client_id.into(),
            client_secret_hash: None,
            app_id: Some(client_id.into()),
            name: name.into(),
            redirect_uris: vec!["https://app.example/cb".into()],
            grant_types: vec!["authorization_code".into()],
            scopes: scopes.iter().map(|scope| (*scope).to_owned()).collect(),
            is_official: false,
            is_active: true,
            created_at: fixture.clock.now(),
        })
        .await
        .expect("client");
}

/// A TEP for `user` (or the client itself) with `scopes`, minted at `now`; `lifetime`
/// `None` is the server's default.
pub async fn tep(
    state: &AppState,
    now: time::OffsetDateTime,
    user: Option<UserId>,
    client_id: &str,
    scopes: &str,
    lifetime: Option<time::Duration>,
) -> String {
    let request = TepMint {
        user_id: user,
        client_id: client_id.into(),
        scopes: ScopeSet::parse(scopes).expect("scopes"),
        session_id: None,
        lifetime,
        user_context: None,
        miniapp_context: None,
    };
    state
        .tep
        .mint(state.db.as_ref(), now, request)
        .await
        .expect("minted")
        .token
}
