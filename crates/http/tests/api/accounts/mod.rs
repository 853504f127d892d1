//! Accounts through HTTP on both engines: registration, login, sessions, refresh rotation and
//! reuse detection, profile, deletion, devices with real keys, MFA (TOTP, PIN, biometric),
//! throttling and the admin summary.

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{EcdsaKeyPair, Ed25519KeyPair, KeyPair, ECDSA_P256_SHA256_ASN1_SIGNING};
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{header, HeaderMap, Method, Request, StatusCode};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use http_body_util::BodyExt;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::net::SocketAddr;
use std::sync::Arc;
use time::Duration;
use tmcp_contract_tests::Fixture;
use tmcp_domain::auth::totp::TotpKey;
use tmcp_domain::user::{Role, UserStatus};
use tmcp_domain::{Clock, UserId};
use tmcp_http::routes::accounts::register::{create_account, NewAccount};
use tmcp_http::AppState;
use tower::ServiceExt;

struct App {
    fixture: Fixture,
    state: AppState,
    ip: SocketAddr,
}

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Value,
}

impl Reply {
    fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }
}

async fn setup(fixture: Fixture) -> App {
    let clock: Arc<dyn Clock> = Arc::new(fixture.clock.clone());
    let state = tmcp_http::testing::state(Arc::clone(&fixture.db), clock).await;
    App {
        fixture,
        state,
        ip: "198.51.100.1:40000".parse().expect("addr"),
    }
}

impl App {
    async fn call_from(
        &self,
        ip: SocketAddr,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header(header::USER_AGENT, "AccountsTest/1.0");
        if let Some(token) = token {
            request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let body = match body {
            Some(value) => {
                request = request.header(header::CONTENT_TYPE, "application/json");
                Body::from(value.to_string())
            }
            None => Body::empty(),
        };
        let mut request = request.body(body).expect("request");
        request.extensions_mut().insert(ConnectInfo(ip));
        let response = tmcp_http::router(self.state.clone())
            .oneshot(request)
            .await
            .expect("infallible");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or_else(|_| {
                panic!("{status}: not JSON: {}", String::from_utf8_lossy(&bytes))
            })
        };
        Reply {
            status,
            headers,
            body,
        }
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        self.call_from(self.ip, method, path, token, body).await
    }

    async fn register(&self, username: &str) -> Value {
        let reply = self
            .call(
                Method::POST,
                "/api/v1/auth/register",
                None,
                Some(json!({
                    "username": username,
                    "email": format!("{username}@example.com"),
                    "password": "correct horse battery",
                    "first_name": "Test",
                    "phone": "+1 555 000 1111",
                })),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        reply.body
    }

    async fn login_with(&self, login: &str, password: &str, extra: Value) -> Reply {
        let mut body = json!({ "login": login, "password": password, "device_id": "phone-1" });
        if let (Some(target), Some(more)) = (body.as_object_mut(), extra.as_object()) {
            for (k, v) in more {
                target.insert(k.clone(), v.clone());
            }
        }
        self.call(Method::POST, "/api/v1/auth/login", None, Some(body))
            .await
    }

    /// Logs in and returns (session_token, refresh_token, session_id).
    async fn login(&self, username: &str) -> (String, String, String) {
        let reply = self
            .login_with(username, "correct horse battery", json!({}))
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        tokens(&reply.body)
    }
}

fn tokens(body: &Value) -> (String, String, String) {
    let get = |k: &str| {
        body[k]
            .as_str()
            .unwrap_or_else(|| panic!("{k} in {body}"))
            .to_owned()
    };
    (
        get("session_token"),
        get("refresh_token"),
        get("session_id"),
    )
}

fn assert_invalid_token(reply: &Reply) {
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{}", reply.body);
    assert_eq!(reply.code(), "INVALID_TOKEN");
    assert_eq!(
        reply
            .headers
            .get(header::WWW_AUTHENTICATE)
            .and_then(|v| v.to_str().ok()),
        Some("Bearer")
    );
}

async fn full_session_story(app: App) {
    let user = app.register("alice").await;
    assert_eq!(user["username"], "alice");
    assert_eq!(user["email"], "alice@example.com");
    assert_eq!(user["phone"], "+15550001111");
    assert!(user.get("password_hash").is_none() && user.get("password").is_none());

    let login = app
        .login_with(
            "ALICE@example.com",
            "correct horse battery",
            json!({"device_name": "Pixel"}),
        )
        .await;
    assert_eq!(login.status, StatusCode::OK, "{}", login.body);
    assert_eq!(login.body["token_type"], "Bearer");
    assert_eq!(login.body["expires_in"], 24 * 3600);
    assert_eq!(login.body["user"]["username"], "alice");
    assert!(login.body["user"]["last_login_at"].is_string());
    assert!(login.headers.contains_key("x-ratelimit-limit"));
    let (session, refresh, session_id) = tokens(&login.body);
    assert!(session.starts_with("st_") && refresh.starts_with("rt_"));

    // Only hashes are stored.
    let found = app
        .fixture
        .db
        .find_live_session_by_token_hash(
            &hex::encode(Sha256::digest(session.as_bytes())),
            app.fixture.clock.now(),
        )
        .await
        .expect("lookup")
        .expect("stored by hash");
    assert_eq!(found.id.to_string(), session_id);
    assert_eq!(found.ip_address.as_deref(), Some("198.51.100.1"));
    assert_eq!(found.user_agent.as_deref(), Some("AccountsTest/1.0"));
    assert_eq!(found.device_name.as_deref(), Some("Pixel"));

    let me = app
        .call(Method::GET, "/api/v1/users/me", Some(&session), None)
        .await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.body);
    assert_eq!(me.body["username"], "alice");
    assert_eq!(me.body["profile"]["language"], "en");

