//! A PostgreSQL outage seen through the real server: while the database is down, requests
//! answer 503 promptly (envelope, or RFC 6749 `temporarily_unavailable` on OAuth endpoints)
//! with `Retry-After`; once it is back they succeed again without a restart, also when the
//! database restarts under a steady write load, and no acknowledged write is lost. The
//! database is a private cluster this test starts and kills, never the shared one.

use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tmcp_contract_tests::cluster::PrivateCluster;
use tmcp_domain::SystemClock;
use tmcp_server::config::Config;
use tmcp_server::serve;

/// What the issue asks for: an answer well before the old 5 s acquire timeout.
const PROMPT: Duration = Duration::from_secs(3);

struct Answer {
    status: u16,
    retry_after: Option<String>,
    body: Value,
    took: Duration,
}

async fn send(request: reqwest::RequestBuilder) -> Answer {
    let started = Instant::now();
    let response = request.send().await.expect("request sent");
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = response.json().await.unwrap_or(Value::Null);
    Answer {
        status,
        retry_after,
        body,
        took: started.elapsed(),
    }
}

fn assert_unavailable_envelope(answer: &Answer, what: &str) {
    assert_eq!(answer.status, 503, "{what}: {}", answer.body);
    assert_eq!(
        answer.body["error"]["code"], "SERVICE_UNAVAILABLE",
        "{what}: {}",
        answer.body
    );
    assert_eq!(answer.body["error"]["details"]["dependency"], "database");
    assert!(
        answer.body["error"]["request_id"].is_string(),
        "{what}: envelope"
    );
    assert_retry_after_and_prompt(answer, what);
}

fn assert_retry_after_and_prompt(answer: &Answer, what: &str) {
    let seconds = answer
        .retry_after
        .as_deref()
        .and_then(|v| v.parse::<u64>().ok());
    assert!(
        seconds.is_some_and(|s| s > 0),
        "{what}: Retry-After {:?}",
        answer.retry_after
    );
    assert!(
        answer.took < PROMPT,
        "{what}: answered after {:?}",
        answer.took
    );
}

/// The server's configuration on the private cluster: defaults apart from the address and
/// the data dir (the default acquire timeout must be prompt).
fn cluster_config(dir: &tempfile::TempDir, cluster: &PrivateCluster) -> Config {
    Config {
        listen: "127.0.0.1:0".into(),
        data_dir: dir.path().to_path_buf(),
        database_url: Some(cluster.url()),
        ..Config::default()
    }
}

/// Registers `username` and returns a session token of it.
async fn session_of(http: &reqwest::Client, base: &str, username: &str) -> String {
    let registered = send(
        http.post(format!("{base}/api/v1/auth/register"))
            .json(&json!({
                "username": username,
                "email": format!("{username}@example.com"),
                "password": "correct horse battery staple",
            })),
    )
    .await;
    assert_eq!(registered.status, 201, "{}", registered.body);
    let login = send(http.post(format!("{base}/api/v1/auth/login")).json(&json!({
        "login": username,
        "password": "correct horse battery staple",
    })))
    .await;
    assert_eq!(login.status, 200, "{}", login.body);
    login.body["session_token"]
        .as_str()
        .expect("session token")
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_outage_answers_503_promptly_and_recovers_without_restart() {
    let Some(cluster) = PrivateCluster::start().await else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let config = cluster_config(&dir, &cluster);
    let server = serve::start(&config, Arc::new(SystemClock))
        .await
        .expect("server starts on the private cluster");
    let base = format!("http://{}", server.addr);
    let http = reqwest::Client::new();

    let token = session_of(&http, &base, "outage_user").await;
    let me = || {
        http.get(format!("{base}/api/v1/users/me"))
            .bearer_auth(&token)
    };
    let token_request = || {
        http.post(format!("{base}/oauth2/token")).form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "ma_no_such_client"),
            ("client_secret", "whatever"),
        ])
    };
    assert_eq!(send(me()).await.status, 200);
    assert_eq!(send(http.get(format!("{base}/ready"))).await.status, 200);
    let unknown_client = send(token_request()).await;
    assert_eq!(unknown_client.status, 401, "{}", unknown_client.body);

    cluster.stop().await;

    // Every path to the database: an authenticated read, an anonymous write, readiness.
    assert_unavailable_envelope(&send(me()).await, "GET /api/v1/users/me");
    let login_during = send(http.post(format!("{base}/api/v1/auth/login")).json(&json!({
        "login": "outage_user",
        "password": "correct horse battery staple",
    })))
    .await;
    assert_unavailable_envelope(&login_during, "POST /api/v1/auth/login");
    assert_unavailable_envelope(&send(http.get(format!("{base}/ready"))).await, "GET /ready");
    // OAuth endpoints keep their own error format.
    let oauth = send(token_request()).await;
    assert_eq!(oauth.status, 503, "{}", oauth.body);
    assert_eq!(
        oauth.body["error"], "temporarily_unavailable",
        "{}",
        oauth.body
    );
    assert_retry_after_and_prompt(&oauth, "POST /oauth2/token");
    assert_eq!(
        send(http.get(format!("{base}/health"))).await.status,
        200,
        "liveness does not depend on the database"
    );

    cluster.resume().await;

    let back = send(me()).await;
    assert_eq!(
        back.status, 200,
        "recovered without a restart: {}",
        back.body
    );
    assert_eq!(back.body["username"], "outage_user", "{}", back.body);
    assert_eq!(send(http.get(format!("{base}/ready"))).await.status, 200);
    assert_eq!(send(token_request()).await.status, 401);
    server.stop().await.expect("clean stop");
}

