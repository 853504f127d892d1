//! Accounts through HTTP on both engines: registration, login, sessions, refresh rotation and
//! reuse detection, profile, deletion, devices with real keys, MFA (TOTP, PIN, biometric),
//! throttling and the admin summary.

mod admin;
mod devices;
mod documents;
mod login;
mod mfa;
mod profile;
mod register;
mod sessions;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{header, HeaderMap, Method, Request, StatusCode};
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::sync::Arc;
use tmcp_contract_tests::Fixture;
use tmcp_domain::Clock;
use tmcp_http::AppState;

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
        crate::support::error_code(&self.body)
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
        let (status, headers, bytes) = crate::support::call_router(&self.state, request).await;
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
