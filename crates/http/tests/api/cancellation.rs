//! Clients that hang up mid-request, on a real loopback listener and both engines. When a
//! client closes its connection the server drops the request's future wherever it is
//! (while `BEGIN` or `COMMIT` is on the wire, between two statements of a batch, while the
//! pooled connection is handed back). Afterwards no batch is half applied, the quota equals
//! the stored entries, and on PostgreSQL no pooled session sits in a transaction and the
//! server never warned about transaction state (which it does when a request's `BEGIN`
//! lands in a transaction left open by an earlier, cancelled one).

use crate::support::seed;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tmcp_contract_tests::cancellation::{
    assert_whole, cancel_after, idle_in_transaction, transaction_warnings,
};
use tmcp_contract_tests::engines::{fresh_database, sqlite};
use tmcp_contract_tests::isolation::alone_in_child_process;
use tmcp_contract_tests::{fixtures, Fixture, START};
use tmcp_domain::{AppId, Clock, ManualClock, UserId};
use tmcp_http::ratelimit::LimitRule;
use tmcp_repository::Database;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const APP: &str = "ma_hang_up";

struct Served {
    addr: SocketAddr,
    token: String,
    user: UserId,
    app: AppId,
    _server: tokio::task::JoinHandle<()>,
}

async fn serve(fixture: &Fixture) -> Served {
    let clock: Arc<dyn Clock> = Arc::new(fixture.clock.clone());
    let mut state = tmcp_http::testing::state(Arc::clone(&fixture.db), clock).await;
    std::sync::Arc::make_mut(&mut state.settings).storage.rate =
        LimitRule::per_minute("storage", 1_000_000, 1_000_000);
    std::sync::Arc::make_mut(&mut state.settings)
        .storage
        .batch_rate = LimitRule::per_minute("storage_batch", 1_000_000, 1_000_000);
    std::sync::Arc::make_mut(&mut state.settings).api_rate =
        LimitRule::per_minute("api_default", 1_000_000, 1_000_000);
    let user = fixtures::user(fixture, "hanger").await.id;
    seed::client(
        fixture,
        APP,
        "Hang-up app",
        &["storage:read", "storage:write"],
    )
    .await;
    let (now, lifetime) = (fixture.clock.now(), Some(time::Duration::days(30)));
    let scopes = "storage:read storage:write";
    let token = seed::tep(&state, now, Some(user), APP, scopes, lifetime).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("listener");
    let addr = listener.local_addr().expect("address");
    let app = tmcp_http::router(state).into_make_service_with_connect_info::<SocketAddr>();
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Served {
        addr,
        token,
        user,
        app: AppId::parse(APP).expect("app id"),
        _server: server,
    }
}

/// One HTTP/1.1 request on its own connection. With a budget the client hangs up (drops
/// the connection) when the budget runs out before the answer is complete; the status and
/// the whole answer otherwise.
async fn request(
    served: &Served,
    method: &str,
    path: &str,
    body: &serde_json::Value,
    budget: Option<Duration>,
) -> Option<(u16, String)> {
    let body = body.to_string();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        served.addr,
        served.token,
        body.len()
    );
    let mut stream = TcpStream::connect(served.addr).await.expect("connect");
    stream
        .write_all(format!("{head}{body}").as_bytes())
        .await
        .expect("request sent");
    let answer = async {
        let mut reply = Vec::new();
        stream.read_to_end(&mut reply).await.expect("answer read");
        let text = String::from_utf8_lossy(&reply).into_owned();
        let status = text
            .split(' ')
            .nth(1)
            .and_then(|code| code.parse::<u16>().ok())
            .unwrap_or_else(|| panic!("not an HTTP answer: {text}"));
        (status, text)
    };
    match budget {
        None => Some(answer.await),
        Some(budget) => cancel_after(answer, budget).await,
    }
}

