//! Crash safety of payments and storage writes through the real binary on PostgreSQL: a
//! burst of payments (request with an idempotency key, then authorize) mixed with storage
//! writes, each step retried by its client until it gets an answer, while the server is killed
//! with SIGKILL at random moments and restarted, several rounds. Afterwards: no payment is
//! left half-settled, the ledger check is clean, every completed payment moved its money
//! exactly once, replaying each key answers the payment it first created, and every
//! acknowledged storage write reads back with its value.

use rand::{Rng, SeedableRng};
use reqwest::StatusCode;
use serde_json::{json, Value};
use sqlx::{Connection, PgConnection};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;
use tmcp_contract_tests::engines::fresh_database;
use tmcp_domain::ids::uuid_v7_at;
use tmcp_domain::scope::ScopeSet;
use tmcp_domain::user::Role;
use tmcp_domain::wallet::{EntryType, MovementBuilder, WalletAccountId};
use tmcp_domain::{AppId, Clock, Currency, Money, SystemClock, UserId};
use tmcp_http::auth::TepMint;
use tmcp_repository::{
    ledger_check, LedgerRepository, NewApp, NewUser, NewWalletAccount, OAuthClient, WalletOwner,
};
use tmcp_server::config::Config;
use tokio::sync::Mutex;

const APP: &str = "ma_crash_shop";
const PAYMENTS: usize = 64;
/// Concurrent clients, each paying its share of the payments one after another.
const CLIENTS: usize = 8;
const ROUNDS: usize = 5;
/// Each payment is 1.00 USD; the payer starts with 100.00.
const FUNDED_MINOR: i64 = 10_000;
const AMOUNT_MINOR: i64 = 100;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

struct Server {
    child: Option<Child>,
    port: u16,
    data_dir: PathBuf,
    database_url: String,
}

impl Server {
    fn start(&mut self) {
        let child = Command::new(env!("CARGO_BIN_EXE_tmcp-server"))
            .arg("serve")
            .env("TMCP_LISTEN", format!("127.0.0.1:{}", self.port))
            .env("TMCP_DATA_DIR", &self.data_dir)
            .env("TMCP_DATABASE_URL", &self.database_url)
            .env("TMCP_DB_MAX_CONNECTIONS", "8")
            .env("TMCP_PAYMENTS__REQUEST_RATE_PER_MINUTE", "1000000")
            .env("TMCP_PAYMENTS__REQUEST_RATE_BURST", "1000000")
            .env("TMCP_PAYMENTS__AUTHORIZE_RATE_PER_MINUTE", "1000000")
            .env("TMCP_PAYMENTS__AUTHORIZE_RATE_BURST", "1000000")
            .env("TMCP_STORAGE__RATE_PER_MINUTE", "1000000")
            .env("TMCP_STORAGE__RATE_BURST", "1000000")
            .env("TMCP_API_RATE_PER_MINUTE", "1000000")
            .env("TMCP_API_RATE_BURST", "1000000")
            .env("TMCP_LOG_LEVEL", "warn")
            .env_remove("TMCP_CONFIG")
            .env_remove("TMCP_REDIS_URL")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("server spawns");
        self.child = Some(child);
    }

