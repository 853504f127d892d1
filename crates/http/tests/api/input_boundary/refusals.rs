//! NUL and invalid UTF-8 refused on every route, and clean text still accepted.

use super::*;
use crate::support::on_both_engines;
use crate::support::*;
use axum::body::Body;
use axum::http::{HeaderValue, Request, StatusCode};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::json;
use tmcp_http::ratelimit::LimitRule;

async fn nul_and_invalid_utf8_are_refused_everywhere(mut env: Env) {
    std::sync::Arc::make_mut(&mut env.state.settings).api_rate =
        LimitRule::per_minute("api_default", 1_000_000, 1_000_000);
    let tep = tep(&env).await;
    let developer = developer_with_app(&env).await;
    let mut sent = 0;
    let mut problems = Vec::new();
    for route in routes() {
        for probe in probes(&route) {
            let mut request = Request::builder()
                .method(route.method.clone())
                .uri(&probe.uri);
            match route.auth {
                Auth::Anonymous => {}
                Auth::Session => {
                    request = request.header("authorization", format!("Bearer {}", env.session));
                }
                Auth::Tep => request = request.header("authorization", format!("Bearer {tep}")),
                Auth::Developer => {
                    request = request.header("authorization", format!("Bearer {developer}"));
                }
                Auth::Browser => {
                    request = request.header(
                        "cookie",
                        format!("{}; tmcp_csrf={CSRF}", env.session_cookie()),
                    );
                }
            }
            let body = match probe.body.clone() {
                Some((bytes, content_type)) => {
                    request = request.header("content-type", content_type);
                    Body::from(bytes)
                }
                None => Body::empty(),
            };
            let reply = env.send(request.body(body).expect("request")).await;
            problems.extend(refusal_problem(&reply, &route, &probe));
            sent += 1;
        }
    }
    assert!(
        problems.is_empty(),
        "{} of {sent} probes were not refused properly:\n{}",
        problems.len(),
        problems.join("\n")
    );
    assert!(sent > 300, "only {sent} probes");
}

/// A developer's session token; the developer owns [`PROBE_APP`].
async fn developer_with_app(env: &Env) -> String {
    use tmcp_domain::user::Role;
    let account = tmcp_usecases::accounts::create_account(
        env.state.account_ports(),
        tmcp_usecases::accounts::NewAccount {
            username: "probe_dev".into(),
            email: "probe_dev@example.com".into(),
            password: PASSWORD.into(),
            first_name: None,
            last_name: None,
            phone: None,
            role: Role::Developer,
        },
    )
    .await
    .expect("developer");
    env.fixture
        .db
        .create_app(tmcp_repository::NewApp {
            app_id: tmcp_domain::AppId::parse(PROBE_APP).expect("app id"),
            name: "Probe".into(),
            version: "0.0.0".into(),
            classification: "community".into(),
            developer_id: account.id,
            developer_name: "probe_dev".into(),
            status: "active".into(),
            created_at: env.fixture.clock.now(),
        })
        .await
        .expect("app");
    let login = env
        .json(
            "/api/v1/auth/login",
            json!({"login": "probe_dev", "password": PASSWORD}),
            None,
        )
        .await;
    assert_eq!(login.status, StatusCode::OK, "{}", login.text());
    login.json()["session_token"]
        .as_str()
        .expect("session token")
        .to_owned()
}

/// `client_secret_basic` credentials are form-encoded text inside base64; the OAuth
/// endpoints decode them, so NUL there is refused too (401 `invalid_client`, as for any
/// undecodable credentials), never a 500.
async fn nul_in_basic_credentials_is_an_invalid_client(env: Env) {
    for path in [
        "/oauth2/token",
        "/oauth2/revoke",
        "/oauth2/introspect",
        "/oauth2/device/authorization",
    ] {
        for credentials in ["ma_oauth%00backend:secret", "ma_oauth\0backend:secret"] {
            let basic = format!("Basic {}", STANDARD.encode(credentials));
            let reply = env
                .form(
                    path,
                    &[("grant_type", "client_credentials"), ("token", "rt_x")],
                    &[],
                    &[("authorization", &basic)],
                )
                .await;
            assert_eq!(
                reply.status,
                StatusCode::UNAUTHORIZED,
                "{path} {credentials:?}: {}",
                reply.text()
            );
            assert_eq!(reply.json()["error"], "invalid_client", "{path}");
        }
    }
}

/// Header values cannot carry NUL at all; non-ASCII bytes in the user agent are dropped
/// rather than stored lossily.
async fn odd_user_agents_do_not_break_login(env: Env) {
    let request = Request::post("/api/v1/auth/login")
        .header("content-type", "application/json")
        .header(
            "user-agent",
            HeaderValue::from_bytes(b"agent \xff\xfe").expect("obs-text is a valid header"),
        )
        .body(Body::from(
            json!({"login": "oauth_alice", "password": PASSWORD}).to_string(),
        ))
        .expect("request");
    let reply = env.send(request).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert!(HeaderValue::from_bytes(b"a\0b").is_err());
}

/// Ordinary text — non-ASCII, percent signs in JSON, escaped backslashes — still passes.
async fn clean_text_still_passes(mut env: Env) {
    std::sync::Arc::make_mut(&mut env.state.settings).api_rate =
        LimitRule::per_minute("api_default", 1_000_000, 1_000_000);
    let tep = tep(&env).await;
    let request = Request::put("/api/v1/storage/caf%C3%A9")
        .header("authorization", format!("Bearer {tep}"))
        .header("content-type", "application/json")
        .body(Body::from(r#"{"value":"100%00 \\u0000 \u00e9 ünïcode"}"#))
        .expect("request");
    let reply = env.send(request).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
    let read = Request::get("/api/v1/storage/caf%C3%A9")
        .header("authorization", format!("Bearer {tep}"))
        .body(Body::empty())
        .expect("request");
    let read = env.send(read).await;
    assert_eq!(read.json()["value"], "100%00 \\u0000 é ünïcode");
    let list = Request::get("/api/v1/storage?prefix=caf%C3%A9")
        .header("authorization", format!("Bearer {tep}"))
        .body(Body::empty())
        .expect("request");
    let list = env.send(list).await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.text());
    assert_eq!(list.json()["items"][0]["key"], "café", "{}", list.text());
}

on_both_engines!(
    setup = Env::new,
    runtime = (flavor = "current_thread");
    nul_and_invalid_utf8_are_refused_everywhere,
    nul_in_basic_credentials_is_an_invalid_client,
    odd_user_agents_do_not_break_login,
    clean_text_still_passes,
);