/// `workers` clients each send `rounds` batch sets (2–6 new keys), single PUTs and batch
/// deletions of a whole earlier batch, hanging up after a random budget on four in five.
async fn storm(served: &Arc<Served>, workers: u64, rounds: usize) -> Vec<Vec<String>> {
    let tasks: Vec<_> = (0..workers)
        .map(|worker| {
            let served = Arc::clone(served);
            tokio::spawn(async move {
                let mut rng = StdRng::seed_from_u64(0x4A96 + worker);
                let mut batches: Vec<Vec<String>> = Vec::new();
                let mut typical = Duration::from_millis(3);
                let (mut done, mut dropped) = (0, 0);
                for round in 0..rounds {
                    let (method, path, body) = match round % 5 {
                        4 if !batches.is_empty() => {
                            let victim = &batches[rng.gen_range(0..batches.len())];
                            let body = json!({ "keys": victim });
                            ("POST", "/api/v1/storage/batch/delete".to_owned(), body)
                        }
                        3 => {
                            let name = format!("w{worker}-r{round}");
                            batches.push(vec![name.clone()]);
                            let value = "p".repeat(rng.gen_range(1..2_000));
                            let path = format!("/api/v1/storage/{name}");
                            ("PUT", path, json!({ "value": value }))
                        }
                        _ => {
                            let names: Vec<String> = (0..rng.gen_range(2..7))
                                .map(|j| format!("w{worker}/r{round}/k{j}"))
                                .collect();
                            let items: Vec<_> = names
                                .iter()
                                .map(|n| json!({"key": n, "value": "b".repeat(rng.gen_range(1..2_000))}))
                                .collect();
                            batches.push(names);
                            let path = "/api/v1/storage/batch/set".to_owned();
                            ("POST", path, json!({ "items": items }))
                        }
                    };
                    let started = Instant::now();
                    let status = if rng.gen_bool(0.2) {
                        let status = request(&served, method, &path, &body, None).await;
                        typical = (typical * 3 + started.elapsed()) / 4;
                        status
                    } else {
                        let budget = typical.mul_f64(rng.gen_range(0.0..1.2));
                        request(&served, method, &path, &body, Some(budget)).await
                    };
                    match status {
                        Some((200 | 201, _)) => done += 1,
                        Some((_, answer)) => panic!("{method} {path}: {answer}"),
                        None => dropped += 1,
                    }
                }
                eprintln!("client {worker}: {done} answered, {dropped} hung up");
                batches
            })
        })
        .collect();
    let mut batches = Vec::new();
    for task in tasks {
        batches.extend(task.await.expect("client finished"));
    }
    batches
}

/// Lets the server finish what it still does for clients that hung up.
async fn settle(served: &Served) {
    tokio::time::sleep(Duration::from_millis(300)).await;
    let answer = request(served, "GET", "/api/v1/storage/quota", &json!({}), None).await;
    assert_eq!(answer.map(|a| a.0), Some(200), "the server still answers");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_hung_up_requests_leave_no_transaction_behind() {
    // The warning count is process-wide: no other test may add to it.
    if !alone_in_child_process(
        module_path!(),
        "postgres_hung_up_requests_leave_no_transaction_behind",
    ) {
        return;
    }
    let warnings_before = transaction_warnings();
    let (db, _url, guard) = fresh_database().await;
    let database = guard.name.clone();
    let db: Arc<dyn Database> = Arc::new(db);
    let fixture = Fixture {
        db,
        clock: ManualClock::new(*START),
        _guard: Box::new(guard),
    };
    let served = Arc::new(serve(&fixture).await);
    let batches = storm(&served, 6, 80).await;
    settle(&served).await;
    let open = idle_in_transaction(&database).await;
    assert!(
        open.is_empty(),
        "pooled sessions left in a transaction: {open:#?}"
    );
    assert_whole(&fixture, served.user, &served.app, &batches).await;
    assert_eq!(
        transaction_warnings() - warnings_before,
        0,
        "PostgreSQL warned about transaction state (a session reused mid-transaction)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_hung_up_requests_leave_nothing_half_done() {
    let fixture = sqlite().await;
    let served = Arc::new(serve(&fixture).await);
    let batches = storm(&served, 6, 80).await;
    settle(&served).await;
    assert_whole(&fixture, served.user, &served.app, &batches).await;
}