    // Refresh rotates both tokens.
    app.fixture.clock.advance(Duration::minutes(10));
    let rotated = app
        .call(
            Method::POST,
            "/api/v1/auth/refresh",
            None,
            Some(json!({ "refresh_token": refresh })),
        )
        .await;
    assert_eq!(rotated.status, StatusCode::OK, "{}", rotated.body);
    let (session2, refresh2, same_id) = tokens(&rotated.body);
    assert_eq!(same_id, session_id);
    assert_ne!(session2, session);
    assert_ne!(refresh2, refresh);
    assert_invalid_token(
        &app.call(Method::GET, "/api/v1/users/me", Some(&session), None)
            .await,
    );
    let me = app
        .call(Method::GET, "/api/v1/users/me", Some(&session2), None)
        .await;
    assert_eq!(me.status, StatusCode::OK);

    // Reusing the rotated refresh token is theft: 401 and the whole session dies.
    let reuse = app
        .call(
            Method::POST,
            "/api/v1/auth/refresh",
            None,
            Some(json!({ "refresh_token": refresh })),
        )
        .await;
    assert_invalid_token(&reuse);
    assert_invalid_token(
        &app.call(Method::GET, "/api/v1/users/me", Some(&session2), None)
            .await,
    );
    let after = app
        .call(
            Method::POST,
            "/api/v1/auth/refresh",
            None,
            Some(json!({ "refresh_token": refresh2 })),
        )
        .await;
    assert_invalid_token(&after);

    // A new login, then logout ends it.
    let (session3, refresh3, _) = app.login("alice").await;
    let out = app
        .call(Method::POST, "/api/v1/auth/logout", Some(&session3), None)
        .await;
    assert_eq!(out.status, StatusCode::NO_CONTENT, "{}", out.body);
    assert_invalid_token(
        &app.call(Method::GET, "/api/v1/users/me", Some(&session3), None)
            .await,
    );
    assert_invalid_token(
        &app.call(
            Method::POST,
            "/api/v1/auth/refresh",
            None,
            Some(json!({ "refresh_token": refresh3 })),
        )
        .await,
    );
}

