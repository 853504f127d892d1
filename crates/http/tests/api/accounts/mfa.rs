//! Second factors: TOTP enrolment and login, and the transaction PIN.

use super::*;
use crate::support::on_both_engines;
use axum::http::{Method, StatusCode};
use serde_json::json;
use time::Duration;
use tmcp_domain::auth::totp::TotpKey;
use tmcp_domain::Clock;

async fn totp_enrolment_and_login(app: App) {
    app.register("peggy").await;
    let (token, _, _) = app.login("peggy").await;
    let wrong_pw = app
        .call(
            Method::POST,
            "/api/v1/auth/mfa/methods",
            Some(&token),
            Some(json!({"type": "totp", "password": "not it at all"})),
        )
        .await;
    assert_eq!(wrong_pw.status, StatusCode::UNAUTHORIZED);
    assert_eq!(wrong_pw.code(), "INVALID_CREDENTIALS");

    let enrol = app
        .call(
            Method::POST,
            "/api/v1/auth/mfa/methods",
            Some(&token),
            Some(json!({"type": "totp", "password": "correct horse battery"})),
        )
        .await;
    assert_eq!(enrol.status, StatusCode::CREATED, "{}", enrol.body);
    assert_eq!(enrol.body["is_active"], false);
    let method_id = enrol.body["method_id"].as_str().expect("id").to_owned();
    let secret = enrol.body["secret_base32"]
        .as_str()
        .expect("secret")
        .to_owned();
    let uri = enrol.body["otpauth_uri"].as_str().expect("uri");
    assert!(
        uri.starts_with("otpauth://totp/TMCP:peggy?") && uri.contains(&secret),
        "{uri}"
    );
    let key = TotpKey::from_base32(&secret).expect("key");

    // The secret is sealed at rest.
    let user = app
        .fixture
        .db
        .find_user_by_login("peggy")
        .await
        .expect("lookup")
        .expect("peggy");
    let stored = app
        .fixture
        .db
        .list_mfa_methods(user.id)
        .await
        .expect("list");
    assert!(!stored[0].method_data.to_string().contains(&secret));
    let listed = app
        .call(Method::GET, "/api/v1/auth/mfa/methods", Some(&token), None)
        .await;
    assert!(!listed.body.to_string().contains(&secret));

    // Unconfirmed TOTP does not turn MFA on.
    app.login("peggy").await;

    let now = || u64::try_from(app.fixture.clock.now().unix_timestamp()).expect("positive");
    let bad = app
        .call(
            Method::POST,
            &format!("/api/v1/auth/mfa/methods/{method_id}/confirm"),
            Some(&token),
            Some(json!({"code": "000000"})),
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNAUTHORIZED);
    assert_eq!(bad.code(), "INVALID_MFA_CREDENTIALS");
    let code = key.code_at(now());
    let confirmed = app
        .call(
            Method::POST,
            &format!("/api/v1/auth/mfa/methods/{method_id}/confirm"),
            Some(&token),
            Some(json!({"code": code})),
        )
        .await;
    assert_eq!(confirmed.status, StatusCode::OK, "{}", confirmed.body);
    assert_eq!(confirmed.body["is_active"], true);
    let me = app
        .call(Method::GET, "/api/v1/users/me", Some(&token), None)
        .await;
    assert_eq!(me.body["mfa_enabled"], true);

    let missing = app
        .login_with("peggy", "correct horse battery", json!({}))
        .await;
    assert_eq!(missing.status, StatusCode::UNAUTHORIZED);
    assert_eq!(missing.code(), "MFA_REQUIRED");
    assert_eq!(missing.body["error"]["details"]["methods"], json!(["totp"]));
    // The code used for confirmation cannot be used again.
    let replay = app
        .login_with("peggy", "correct horse battery", json!({"mfa_code": code}))
        .await;
    assert_eq!(replay.code(), "MFA_REQUIRED");

    app.fixture.clock.advance(Duration::seconds(30));
    let next = key.code_at(now());
    let ok = app
        .login_with("peggy", "correct horse battery", json!({"mfa_code": next}))
        .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    let again = app
        .login_with("peggy", "correct horse battery", json!({"mfa_code": next}))
        .await;
    assert_eq!(again.code(), "MFA_REQUIRED", "each step is accepted once");

    // A second TOTP cannot be enrolled while one is active.
    let second = app
        .call(
            Method::POST,
            "/api/v1/auth/mfa/methods",
            Some(&token),
            Some(json!({"type": "totp", "password": "correct horse battery"})),
        )
        .await;
    assert_eq!(second.status, StatusCode::CONFLICT);

    // Removing it needs a (fresh) second factor.
    let no_proof = app
        .call(
            Method::DELETE,
            &format!("/api/v1/auth/mfa/methods/{method_id}"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(no_proof.code(), "INVALID_MFA_CREDENTIALS");
    app.fixture.clock.advance(Duration::seconds(30));
    let removed = app
        .call(
            Method::DELETE,
            &format!("/api/v1/auth/mfa/methods/{method_id}"),
            Some(&token),
            Some(json!({"method": "totp", "code": key.code_at(now())})),
        )
        .await;
    assert_eq!(removed.status, StatusCode::NO_CONTENT, "{}", removed.body);
    app.login("peggy").await;
}

async fn transaction_pin(app: App) {
    app.register("rupert").await;
    let (token, _, _) = app.login("rupert").await;
    for weak in ["123456", "111111", "987654", "12345", "abcdef"] {
        let refused = app
            .call(Method::POST, "/api/v1/auth/mfa/methods", Some(&token), Some(json!({"type": "transaction_pin", "password": "correct horse battery", "pin": weak})))
            .await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{weak}");
        assert!(refused.body["error"]["details"]["fields"]["pin"].is_string());
    }
    let created = app
        .call(Method::POST, "/api/v1/auth/mfa/methods", Some(&token), Some(json!({"type": "transaction_pin", "password": "correct horse battery", "pin": "482915"})))
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let method_id = created.body["method_id"].as_str().expect("id").to_owned();
    let user = app
        .fixture
        .db
        .find_user_by_login("rupert")
        .await
        .expect("lookup")
        .expect("rupert");
    let stored = app
        .fixture
        .db
        .list_mfa_methods(user.id)
        .await
        .expect("list");
    assert!(!stored[0].method_data.to_string().contains("482915"));
    let dup = app
        .call(Method::POST, "/api/v1/auth/mfa/methods", Some(&token), Some(json!({"type": "transaction_pin", "password": "correct horse battery", "pin": "592716"})))
        .await;
    assert_eq!(dup.status, StatusCode::CONFLICT);

    let wrong = app
        .login_with(
            "rupert",
            "correct horse battery",
            json!({"mfa_code": "000001"}),
        )
        .await;
    assert_eq!(wrong.code(), "MFA_REQUIRED");
    assert_eq!(
        wrong.body["error"]["details"]["methods"],
        json!(["transaction_pin"])
    );
    let ok = app
        .login_with(
            "rupert",
            "correct horse battery",
            json!({"mfa_code": "482915"}),
        )
        .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);

    let bad_pin = app
        .call(
            Method::DELETE,
            &format!("/api/v1/auth/mfa/methods/{method_id}"),
            Some(&token),
            Some(json!({"pin": "000001"})),
        )
        .await;
    assert_eq!(bad_pin.code(), "INVALID_MFA_CREDENTIALS");
    let removed = app
        .call(
            Method::DELETE,
            &format!("/api/v1/auth/mfa/methods/{method_id}"),
            Some(&token),
            Some(json!({"pin": "482915"})),
        )
        .await;
    assert_eq!(removed.status, StatusCode::NO_CONTENT);
    let me = app
        .call(Method::GET, "/api/v1/users/me", Some(&token), None)
        .await;
    assert_eq!(me.body["mfa_enabled"], false);
}

on_both_engines!(
    setup = setup,
    runtime = (flavor = "multi_thread", worker_threads = 2);
    totp_enrolment_and_login,
    transaction_pin,
);
