//! Payments over HTTP (the TMCP protocol §4) on SQLite and PostgreSQL, with real TEPs and a
//! real session: request, idempotent replays, authorization below the MFA threshold,
//! insufficient funds, reads, expiry, cross-tenant isolation, validation and concurrency.
//! Every money scenario ends with a clean ledger check.

mod concurrency;
mod flow;
mod lifecycle;
mod mfa;
mod refunds;
mod tenancy;
mod validation;

use crate::support::{self, seed};
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use serde_json::{json, Value};
use time::Duration;
use tmcp_contract_tests::fixtures;
use tmcp_contract_tests::Fixture;
use tmcp_domain::ids::uuid_v7_at;
use tmcp_domain::wallet::{EntryType, MovementBuilder, WalletAccountId};
use tmcp_domain::{Clock, Currency, Money, UserId};
use tmcp_http::ratelimit::LimitRule;
use tmcp_repository::{ledger_check, NewWalletAccount, WalletOwner};

const SHOP: &str = "ma_pay_shop";
const CAFE: &str = "ma_pay_cafe";
const PAY: &str = "wallet:pay";

struct Pay {
    env: support::Env,
    /// The session's user (`env.user`, `env.session`).
    alice: UserId,
    bob: UserId,
}

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    text: String,
    json: Value,
}

impl Reply {
    fn code(&self) -> &str {
        support::error_code(&self.json)
    }
}

/// Generous rate limits, so only the rate-limit test meets them.
fn relaxed(pay: &mut Pay) {
    let settings = &mut std::sync::Arc::make_mut(&mut pay.env.state.settings).payments;
    settings.request_rate = LimitRule::per_minute("payment_request", 1_000_000, 1_000_000);
    settings.authorize_rate = LimitRule::per_minute("payment_authorize", 1_000_000, 1_000_000);
}

async fn setup(fixture: Fixture) -> Pay {
    let env = support::Env::new(fixture).await;
    let developer = fixtures::user(&env.fixture, "developer").await;
    for app in [SHOP, CAFE] {
        fixtures::app(&env.fixture, app, &developer).await;
        seed::client(
            &env.fixture,
            app,
            &format!("{app} shop"),
            &[PAY, "storage:read"],
        )
        .await;
    }
    let bob = seed::user(&env.fixture, "bob").await;
    let alice = env.user;
    let mut pay = Pay { env, alice, bob };
    relaxed(&mut pay);
    pay
}

fn usd() -> Currency {
    Currency::parse("USD").expect("USD")
}

impl Pay {
    fn state(&self) -> &tmcp_http::AppState {
        &self.env.state
    }

    async fn tep(&self, user: Option<UserId>, app: &str, scopes: &str) -> String {
        let now = self.env.fixture.clock.now();
        seed::tep(
            self.state(),
            now,
            user,
            app,
            scopes,
            Some(Duration::days(30)),
        )
        .await
    }

    async fn call(&self, method: Method, path: &str, token: &str, body: Option<&Value>) -> Reply {
        match body {
            Some(json) => self.call_text(method, path, token, &json.to_string()).await,
            None => self.send(method, path, token, None).await,
        }
    }

    /// Sends `text` as the JSON body, as is.
    async fn call_text(&self, method: Method, path: &str, token: &str, text: &str) -> Reply {
        self.send(method, path, token, Some(text.to_owned())).await
    }

    async fn send(&self, method: Method, path: &str, token: &str, text: Option<String>) -> Reply {
        let request = Request::builder()
            .method(method)
            .uri(path)
            .header("authorization", format!("Bearer {token}"));
        let request = match text {
            Some(text) => request
                .header("content-type", "application/json")
                .body(Body::from(text)),
            None => request.body(Body::empty()),
        }
        .expect("request");
        let (status, headers, bytes) = support::call_router(self.state(), request).await;
        Reply {
            status,
            headers,
            text: String::from_utf8_lossy(&bytes).into_owned(),
            json: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        }
    }

    async fn request(&self, token: &str, body: &Value) -> Reply {
        self.call(Method::POST, "/api/v1/payments/request", token, Some(body))
            .await
    }

    /// Requests `amount` from the token's user and returns the new payment id.
    async fn new_payment(&self, token: &str, amount: &str, key: &str) -> String {
        let reply = self.request(token, &body(amount, key)).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
        reply.json["payment_id"]
            .as_str()
            .expect("payment id")
            .to_owned()
    }

    async fn authorize(&self, token: &str, id: &str) -> Reply {
        let path = format!("/api/v1/payments/{id}/authorize");
        self.call(Method::POST, &path, token, None).await
    }

    async fn get(&self, token: &str, path: &str) -> Reply {
        self.call(Method::GET, path, token, None).await
    }

    /// Puts `minor` USD into the user's wallet: a clearing → user movement through the
    /// ledger (what a top-up posts).
    async fn fund(&self, user: UserId, minor: i64) -> WalletAccountId {
        let db = &self.env.fixture.db;
        let at = self.env.fixture.clock.now();
        let open = |owner| NewWalletAccount {
            id: WalletAccountId::generate(&mut rand::rngs::OsRng),
            owner,
            currency: usd(),
            at,
        };
        let clearing = db
            .open_wallet_account(open(WalletOwner::Clearing))
            .await
            .expect("clearing");
        let wallet = db
            .open_wallet_account(open(WalletOwner::User(user)))
            .await
            .expect("wallet");
        let movement = MovementBuilder::new(EntryType::TopUp)
            .debit(clearing.id, money(minor))
            .credit(wallet.id.clone(), money(minor))
            .build(uuid_v7_at(at))
            .expect("balanced");
        db.post_movement(&movement, at).await.expect("funded");
        wallet.id
    }

    async fn balance(&self, owner: WalletOwner) -> i64 {
        self.env
            .fixture
            .db
            .find_wallet_account(&owner, usd())
            .await
            .expect("readable")
            .map_or(0, |a| a.balance)
    }

    async fn assert_ledger_clean(&self) {
        let report = ledger_check(self.env.fixture.db.as_ref())
            .await
            .expect("ledger readable");
        assert!(report.is_clean(), "ledger check: {:#?}", report.findings);
    }
}

fn money(minor: i64) -> Money {
    Money {
        minor,
        currency: usd(),
    }
}

/// A request body for `amount` USD with idempotency key `key`.
fn body(amount: &str, key: &str) -> Value {
    json!({
        "amount": amount,
        "currency": "USD",
        "description": "Two coffees",
        "merchant_order_id": format!("order-{key}"),
        "items": [{"item_id": "cof", "name": "Coffee", "quantity": 2, "unit_price": "1.25"}],
        "metadata": {"table": 4},
        "callback_url": "https://shop.example/paid",
        "idempotency_key": key,
    })
}