async fn bad_tokens_and_expiry(app: App) {
    app.register("bob").await;
    let (session, refresh, _) = app.login("bob").await;
    assert_invalid_token(&app.call(Method::GET, "/api/v1/users/me", None, None).await);
    assert_invalid_token(
        &app.call(Method::GET, "/api/v1/users/me", Some("garbage"), None)
            .await,
    );
    let unknown = format!("st_{}", "A".repeat(43));
    assert_invalid_token(
        &app.call(Method::GET, "/api/v1/users/me", Some(&unknown), None)
            .await,
    );
    // The refresh token is not a bearer for API calls.
    assert_invalid_token(
        &app.call(Method::GET, "/api/v1/users/me", Some(&refresh), None)
            .await,
    );

    // Session tokens expire after 24 h; the refresh token still works for 30 days.
    app.fixture.clock.advance(Duration::hours(25));
    assert_invalid_token(
        &app.call(Method::GET, "/api/v1/users/me", Some(&session), None)
            .await,
    );
    let renewed = app
        .call(
            Method::POST,
            "/api/v1/auth/refresh",
            None,
            Some(json!({ "refresh_token": refresh })),
        )
        .await;
    assert_eq!(renewed.status, StatusCode::OK, "{}", renewed.body);
    let (fresh, _, _) = tokens(&renewed.body);
    assert_eq!(
        app.call(Method::GET, "/api/v1/users/me", Some(&fresh), None)
            .await
            .status,
        StatusCode::OK
    );

    // Suspension closes the door with 403, at the extractor and at login.
    let bob = app
        .fixture
        .db
        .find_user_by_login("bob")
        .await
        .expect("lookup")
        .expect("bob");
    app.fixture
        .db
        .set_user_status(bob.id, UserStatus::Suspended, app.fixture.clock.now())
        .await
        .expect("suspend");
    let suspended = app
        .call(Method::GET, "/api/v1/users/me", Some(&fresh), None)
        .await;
    assert_eq!(suspended.status, StatusCode::FORBIDDEN);
    assert_eq!(suspended.code(), "ACCOUNT_SUSPENDED");
    let login = app
        .login_with("bob", "correct horse battery", json!({}))
        .await;
    assert_eq!(login.status, StatusCode::FORBIDDEN);
    assert_eq!(login.code(), "ACCOUNT_SUSPENDED");
    // A wrong password does not reveal the suspension.
    let wrong = app.login_with("bob", "wrong password!", json!({})).await;
    assert_eq!(wrong.code(), "INVALID_CREDENTIALS");
}

