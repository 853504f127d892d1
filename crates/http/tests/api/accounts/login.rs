//! Login: no user enumeration, the lockout, reauthentication, size limits of the second
//! factor's fields and the per-address limit.

use super::*;
use crate::support::on_both_engines;
use axum::http::{header, Method, StatusCode};
use serde_json::json;
use std::net::SocketAddr;

async fn unknown_user_and_wrong_password_look_the_same(app: App) {
    app.register("erin").await;
    let mut wrong_times = Vec::new();
    let mut unknown_times = Vec::new();
    let mut answers = Vec::new();
    for i in 0..3 {
        let ip: SocketAddr = format!("198.51.100.{}:1", 10 + i).parse().expect("addr");
        let body = |login: &str| json!({"login": login, "password": "not the password"});
        let started = std::time::Instant::now();
        let wrong = app
            .call_from(
                ip,
                Method::POST,
                "/api/v1/auth/login",
                None,
                Some(body("erin")),
            )
            .await;
        wrong_times.push(started.elapsed());
        let started = std::time::Instant::now();
        let unknown = app
            .call_from(
                ip,
                Method::POST,
                "/api/v1/auth/login",
                None,
                Some(body("nobody_here")),
            )
            .await;
        unknown_times.push(started.elapsed());
        answers.push((wrong, unknown));
    }
    for (wrong, unknown) in &answers {
        assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
        assert_eq!(unknown.status, wrong.status);
        assert_eq!(wrong.code(), "INVALID_CREDENTIALS");
        assert_eq!(unknown.body["error"]["code"], wrong.body["error"]["code"]);
        assert_eq!(
            unknown.body["error"]["message"],
            wrong.body["error"]["message"]
        );
        assert_eq!(
            unknown.body["error"]["details"],
            wrong.body["error"]["details"]
        );
    }
    // Both paths run one Argon2id verification; the unknown path must not be a fast exit.
    wrong_times.sort();
    unknown_times.sort();
    let (wrong, unknown) = (wrong_times[1], unknown_times[1]);
    assert!(
        unknown * 4 >= wrong,
        "unknown-user login ({unknown:?}) is much faster than a wrong password ({wrong:?})"
    );
}

async fn brute_force_reaches_the_lockout(app: App) {
    app.register("frank").await;
    for i in 0..5 {
        let ip: SocketAddr = format!("203.0.113.{}:1", 1 + i).parse().expect("addr");
        let reply = app
            .call_from(
                ip,
                Method::POST,
                "/api/v1/auth/login",
                None,
                Some(json!({"login": "frank", "password": "guess {i}"})),
            )
            .await;
        assert_eq!(reply.code(), "INVALID_CREDENTIALS", "attempt {i}");
    }
    // Even the right password is refused now, by email as well as by name.
    for login in ["frank", "frank@example.com"] {
        let locked = app
            .login_with(login, "correct horse battery", json!({}))
            .await;
        assert_eq!(
            locked.status,
            StatusCode::TOO_MANY_REQUESTS,
            "{}",
            locked.body
        );
        assert_eq!(locked.code(), "RATE_LIMIT_EXCEEDED");
        let retry: i64 = locked
            .headers
            .get(header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
            .expect("Retry-After");
        assert!(retry >= 1);
        assert!(locked.body["error"]["details"]["retry_after"].is_number());
    }
    // Another account is not affected.
    app.register("grace").await;
    app.login("grace").await;
}

/// Account deletion and MFA enrolment re-check the password: with a stolen session token
/// those checks must not be an unthrottled password oracle, and they share the login lockout.
async fn reauthentication_is_throttled_with_the_login_lockout(app: App) {
    app.register("heidi").await;
    let (token, _, _) = app.login("heidi").await;
    for i in 0..3 {
        let wrong = app
            .call(
                Method::DELETE,
                "/api/v1/users/me",
                Some(&token),
                Some(json!({"password": format!("guess {i}")})),
            )
            .await;
        assert_eq!(wrong.code(), "INVALID_CREDENTIALS", "attempt {i}");
    }
    for i in 3..5 {
        let wrong = app
            .call(
                Method::POST,
                "/api/v1/auth/mfa/methods",
                Some(&token),
                Some(json!({"type": "totp", "password": format!("guess {i}")})),
            )
            .await;
        assert_eq!(wrong.code(), "INVALID_CREDENTIALS", "attempt {i}");
    }
    // Five failures: the right password no longer helps, here or at login.
    let locked = app
        .call(
            Method::DELETE,
            "/api/v1/users/me",
            Some(&token),
            Some(json!({"password": "correct horse battery"})),
        )
        .await;
    assert_eq!(
        locked.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        locked.body
    );
    assert!(locked.headers.get(header::RETRY_AFTER).is_some());
    let enrol = app
        .call(
            Method::POST,
            "/api/v1/auth/mfa/methods",
            Some(&token),
            Some(json!({"type": "totp", "password": "correct horse battery"})),
        )
        .await;
    assert_eq!(
        enrol.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        enrol.body
    );
    let login = app
        .login_with("heidi@example.com", "correct horse battery", json!({}))
        .await;
    assert_eq!(
        login.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        login.body
    );
    // The account still exists and the session still works.
    let me = app
        .call(Method::GET, "/api/v1/users/me", Some(&token), None)
        .await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.body);
}