    /// SIGKILL: no shutdown hook runs, transactions in flight are cut off.
    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    async fn wait_ready(&self, http: &reqwest::Client) {
        for _ in 0..300 {
            let url = format!("http://127.0.0.1:{}/ready", self.port);
            if let Ok(reply) = http.get(url).send().await {
                if reply.status() == StatusCode::OK {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the server did not become ready");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The server's configuration as the test's set-up sees it: the same listen address, so the
/// TEP it mints carries the issuer the server expects.
fn config(data_dir: &Path, database_url: &str, port: u16) -> Config {
    Config {
        listen: format!("127.0.0.1:{port}"),
        data_dir: data_dir.to_path_buf(),
        database_url: Some(database_url.to_owned()),
        ..Config::default()
    }
}

/// The shop, its payer with 100.00 USD, and the payer's TEP (signed with the key ring the
/// server will load from the same data dir).
async fn seed(config: &Config) -> String {
    let state = tmcp_server::serve::build_state(config, Arc::new(SystemClock))
        .await
        .expect("state");
    let db = state.db.as_ref();
    let now = SystemClock.now();
    let user = |name: &str, role| NewUser {
        id: UserId::new_v7(now),
        username: name.into(),
        email: format!("{name}@example.com"),
        password_hash: "!crash".into(),
        first_name: None,
        last_name: None,
        phone_ciphertext: None,
        role,
        created_at: now,
    };
    let developer = db
        .create_user(user("crash_dev", Role::Developer))
        .await
        .expect("developer");
    let payer = db
        .create_user(user("crash_payer", Role::User))
        .await
        .expect("payer");
    db.create_app(NewApp {
        app_id: AppId::parse(APP).expect("app id"),
        name: "Crash shop".into(),
        version: "1.0.0".into(),
        classification: "community".into(),
        developer_id: developer.id,
        developer_name: developer.username.clone(),
        status: "active".into(),
        created_at: now,
    })
    .await
    .expect("app");
    db.create_client(OAuthClient {
        client_id: APP.into(),
        client_secret_hash: None,
        app_id: Some(APP.into()),
        name: "Crash shop".into(),
        redirect_uris: vec!["https://shop.invalid/cb".into()],
        grant_types: vec!["authorization_code".into()],
        scopes: vec![
            "wallet:pay".into(),
            "storage:read".into(),
            "storage:write".into(),
        ],
        is_official: false,
        is_active: true,
        created_at: now,
    })
    .await
    .expect("client");
    let usd = Currency::parse("USD").expect("USD");
    let mut rng = rand::rngs::StdRng::seed_from_u64(11);
    let mut open = |owner| NewWalletAccount {
        id: WalletAccountId::generate(&mut rng),
        owner,
        currency: usd,
        at: now,
    };
    let (clearing, wallet) = (
        open(WalletOwner::Clearing),
        open(WalletOwner::User(payer.id)),
    );
    let clearing = db.open_wallet_account(clearing).await.expect("clearing");
    let wallet = db.open_wallet_account(wallet).await.expect("wallet");
    let amount = Money {
        minor: FUNDED_MINOR,
        currency: usd,
    };
    let movement = MovementBuilder::new(EntryType::TopUp)
        .debit(clearing.id, amount)
        .credit(wallet.id, amount)
        .build(uuid_v7_at(now))
        .expect("balanced");
    db.post_movement(&movement, now).await.expect("funded");
    state
        .tep
        .mint(
            db,
            now,
            TepMint {
                user_id: Some(payer.id),
                client_id: APP.into(),
                scopes: ScopeSet::parse("wallet:pay storage:read storage:write").expect("scope"),
                session_id: None,
                lifetime: None,
                user_context: None,
                miniapp_context: None,
            },
        )
        .await
        .map_err(|e| e.message)
        .expect("TEP minted")
        .token
}

fn request_body(index: usize) -> Value {
    json!({
        "amount": "1.00",
        "currency": "USD",
        "description": format!("crash test order {index}"),
        "merchant_order_id": format!("order-{index}"),
        "idempotency_key": format!("crash-key-{index}"),
    })
}

/// Sends until an answer arrives (the server may be dead or restarting meanwhile).
async fn until_answered(
    http: &reqwest::Client,
    url: &str,
    token: &str,
    body: &Value,
) -> (StatusCode, Value) {
    for _ in 0..600 {
        let sent = http.post(url).bearer_auth(token).json(body).send().await;
        if let Ok(reply) = sent {
            let status = reply.status();
            if let Ok(json) = reply.json::<Value>().await {
                if status != StatusCode::SERVICE_UNAVAILABLE {
                    return (status, json);
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{url} never answered");
}

/// Writes the storage key of payment `index` until an answer arrives; returns the status of
/// the answer (the write is acknowledged when it is a success).
async fn store(http: &reqwest::Client, base: &str, token: &str, index: usize) -> StatusCode {
    let url = format!("{base}/api/v1/storage/crash%2F{index}");
    let body = json!({ "value": { "order": index } });
    for _ in 0..600 {
        let sent = http.put(&url).bearer_auth(token).json(&body).send().await;
        if let Ok(reply) = sent {
            let status = reply.status();
            if reply.json::<Value>().await.is_ok() && status != StatusCode::SERVICE_UNAVAILABLE {
                return status;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{url} never answered");
}

/// What the client of one payment saw: the payment its request created and how its
/// authorization ended.
#[derive(Debug, Clone)]
struct Seen {
    payment_id: String,
    first_body: Value,
    authorize_status: StatusCode,
}

async fn pay(http: reqwest::Client, base: String, token: String, index: usize) -> Seen {
    let body = request_body(index);
    let (status, first_body) = until_answered(
        &http,
        &format!("{base}/api/v1/payments/request"),
        &token,
        &body,
    )
    .await;
    // A retry after a lost answer is a replay (200) of what the first attempt created.
    assert!(
        status == StatusCode::CREATED || status == StatusCode::OK,
        "request {index}: {status} {first_body}"
    );
    let payment_id = first_body["payment_id"]
        .as_str()
        .expect("payment id")
        .to_owned();
    let (authorize_status, answer) = until_answered(
        &http,
        &format!("{base}/api/v1/payments/{payment_id}/authorize"),
        &token,
        &json!({}),
    )
    .await;
    // Completed, or — when an earlier attempt settled it and its answer was lost — a refused
    // second transition; never anything else.
    assert!(
        authorize_status == StatusCode::OK || authorize_status == StatusCode::CONFLICT,
        "authorize {index}: {authorize_status} {answer}"
    );
    Seen {
        payment_id,
        first_body,
        authorize_status,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_servers_leave_no_half_settled_payment_and_replays_answer_the_first_result() {
    let (db, url, _guard) = fresh_database().await;
    drop(db);
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let config = config(dir.path(), &url, port);
    let token = seed(&config).await;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(3))
        .build()
        .expect("client");
    let server = Arc::new(Mutex::new(Server {
        child: None,
        port,
        data_dir: dir.path().to_path_buf(),
        database_url: url.clone(),
    }));
    let base = format!("http://127.0.0.1:{}", server.lock().await.port);
    server.lock().await.start();
    server.lock().await.wait_ready(&http).await;

    let seed_value: u64 = rand::rngs::OsRng.gen();
    eprintln!("kill schedule seed: {seed_value}");
    let mut schedule = rand::rngs::StdRng::seed_from_u64(seed_value);
    let done = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|client| {
            let (http, base, token, done) =
                (http.clone(), base.clone(), token.clone(), Arc::clone(&done));
            tokio::spawn(async move {
                let mut seen = Vec::new();
                let mut stored = Vec::new();
                for index in (client..PAYMENTS).step_by(CLIENTS) {
                    seen.push((
                        index,
                        pay(http.clone(), base.clone(), token.clone(), index).await,
                    ));
                    let status = store(&http, &base, &token, index).await;
                    assert!(status.is_success(), "storage write {index}: {status}");
                    stored.push(index);
                    done.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                }
                (seen, stored)
            })
        })
        .collect();
    let mut done_at_kills = Vec::new();
    for _ in 0..ROUNDS {
        let pause = schedule.gen_range(20..300);
        tokio::time::sleep(Duration::from_millis(pause)).await;
        let mut guard = server.lock().await;
        done_at_kills.push(done.load(std::sync::atomic::Ordering::SeqCst));
        guard.kill();
        guard.start();
        guard.wait_ready(&http).await;
    }
    let mut seen = BTreeMap::new();
    let mut acknowledged = Vec::new();
    for client in clients {
        let (payments, stored) = client.await.expect("client finished");
        seen.extend(payments);
        acknowledged.extend(stored);
    }
    eprintln!("payments finished at each kill: {done_at_kills:?}");
    // The burst was in flight when the server died (otherwise nothing was tested).
    assert!(
        done_at_kills[0] < PAYMENTS,
        "every payment finished before the first kill"
    );

    // Every key answers the payment it first created, with the same body.
    for (index, first) in &seen {
        let (status, replay) = until_answered(
            &http,
            &format!("{base}/api/v1/payments/request"),
            &token,
            &request_body(*index),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "replay {index}: {replay}");
        assert_eq!(replay["payment_id"], first.first_body["payment_id"]);
        assert_eq!(replay, first.first_body, "replay {index} differs");
        let reply = http
            .get(format!("{base}/api/v1/payments/{}", first.payment_id))
            .bearer_auth(&token)
            .send()
            .await
            .expect("read");
        let payment: Value = reply.json().await.expect("json");
        assert_eq!(
            payment["status"], "completed",
            "payment {index} (authorize answered {}): {payment}",
            first.authorize_status
        );
    }
    // Every acknowledged storage write survived the kills, with its value.
    assert_eq!(acknowledged.len(), PAYMENTS);
    for index in &acknowledged {
        let reply = http
            .get(format!("{base}/api/v1/storage/crash%2F{index}"))
            .bearer_auth(&token)
            .send()
            .await
            .expect("read");
        assert_eq!(reply.status(), StatusCode::OK, "storage key {index} lost");
        let entry: Value = reply.json().await.expect("json");
        assert_eq!(
            entry["value"],
            json!({ "order": index }),
            "storage key {index}"
        );
    }
    server.lock().await.kill();

    let mut conn = PgConnection::connect(&url).await.expect("connect");
    let half: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM payment_transactions \
         WHERE state IN ('Initiated', 'Validating', 'Authorized', 'Processing')",
    )
    .fetch_one(&mut conn)
    .await
    .expect("count");
    assert_eq!(half, 0, "half-settled payments left");
    let payments: i64 = sqlx::query_scalar("SELECT count(*) FROM payment_transactions")
        .fetch_one(&mut conn)
        .await
        .expect("count");
    assert_eq!(payments, PAYMENTS as i64, "one payment per key");
    let balance: i64 = sqlx::query_scalar(
        "SELECT balance FROM wallet_accounts WHERE kind = 'user' AND currency = 'USD'",
    )
    .fetch_one(&mut conn)
    .await
    .expect("balance");
    assert_eq!(
        balance,
        FUNDED_MINOR - AMOUNT_MINOR * PAYMENTS as i64,
        "each completed payment moved its money exactly once"
    );
    conn.close().await.expect("close");

    let db = tmcp_server::database::open(&config).await.expect("opens");
    let ledger: &dyn LedgerRepository = db.as_ref();
    let report = ledger_check(ledger).await.expect("ledger check runs");
    assert!(report.is_clean(), "{:?}", report.findings);
}
