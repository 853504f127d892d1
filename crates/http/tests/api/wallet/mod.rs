//! The wallet API over HTTP on both engines: payment methods, top-ups with every sandbox
//! token, validation, idempotent replays and races, and the balance and history reads with a
//! session or a TEP. Every test that moves money ends with a clean `ledger_check`.

mod methods;
mod reads;
mod recovery;
mod top_up;
mod validation;

use crate::support::{Env, Reply, PASSWORD};
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use serde_json::{json, Value};
use std::sync::Arc;
use tmcp_contract_tests::Fixture;
use tmcp_usecases::wallet::{Processors, SandboxProcessor};

/// The shared test environment (alice with a session) plus bob's session and a sandbox the
/// test can count charges on.
pub struct Wallet {
    pub env: Env,
    pub bob: String,
    pub sandbox: Arc<SandboxProcessor>,
}

pub async fn setup(fixture: Fixture) -> Wallet {
    let mut env = Env::new(fixture).await;
    let sandbox = Arc::new(SandboxProcessor::default());
    env.state.processors = Arc::new(Processors::new().with(Arc::clone(&sandbox) as _));
    let registered = env
        .json(
            "/api/v1/auth/register",
            json!({"username": "wallet_bob", "email": "bob@example.com", "password": PASSWORD}),
            None,
        )
        .await;
    assert_eq!(
        registered.status,
        StatusCode::CREATED,
        "{}",
        registered.text()
    );
    let login = env
        .json(
            "/api/v1/auth/login",
            json!({"login": "wallet_bob", "password": PASSWORD}),
            None,
        )
        .await;
    assert_eq!(login.status, StatusCode::OK, "{}", login.text());
    let bob = login.json()["session_token"]
        .as_str()
        .expect("session token")
        .to_owned();
    Wallet { env, bob, sandbox }
}

impl Wallet {
    pub fn alice(&self) -> &str {
        &self.env.session
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        token: &str,
    ) -> Reply {
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header("authorization", format!("Bearer {token}"));
        let body = match body {
            Some(value) => {
                request = request.header("content-type", "application/json");
                Body::from(value.to_string())
            }
            None => Body::empty(),
        };
        self.env.send(request.body(body).expect("request")).await
    }

    /// Adds a sandbox card with `token` for the holder of `session`; returns its id.
    pub async fn add_card(&self, session: &str, token: &str) -> String {
        let reply = self
            .call(
                Method::POST,
                "/wallet/v1/payment-methods",
                Some(json!({
                    "type": "card",
                    "provider": "sandbox",
                    "provider_method_id": token,
                    "method_data": {"brand": "visa", "last4": "4242", "exp_month": 12, "exp_year": 2030}
                })),
                session,
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
        reply.json()["id"].as_str().expect("id").to_owned()
    }

    pub async fn top_up(&self, session: &str, body: Value) -> Reply {
        self.call(Method::POST, "/wallet/v1/top-up", Some(body), session)
            .await
    }

    pub async fn assert_ledger_clean(&self) {
        let report = tmcp_repository::ledger_check(self.env.fixture.db.as_ref())
            .await
            .expect("ledger readable");
        assert!(report.is_clean(), "ledger check: {:#?}", report.findings);
    }
}

pub fn code(reply: &Reply) -> String {
    reply.json()["error"]["code"]
        .as_str()
        .unwrap_or("")
        .to_owned()
}