/// Second-factor fields have size limits like every other field: an oversized code or
/// signature is a 422 naming the field, not silently ignored or passed to the checks.
async fn second_factor_fields_are_size_limited(app: App) {
    app.register("ivan").await;
    let (token, _, _) = app.login("ivan").await;
    let long = "1".repeat(5000);
    let login = app
        .login_with("ivan", "correct horse battery", json!({"mfa_code": long}))
        .await;
    assert_eq!(
        login.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        login.body
    );
    assert!(login.body["error"]["details"]["fields"]["mfa_code"].is_string());
    let login = app
        .login_with(
            "ivan",
            "correct horse battery",
            json!({"mfa": {"device_id": "d", "signature": "A".repeat(5000), "timestamp": 1}}),
        )
        .await;
    assert_eq!(
        login.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        login.body
    );
    assert!(login.body["error"]["details"]["fields"]["mfa.signature"].is_string());

    let pin = app
        .call(
            Method::POST,
            "/api/v1/auth/mfa/methods",
            Some(&token),
            Some(json!({"type": "transaction_pin", "password": "correct horse battery", "pin": "135790"})),
        )
        .await;
    assert_eq!(pin.status, StatusCode::CREATED, "{}", pin.body);
    let id = pin.body["method_id"].as_str().expect("id").to_owned();
    let removal = app
        .call(
            Method::DELETE,
            &format!("/api/v1/auth/mfa/methods/{id}"),
            Some(&token),
            Some(json!({"pin": long})),
        )
        .await;
    assert_eq!(
        removal.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        removal.body
    );
    assert!(removal.body["error"]["details"]["fields"]["pin"].is_string());

    let totp = app
        .call(
            Method::POST,
            "/api/v1/auth/mfa/methods",
            Some(&token),
            Some(json!({"type": "totp", "password": "correct horse battery"})),
        )
        .await;
    assert_eq!(totp.status, StatusCode::CREATED, "{}", totp.body);
    let totp_id = totp.body["method_id"].as_str().expect("id").to_owned();
    let confirm = app
        .call(
            Method::POST,
            &format!("/api/v1/auth/mfa/methods/{totp_id}/confirm"),
            Some(&token),
            Some(json!({"code": long})),
        )
        .await;
    assert_eq!(
        confirm.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        confirm.body
    );
    let biometric = app
        .call(
            Method::POST,
            "/api/v1/auth/mfa/methods",
            Some(&token),
            Some(json!({"type": "biometric", "password": "correct horse battery", "device_id": "x".repeat(300)})),
        )
        .await;
    assert_eq!(
        biometric.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        biometric.body
    );
    assert!(biometric.body["error"]["details"]["fields"]["device_id"].is_string());
}

async fn per_address_login_limit(app: App) {
    let ip: SocketAddr = "192.0.2.77:5555".parse().expect("addr");
    for i in 0..10 {
        let reply = app
            .call_from(
                ip,
                Method::POST,
                "/api/v1/auth/login",
                None,
                Some(json!({"login": format!("ghost{i}"), "password": "whatever1"})),
            )
            .await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "attempt {i}");
        assert_eq!(
            reply
                .headers
                .get("x-ratelimit-limit")
                .and_then(|v| v.to_str().ok()),
            Some("10")
        );
    }
    let limited = app
        .call_from(
            ip,
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some(json!({"login": "ghost", "password": "whatever1"})),
        )
        .await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(limited.headers.contains_key(header::RETRY_AFTER));
    // Another address still gets through to the credential check.
    let other = app
        .call_from(
            "192.0.2.78:1".parse().expect("addr"),
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some(json!({"login": "ghost", "password": "whatever1"})),
        )
        .await;
    assert_eq!(other.status, StatusCode::UNAUTHORIZED);
}

on_both_engines!(
    setup = setup,
    runtime = (flavor = "multi_thread", worker_threads = 2);
    unknown_user_and_wrong_password_look_the_same,
    brute_force_reaches_the_lockout,
    reauthentication_is_throttled_with_the_login_lockout,
    second_factor_fields_are_size_limited,
    per_address_login_limit,
);