async fn registration_rules(app: App) {
    app.register("carol").await;
    let dup_name = app
        .call(
            Method::POST,
            "/api/v1/auth/register",
            None,
            Some(json!({"username": "carol", "email": "other@example.com", "password": "long enough"})),
        )
        .await;
    assert_eq!(dup_name.status, StatusCode::CONFLICT);
    assert_eq!(dup_name.code(), "CONFLICT");
    assert_eq!(dup_name.body["error"]["details"]["field"], "username");
    let dup_email = app
        .call(
            Method::POST,
            "/api/v1/auth/register",
            None,
            Some(json!({"username": "carol2", "email": "CAROL@Example.com", "password": "long enough"})),
        )
        .await;
    assert_eq!(dup_email.status, StatusCode::CONFLICT);
    assert_eq!(dup_email.body["error"]["details"]["field"], "email");

    let invalid = app
        .call(
            Method::POST,
            "/api/v1/auth/register",
            None,
            Some(json!({"username": "No!", "email": "nope", "password": "short", "phone": "12"})),
        )
        .await;
    assert_eq!(invalid.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(invalid.code(), "VALIDATION_FAILED");
    let fields = &invalid.body["error"]["details"]["fields"];
    for field in ["username", "email", "password", "phone"] {
        assert!(fields[field].is_string(), "{field}: {fields}");
    }
    let long = app
        .call(
            Method::POST,
            "/api/v1/auth/register",
            None,
            Some(json!({"username": "dave", "email": "dave@example.com", "password": "x".repeat(129)})),
        )
        .await;
    assert_eq!(long.status, StatusCode::UNPROCESSABLE_ENTITY);
    let extra = app
        .call(
            Method::POST,
            "/api/v1/auth/register",
            None,
            Some(json!({"username": "dave", "email": "dave@example.com", "password": "long enough", "role": "admin"})),
        )
        .await;
    assert_eq!(
        extra.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "unknown fields are refused"
    );

    // The phone is stored encrypted.
    let carol = app
        .fixture
        .db
        .find_user_by_login("carol")
        .await
        .expect("lookup")
        .expect("carol");
    let sealed = carol.phone_ciphertext.expect("phone");
    assert!(!sealed.windows(11).any(|w| w == b"15550001111"));
    assert!(carol
        .password_hash
        .starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
}

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

async fn sessions_are_own_only(app: App) {
    app.register("heidi").await;
    app.register("ivan").await;
    let (h1, _, h1_id) = app.login("heidi").await;
    let (h2, _, h2_id) = app.login("heidi").await;
    let (i1, _, i1_id) = app.login("ivan").await;

    let list = app
        .call(Method::GET, "/api/v1/auth/sessions", Some(&h1), None)
        .await;
    assert_eq!(list.status, StatusCode::OK);
    let sessions = list.body["sessions"].as_array().expect("array");
    assert_eq!(sessions.len(), 2);
    let current: Vec<_> = sessions.iter().filter(|s| s["current"] == true).collect();
    assert_eq!(current.len(), 1);
    assert_eq!(current[0]["session_id"], h1_id.as_str());
    assert!(sessions.iter().all(|s| s["session_id"] != i1_id.as_str()));

    let foreign = app
        .call(
            Method::DELETE,
            &format!("/api/v1/auth/sessions/{i1_id}"),
            Some(&h1),
            None,
        )
        .await;
    assert_eq!(foreign.status, StatusCode::NOT_FOUND);
    assert_eq!(
        app.call(Method::GET, "/api/v1/users/me", Some(&i1), None)
            .await
            .status,
        StatusCode::OK
    );
    let malformed = app
        .call(
            Method::DELETE,
            "/api/v1/auth/sessions/not-a-uuid",
            Some(&h1),
            None,
        )
        .await;
    assert_eq!(malformed.status, StatusCode::NOT_FOUND);

    let ended = app
        .call(
            Method::DELETE,
            &format!("/api/v1/auth/sessions/{h2_id}"),
            Some(&h1),
            None,
        )
        .await;
    assert_eq!(ended.status, StatusCode::NO_CONTENT);
    assert_invalid_token(
        &app.call(Method::GET, "/api/v1/users/me", Some(&h2), None)
            .await,
    );
    assert_eq!(
        app.call(Method::GET, "/api/v1/users/me", Some(&h1), None)
            .await
            .status,
        StatusCode::OK
    );
}

async fn profile_updates(app: App) {
    app.register("judy").await;
    let (token, _, _) = app.login("judy").await;
    let patched = app
        .call(
            Method::PATCH,
            "/api/v1/users/me",
            Some(&token),
            Some(json!({
                "first_name": null,
                "last_name": "Hopps",
                "phone": "+44 20 7946 0000",
                "display_name": "Judy",
                "birth_date": "1990-02-28",
                "language": "pt-BR",
                "timezone": "America/Sao_Paulo",
                "website": "https://judy.example.com",
                "public_profile": true,
                "metadata": {"badge": 7},
                "preferences": {"theme": "dark"}
            })),
        )
        .await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.body);
    let body = &patched.body;
    assert_eq!(body["first_name"], Value::Null);
    assert_eq!(body["last_name"], "Hopps");
    assert_eq!(body["phone"], "+442079460000");
    assert_eq!(body["preferences"], json!({"theme": "dark"}));
    assert_eq!(body["profile"]["display_name"], "Judy");
    assert_eq!(body["profile"]["birth_date"], "1990-02-28");
    assert_eq!(body["profile"]["language"], "pt-BR");
    assert_eq!(body["profile"]["public_profile"], true);
    assert_eq!(body["profile"]["metadata"], json!({"badge": 7}));

    let me = app
        .call(Method::GET, "/api/v1/users/me", Some(&token), None)
        .await;
    assert_eq!(me.body["profile"]["timezone"], "America/Sao_Paulo");

    let invalid = app
        .call(
            Method::PATCH,
            "/api/v1/users/me",
            Some(&token),
            Some(json!({
                "website": "javascript:alert(1)",
                "birth_date": "2999-01-01",
                "language": "english!",
                "metadata": [1, 2],
                "display_name": "x".repeat(256)
            })),
        )
        .await;
    assert_eq!(invalid.status, StatusCode::UNPROCESSABLE_ENTITY);
    let fields = &invalid.body["error"]["details"]["fields"];
    for field in [
        "website",
        "birth_date",
        "language",
        "metadata",
        "display_name",
    ] {
        assert!(fields[field].is_string(), "{field}: {fields}");
    }
    let role = app
        .call(
            Method::PATCH,
            "/api/v1/users/me",
            Some(&token),
            Some(json!({"role": "admin"})),
        )
        .await;
    assert_eq!(
        role.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "role cannot be patched"
    );
    let unchanged = app
        .call(Method::GET, "/api/v1/users/me", Some(&token), None)
        .await;
    assert_eq!(unchanged.body["role"], "user");
    assert_eq!(unchanged.body["profile"]["display_name"], "Judy");
}

async fn account_deletion(app: App) {
    app.register("mallory").await;
    let (s1, r1, _) = app.login("mallory").await;
    let (s2, _, _) = app.login("mallory").await;
    let wrong = app
        .call(
            Method::DELETE,
            "/api/v1/users/me",
            Some(&s1),
            Some(json!({"password": "nope nope"})),
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert_eq!(wrong.code(), "INVALID_CREDENTIALS");
    let deleted = app
        .call(
            Method::DELETE,
            "/api/v1/users/me",
            Some(&s1),
            Some(json!({"password": "correct horse battery"})),
        )
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.body);
    for token in [&s1, &s2] {
        assert_invalid_token(
            &app.call(Method::GET, "/api/v1/users/me", Some(token), None)
                .await,
        );
    }
    assert_invalid_token(
        &app.call(
            Method::POST,
            "/api/v1/auth/refresh",
            None,
            Some(json!({"refresh_token": r1})),
        )
        .await,
    );
    let login = app
        .login_with("mallory", "correct horse battery", json!({}))
        .await;
    assert_eq!(login.code(), "INVALID_CREDENTIALS");

    let users: Vec<_> = futures_lite_find(&app, "mallory").await;
    assert!(users.is_empty(), "name and email are erased");
    // The name can be registered again by someone else.
    app.register("mallory").await;
}

async fn futures_lite_find(app: &App, name: &str) -> Vec<UserId> {
    let mut found = Vec::new();
    for login in [name.to_owned(), format!("{name}@example.com")] {
        if let Some(user) = app
            .fixture
            .db
            .find_user_by_login(&login)
            .await
            .expect("lookup")
        {
            found.push(user.id);
        }
    }
    found
}

fn p256_spki(pair: &EcdsaKeyPair) -> Vec<u8> {
    pair.public_key().as_der().expect("spki").as_ref().to_vec()
}

async fn devices_with_real_keys(app: App) {
    app.register("niaj").await;
    app.register("olivia").await;
    let (token, _, _) = app.login("niaj").await;
    let (other, _, _) = app.login("olivia").await;

    let p256 = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_ASN1_SIGNING).expect("p256");
    let p256_der = p256_spki(&p256);
    let created = app
        .call(
            Method::POST,
            "/api/v1/devices",
            Some(&token),
            Some(json!({
                "device_id": "phone-es256",
                "device_name": "Phone",
                "device_type": "mobile",
                "platform": "android",
                "public_key": {"alg": "ES256", "spki_b64": STANDARD.encode(&p256_der)},
                "attestation": {"format": "none"}
            })),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert_eq!(
        created.body["public_key_hash"],
        format!("sha256:{}", hex::encode(Sha256::digest(&p256_der)))
    );

    let ed = Ed25519KeyPair::generate().expect("ed25519");
    let ed_der = ed.public_key().as_der().expect("spki").as_ref().to_vec();
    let created = app
        .call(
            Method::POST,
            "/api/v1/devices",
            Some(&token),
            Some(json!({
                "device_id": "laptop-ed",
                "device_type": "desktop",
                "platform": "linux",
                "public_key": {"alg": "EdDSA", "spki_b64": STANDARD.encode(&ed_der)}
            })),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert_eq!(created.body["public_key"]["alg"], "EdDSA");

    let dup = app
        .call(
            Method::POST,
            "/api/v1/devices",
            Some(&token),
            Some(json!({"device_id": "laptop-ed", "public_key": {"alg": "EdDSA", "spki_b64": STANDARD.encode(&ed_der)}})),
        )
        .await;
    assert_eq!(dup.status, StatusCode::CONFLICT);
    for (alg, key) in [
        ("ES256", STANDARD.encode(&ed_der)),
        ("EdDSA", STANDARD.encode(&p256_der)),
        ("ES256", STANDARD.encode(b"definitely not a key")),
        ("ES256", "%%%".to_owned()),
        ("RS256", STANDARD.encode(&p256_der)),
        ("ES256", STANDARD.encode(p256.public_key().as_ref())),
    ] {
        let bad = app
            .call(
                Method::POST,
                "/api/v1/devices",
                Some(&token),
                Some(json!({"device_id": "bad", "public_key": {"alg": alg, "spki_b64": key}})),
            )
            .await;
        assert_eq!(
            bad.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{alg}: {}",
            bad.body
        );
    }

    let list = app
        .call(Method::GET, "/api/v1/devices", Some(&token), None)
        .await;
    let ids: Vec<_> = list.body["devices"]
        .as_array()
        .expect("array")
        .iter()
        .map(|d| d["device_id"].as_str().unwrap_or("").to_owned())
        .collect();
    assert_eq!(ids, vec!["phone-es256", "laptop-ed"]);
    let others = app
        .call(Method::GET, "/api/v1/devices", Some(&other), None)
        .await;
    assert_eq!(others.body["devices"], json!([]));
    let foreign = app
        .call(
            Method::DELETE,
            "/api/v1/devices/phone-es256",
            Some(&other),
            None,
        )
        .await;
    assert_eq!(foreign.status, StatusCode::NOT_FOUND);

    // Biometric MFA bound to the ES256 device: login needs its signature.
    let unregistered = app
        .call(
            Method::POST,
            "/api/v1/auth/mfa/methods",
            Some(&token),
            Some(json!({"type": "biometric", "password": "correct horse battery", "device_id": "nope"})),
        )
        .await;
    assert_eq!(unregistered.status, StatusCode::BAD_REQUEST);
    assert_eq!(unregistered.code(), "DEVICE_NOT_REGISTERED");
    let enrolled = app
        .call(
            Method::POST,
            "/api/v1/auth/mfa/methods",
            Some(&token),
            Some(json!({"type": "biometric", "password": "correct horse battery", "device_id": "phone-es256"})),
        )
        .await;
    assert_eq!(enrolled.status, StatusCode::CREATED, "{}", enrolled.body);
    assert_eq!(enrolled.body["is_active"], true);

    let required = app
        .login_with("niaj", "correct horse battery", json!({}))
        .await;
    assert_eq!(required.code(), "MFA_REQUIRED");
    assert_eq!(
        required.body["error"]["details"]["methods"],
        json!(["biometric"])
    );

    let rng = SystemRandom::new();
    let sign = |ts: i64| {
        let message = format!("tmcp-mfa:login:phone-es256:{ts}");
        STANDARD.encode(p256.sign(&rng, message.as_bytes()).expect("sign").as_ref())
    };
    let now = app.fixture.clock.now().unix_timestamp();
    let stale = app
        .login_with("niaj", "correct horse battery", json!({"mfa": {"device_id": "phone-es256", "signature": sign(now - 31), "timestamp": now - 31}}))
        .await;
    assert_eq!(
        stale.code(),
        "MFA_REQUIRED",
        "a timestamp older than 30 s is refused"
    );
    let wrong_action = {
        let message = format!("tmcp-mfa:delete_mfa_method:x:phone-es256:{now}");
        STANDARD.encode(p256.sign(&rng, message.as_bytes()).expect("sign").as_ref())
    };
    let mismatched = app
        .login_with("niaj", "correct horse battery", json!({"mfa": {"device_id": "phone-es256", "signature": wrong_action, "timestamp": now}}))
        .await;
    assert_eq!(mismatched.code(), "MFA_REQUIRED");
    let good = sign(now - 1);
    let ok = app
        .login_with(
            "niaj",
            "correct horse battery",
            json!({"mfa": {"device_id": "phone-es256", "signature": good, "timestamp": now - 1}}),
        )
        .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    let replay = app
        .login_with(
            "niaj",
            "correct horse battery",
            json!({"mfa": {"device_id": "phone-es256", "signature": good, "timestamp": now - 1}}),
        )
        .await;
    assert_eq!(
        replay.code(),
        "MFA_REQUIRED",
        "a signature is accepted once"
    );

    // The device carries the only second factor: a session alone cannot remove it (that
    // would turn MFA off without the second factor DELETE /mfa/methods/{id} asks for).
    let bare = app
        .call(
            Method::DELETE,
            "/api/v1/devices/phone-es256",
            Some(&token),
            None,
        )
        .await;
    assert_eq!(bare.status, StatusCode::UNAUTHORIZED, "{}", bare.body);
    assert_eq!(bare.code(), "INVALID_MFA_CREDENTIALS");
    let login_signature = app
        .call(
            Method::DELETE,
            "/api/v1/devices/phone-es256",
            Some(&token),
            Some(json!({"device_id": "phone-es256", "signature": sign(now), "timestamp": now})),
        )
        .await;
    assert_eq!(
        login_signature.code(),
        "INVALID_MFA_CREDENTIALS",
        "a signature for another action is refused"
    );
    let still = app
        .call(Method::GET, "/api/v1/auth/mfa/methods", Some(&token), None)
        .await;
    assert_eq!(still.body["methods"].as_array().map(Vec::len), Some(1));
    // With the device's signature over the removal, the device and its method go.
    let removal = {
        let message = format!("tmcp-mfa:delete_device:phone-es256:phone-es256:{now}");
        STANDARD.encode(p256.sign(&rng, message.as_bytes()).expect("sign").as_ref())
    };
    let removed = app
        .call(
            Method::DELETE,
            "/api/v1/devices/phone-es256",
            Some(&token),
            Some(json!({"device_id": "phone-es256", "signature": removal, "timestamp": now})),
        )
        .await;
    assert_eq!(removed.status, StatusCode::NO_CONTENT, "{}", removed.body);
    // A device without biometric MFA needs no proof.
    let plain = app
        .call(
            Method::DELETE,
            "/api/v1/devices/laptop-ed",
            Some(&token),
            None,
        )
        .await;
    assert_eq!(plain.status, StatusCode::NO_CONTENT, "{}", plain.body);
    let methods = app
        .call(Method::GET, "/api/v1/auth/mfa/methods", Some(&token), None)
        .await;
    assert_eq!(methods.body["methods"], json!([]));
    app.login("niaj").await;
}

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

async fn admin_summary(app: App) {
    let admin = create_account(
        app.state.db.as_ref(),
        app.state.clock.as_ref(),
        &app.state.cipher,
        NewAccount {
            username: "root".into(),
            email: "root@example.com".into(),
            password: "correct horse battery".into(),
            first_name: None,
            last_name: None,
            phone: None,
            role: Role::Admin,
        },
    )
    .await
    .expect("admin");
    let user = app.register("sybil").await;
    let (admin_token, _, _) = app.login("root").await;
    let (user_token, _, _) = app.login("sybil").await;
    let user_id = user["id"].as_str().expect("id");

    let forbidden = app
        .call(
            Method::GET,
            &format!("/api/v1/users/{}/summary", admin.id),
            Some(&user_token),
            None,
        )
        .await;
    assert_eq!(forbidden.status, StatusCode::FORBIDDEN);
    assert_eq!(forbidden.code(), "INSUFFICIENT_PERMISSIONS");
    let summary = app
        .call(
            Method::GET,
            &format!("/api/v1/users/{user_id}/summary"),
            Some(&admin_token),
            None,
        )
        .await;
    assert_eq!(summary.status, StatusCode::OK, "{}", summary.body);
    assert_eq!(summary.body["username"], "sybil");
    assert_eq!(summary.body["payment_count"], 0);
    let missing = app
        .call(
            Method::GET,
            &format!("/api/v1/users/{}/summary", uuid::Uuid::now_v7()),
            Some(&admin_token),
            None,
        )
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    let unauthenticated = app
        .call(
            Method::GET,
            &format!("/api/v1/users/{user_id}/summary"),
            None,
            None,
        )
        .await;
    assert_invalid_token(&unauthenticated);
}

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

macro_rules! on_both_engines {
    ($($name:ident),+ $(,)?) => {
        mod sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() { super::$name(super::setup(tmcp_contract_tests::engines::sqlite().await).await).await; })+
        }
        mod postgres {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() { super::$name(super::setup(tmcp_contract_tests::engines::postgres().await).await).await; })+
        }
    };
}

on_both_engines!(
    full_session_story,
    bad_tokens_and_expiry,
    registration_rules,
    unknown_user_and_wrong_password_look_the_same,
    brute_force_reaches_the_lockout,
    reauthentication_is_throttled_with_the_login_lockout,
    second_factor_fields_are_size_limited,
    per_address_login_limit,
    sessions_are_own_only,
    profile_updates,
    account_deletion,
    devices_with_real_keys,
    totp_enrolment_and_login,
    transaction_pin,
    admin_summary,
    openapi_lists_the_account_routes,
);