/// Clients that keep writing while PostgreSQL restarts.
const WRITERS: usize = 4;

/// One writer: updates its own user's first name to `v1`, `v2`, … as fast as answers come,
/// until `stop`; returns the last version acknowledged (200) and the statuses seen.
async fn keep_writing(
    http: reqwest::Client,
    base: String,
    token: String,
    stop: Arc<std::sync::atomic::AtomicBool>,
) -> (u64, Vec<u16>) {
    let mut acknowledged = 0;
    let mut statuses = Vec::new();
    let mut version = 0;
    while !stop.load(std::sync::atomic::Ordering::SeqCst) {
        version += 1;
        let answer = send(
            http.patch(format!("{base}/api/v1/users/me"))
                .bearer_auth(&token)
                .json(&json!({ "first_name": format!("v{version}") })),
        )
        .await;
        match answer.status {
            200 => acknowledged = version,
            503 => {
                assert_unavailable_envelope(&answer, "PATCH /api/v1/users/me during the restart");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            other => panic!("unexpected {other} during the restart: {}", answer.body),
        }
        statuses.push(answer.status);
    }
    (acknowledged, statuses)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_restarted_under_load_answers_503_meanwhile_and_loses_no_acknowledged_write() {
    let Some(cluster) = PrivateCluster::start().await else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let config = Config {
        api_rate_per_minute: 1_000_000,
        api_rate_burst: 1_000_000,
        ..cluster_config(&dir, &cluster)
    };
    let server = serve::start(&config, Arc::new(SystemClock))
        .await
        .expect("server starts on the private cluster");
    let base = format!("http://{}", server.addr);
    let http = reqwest::Client::builder()
        .timeout(PROMPT * 2)
        .build()
        .expect("client");
    let mut tokens = Vec::new();
    for writer in 0..WRITERS {
        tokens.push(session_of(&http, &base, &format!("restart_user_{writer}")).await);
    }

    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writers: Vec<_> = tokens
        .iter()
        .map(|token| {
            tokio::spawn(keep_writing(
                http.clone(),
                base.clone(),
                token.clone(),
                Arc::clone(&stop),
            ))
        })
        .collect();
    // Load before, during and after a restart (pg_ctl stop -m immediate, then start). The
    // database stays down longer than the pool's acquire timeout (2 s): a shorter outage is
    // ridden through, requests waiting for a connection and then succeeding.
    tokio::time::sleep(Duration::from_millis(500)).await;
    cluster.stop().await;
    tokio::time::sleep(Duration::from_millis(4000)).await;
    cluster.resume().await;
    // Recovered without a server restart: every writer gets its writes through again.
    tokio::time::sleep(Duration::from_millis(3000)).await;
    stop.store(true, std::sync::atomic::Ordering::SeqCst);

    for (writer, (handle, token)) in writers.into_iter().zip(&tokens).enumerate() {
        let (acknowledged, statuses) = handle.await.expect("writer finished");
        let unavailable = statuses.iter().filter(|s| **s == 503).count();
        eprintln!(
            "writer {writer}: {} writes, {} acknowledged (the last v{acknowledged}), \
             {unavailable} answered 503",
            statuses.len(),
            statuses.len() - unavailable
        );
        assert!(
            statuses.contains(&503),
            "writer {writer} never met the outage: {statuses:?}"
        );
        assert_eq!(
            statuses.last(),
            Some(&200),
            "writer {writer} did not recover: {:?}",
            &statuses[statuses.len().saturating_sub(5)..]
        );
        let me = send(
            http.get(format!("{base}/api/v1/users/me"))
                .bearer_auth(token),
        )
        .await;
        assert_eq!(me.status, 200, "{}", me.body);
        // The last write that was acknowledged is there (a write whose answer was lost with
        // the connection may be there too, so later is fine, earlier is a lost write).
        let stored: u64 = me.body["first_name"]
            .as_str()
            .and_then(|v| v.strip_prefix('v'))
            .and_then(|v| v.parse().ok())
            .expect("first name written by the writer");
        assert!(
            stored >= acknowledged,
            "writer {writer}: acknowledged v{acknowledged} but v{stored} is stored"
        );
    }
    server.stop().await.expect("clean stop");
}
