//! What the accounts API shows of itself: its routes in the OpenAPI document, and
//! `Debug` output that never shows a secret.

use super::*;
use crate::support::on_both_engines;
use axum::http::Method;
use serde_json::{json, Value};
use tmcp_domain::user::{Role, UserStatus};
use tmcp_domain::UserId;
use tmcp_http::routes::accounts::register::NewAccount;

async fn openapi_lists_the_account_routes(app: App) {
    let doc = app.call(Method::GET, "/openapi.json", None, None).await;
    let paths = doc.body["paths"].as_object().expect("paths");
    for path in [
        "/api/v1/auth/register",
        "/api/v1/auth/login",
        "/api/v1/auth/refresh",
        "/api/v1/auth/logout",
        "/api/v1/auth/sessions",
        "/api/v1/auth/sessions/{id}",
        "/api/v1/users/me",
        "/api/v1/users/{id}/summary",
        "/api/v1/devices",
        "/api/v1/devices/{device_id}",
        "/api/v1/auth/mfa/methods",
        "/api/v1/auth/mfa/methods/{id}",
        "/api/v1/auth/mfa/methods/{id}/confirm",
    ] {
        assert!(paths.contains_key(path), "{path} missing from OpenAPI");
    }
    assert!(paths["/api/v1/users/me"].get("patch").is_some());
    assert!(doc.body["components"]["securitySchemes"]["session"].is_object());
}

/// `{:?}` of anything holding a password, PIN, code, token or TOTP secret must not show it:
/// these structs end up in logs through `?value` fields and error chains.
#[test]
fn debug_output_redacts_secrets() {
    use tmcp_http::auth::second_factor::SecondFactorProof;
    use tmcp_http::routes::accounts::delete::DeleteAccountRequest;
    use tmcp_http::routes::accounts::login::LoginRequest;
    use tmcp_http::routes::accounts::refresh::RefreshRequest;
    use tmcp_http::routes::accounts::register::RegisterRequest;
    use tmcp_http::routes::accounts::views::TokenPair;
    use tmcp_http::routes::mfa::confirm::ConfirmRequest;
    use tmcp_http::routes::mfa::enrol::{EnrolRequest, EnrolResponse};
    use tmcp_http::routes::mfa::list::MfaMethodView;

    const SECRET: &str = "s3cret-Value-9271";
    fn parse<T: serde::de::DeserializeOwned>(value: Value) -> T {
        serde_json::from_value(value).expect("valid request")
    }
    fn assert_hidden(what: &str, debug: String) {
        assert!(!debug.contains(SECRET), "{what} leaks a secret: {debug}");
        assert!(debug.contains("<redacted>"), "{what}: {debug}");
    }
    let login: LoginRequest = parse(
        json!({"login": "alice", "password": SECRET, "mfa_code": SECRET,
        "mfa": {"code": SECRET, "pin": SECRET, "signature": SECRET}}),
    );
    assert_hidden("LoginRequest", format!("{login:?}"));
    let register: RegisterRequest =
        parse(json!({"username": "alice", "email": "a@example.com", "password": SECRET}));
    assert_hidden("RegisterRequest", format!("{register:?}"));
    let account = NewAccount {
        username: "alice".into(),
        email: "a@example.com".into(),
        password: SECRET.into(),
        first_name: None,
        last_name: None,
        phone: None,
        role: Role::User,
    };
    assert_hidden("NewAccount", format!("{account:?}"));
    let refresh: RefreshRequest = parse(json!({"refresh_token": SECRET}));
    assert_hidden("RefreshRequest", format!("{refresh:?}"));
    let delete: DeleteAccountRequest = parse(json!({"password": SECRET}));
    assert_hidden("DeleteAccountRequest", format!("{delete:?}"));
    let confirm: ConfirmRequest = parse(json!({"code": SECRET}));
    assert_hidden("ConfirmRequest", format!("{confirm:?}"));
    let enrol: EnrolRequest =
        parse(json!({"type": "transaction_pin", "password": SECRET, "pin": SECRET}));
    assert_hidden("EnrolRequest", format!("{enrol:?}"));
    let proof: SecondFactorProof =
        parse(json!({"code": SECRET, "pin": SECRET, "signature": SECRET}));
    assert_hidden("SecondFactorProof", format!("{proof:?}"));
    let pair = TokenPair {
        session_id: "id".into(),
        session_token: SECRET.into(),
        refresh_token: SECRET.into(),
        token_type: "Bearer",
        expires_in: 1,
        refresh_expires_in: 1,
    };
    assert_hidden("TokenPair", format!("{pair:?}"));
    let enrolled = EnrolResponse {
        method: MfaMethodView {
            method_id: "m".into(),
            method_type: "totp",
            is_active: false,
            is_primary: false,
            device_id: None,
            created_at: time::OffsetDateTime::UNIX_EPOCH,
        },
        secret_base32: Some(SECRET.into()),
        otpauth_uri: Some(format!("otpauth://totp/TMCP:alice?secret={SECRET}")),
    };
    assert_hidden("EnrolResponse", format!("{enrolled:?}"));
    let user = tmcp_repository::User {
        id: UserId(uuid::Uuid::nil()),
        username: "alice".into(),
        email: "a@example.com".into(),
        password_hash: format!("$argon2id$v=19$m=19456,t=2,p=1${SECRET}"),
        first_name: None,
        last_name: None,
        phone_ciphertext: None,
        status: UserStatus::Active,
        role: Role::User,
        email_verified: false,
        mfa_enabled: false,
        created_at: time::OffsetDateTime::UNIX_EPOCH,
        updated_at: time::OffsetDateTime::UNIX_EPOCH,
        last_login_at: None,
    };
    assert_hidden("User", format!("{user:?}"));
    let minted = tmcp_http::auth::MintedTep {
        token: format!("tep.{SECRET}"),
        token_id: "jti".into(),
        expires_in: 1,
        expires_at: time::OffsetDateTime::UNIX_EPOCH,
        scope: "storage:read".into(),
        wallet_id: None,
    };
    assert_hidden("MintedTep", format!("{minted:?}"));
}

on_both_engines!(
    setup = setup,
    runtime = (flavor = "multi_thread", worker_threads = 2);
    openapi_lists_the_account_routes,
);
