//! Lag-tolerant reads on a read replica (`database_replica_url`) through the real server.
//! The "replica" is a private cluster with the schema and one category of its own that the
//! primary does not have, so an answer shows which database served it: the store's
//! categories come from the replica while it is healthy, from the primary while it is down
//! (never a hang: each answer within `PROMPT`, 200 or the 503 envelope while the outage is
//! being detected), and from the replica again once it is back. Sessions and the user's own
//! data always come from the primary (the user exists only there). `/ready` reports the
//! replica without failing, and `/metrics` exports its lag.

use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tmcp_contract_tests::cluster::PrivateCluster;
use tmcp_contract_tests::engines::fresh_database;
use tmcp_contract_tests::isolation::alone_in_child_process;
use tmcp_domain::SystemClock;
use tmcp_postgres::{PgDatabase, PgSettings};
use tmcp_server::config::Config;
use tmcp_server::serve;

/// A category only the replica holds.
const MARK: &str = "replica_only_category";
/// Every lag-tolerant read answers within this while the replica dies.
const PROMPT: Duration = Duration::from_millis(2500);

struct Answer {
    status: u16,
    body: String,
    took: Duration,
}

async fn get(http: &reqwest::Client, url: &str, token: Option<&str>) -> Answer {
    let started = Instant::now();
    let mut request = http.get(url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("request sent");
    let status = response.status().as_u16();
    let body = response.text().await.unwrap_or_default();
    Answer {
        status,
        body,
        took: started.elapsed(),
    }
}

async fn replica_state(http: &reqwest::Client, base: &str) -> String {
    let ready = get(http, &format!("{base}/ready"), None).await;
    assert_eq!(ready.status, 200, "{}", ready.body);
    let body: Value = serde_json::from_str(&ready.body).expect("json");
    body["replica"].as_str().unwrap_or_default().to_owned()
}

async fn wait_for_replica(http: &reqwest::Client, base: &str, state: &str, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        let now = replica_state(http, base).await;
        if now == state {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "replica still {now:?}, not {state:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn metric(http: &reqwest::Client, base: &str, name: &str) -> Option<f64> {
    let text = get(http, &format!("{base}/metrics"), None).await.body;
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
}

async fn session_of(http: &reqwest::Client, base: &str) -> String {
    let password = "correct horse battery staple";
    let registered = http
        .post(format!("{base}/api/v1/auth/register"))
        .json(
            &json!({"username": "replica_user", "email": "replica@example.com",
                      "password": password}),
        )
        .send()
        .await
        .expect("register sent");
    assert_eq!(registered.status().as_u16(), 201);
    let login: Value = http
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({"login": "replica_user", "password": password}))
        .send()
        .await
        .expect("login sent")
        .json()
        .await
        .expect("login json");
    login["session_token"]
        .as_str()
        .expect("session token")
        .to_owned()
}

/// A server on the primary at `primary_url` reading lag-tolerant routes from `replica_url`,
/// with small pools: the shared test server's connections are scarce.
fn replica_config(data_dir: &std::path::Path, primary_url: String, replica_url: String) -> Config {
    Config {
        listen: "127.0.0.1:0".into(),
        data_dir: data_dir.to_path_buf(),
        database_url: Some(primary_url),
        database_replica_url: Some(replica_url),
        db_max_connections: 2,
        db_system_max_connections: 2,
        ..Config::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lag_tolerant_reads_use_the_replica_and_fall_back_to_the_primary() {
    // The replica gauges are process-wide: no other server may render /metrics meanwhile.
    if !alone_in_child_process(
        module_path!(),
        "lag_tolerant_reads_use_the_replica_and_fall_back_to_the_primary",
    ) {
        return;
    }
    let Some(replica) = PrivateCluster::start().await else {
        return;
    };
    // The replica's schema, and a category the primary does not have.
    let replica_db = PgDatabase::connect(&replica.url(), &PgSettings::default())
        .await
        .expect("schema on the replica");
    sqlx::query("INSERT INTO app_categories (name, display_name) VALUES ($1, 'Replica only')")
        .bind(MARK)
        .execute(replica_db.system_pool())
        .await
        .expect("category on the replica");
    drop(replica_db);

    let (primary, primary_url, _guard) = fresh_database().await;
    drop(primary);
    let dir = tempfile::tempdir().expect("tempdir");
    let config = replica_config(dir.path(), primary_url, replica.url());
    let server = serve::start(&config, Arc::new(SystemClock))
        .await
        .expect("starts");
    let base = format!("http://{}", server.addr);
    let http = reqwest::Client::new();
    let session = session_of(&http, &base).await;
    let categories = format!("{base}/api/v1/store/categories");

    wait_for_replica(&http, &base, "ok", Duration::from_secs(5)).await;
    let served = get(&http, &categories, Some(&session)).await;
    assert_eq!(served.status, 200, "{}", served.body);
    assert!(
        served.body.contains(MARK),
        "not from the replica: {}",
        served.body
    );
    let me = get(&http, &format!("{base}/api/v1/users/me"), Some(&session)).await;
    assert_eq!(me.status, 200, "own data from the primary: {}", me.body);
    assert_eq!(
        metric(&http, &base, "tmcp_db_replica_lag_seconds").await,
        Some(0.0)
    );
    assert_eq!(
        metric(&http, &base, "tmcp_db_replica_serving").await,
        Some(1.0)
    );

    // The replica dies: every read answers promptly (200 from either, or the 503 envelope
    // while the outage is detected), and within a few seconds the primary serves them all.
    replica.stop().await;
    let stopped = Instant::now();
    let mut from_primary_since = None;
    while stopped.elapsed() < Duration::from_secs(5) {
        let answer = get(&http, &categories, Some(&session)).await;
        assert!(answer.took < PROMPT, "answered after {:?}", answer.took);
        match answer.status {
            200 if !answer.body.contains(MARK) => {
                from_primary_since.get_or_insert(stopped.elapsed());
            }
            200 => from_primary_since = None,
            503 => {
                assert!(
                    answer.body.contains("SERVICE_UNAVAILABLE"),
                    "{}",
                    answer.body
                );
                from_primary_since = None;
            }
            other => panic!("lag-tolerant read answered {other}: {}", answer.body),
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let fell_back = from_primary_since.expect("the primary serves the reads in the end");
    assert!(
        fell_back < Duration::from_secs(3),
        "fell back after {fell_back:?}"
    );
    assert_eq!(replica_state(&http, &base).await, "down");
    assert_eq!(
        metric(&http, &base, "tmcp_db_replica_serving").await,
        Some(0.0)
    );
    let me = get(&http, &format!("{base}/api/v1/users/me"), Some(&session)).await;
    assert_eq!(me.status, 200, "{}", me.body);

    // Back: the replica serves the reads again, without a restart.
    replica.resume().await;
    wait_for_replica(&http, &base, "ok", Duration::from_secs(10)).await;
    let served = get(&http, &categories, Some(&session)).await;
    assert!(served.body.contains(MARK), "{}", served.body);
    server.stop().await.expect("clean stop");
}

/// A replica that is down from the start does not stop the server: the primary serves the
/// reads at once, and `/ready` says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_down_at_start_leaves_reads_on_the_primary() {
    let (primary, primary_url, _guard) = fresh_database().await;
    drop(primary);
    let closed = tmcp_contract_tests::cluster::free_port();
    let dir = tempfile::tempdir().expect("tempdir");
    let config = replica_config(
        dir.path(),
        primary_url,
        format!("postgres://postgres@127.0.0.1:{closed}/none"),
    );
    let server = serve::start(&config, Arc::new(SystemClock))
        .await
        .expect("starts without its replica");
    let base = format!("http://{}", server.addr);
    let http = reqwest::Client::new();
    let session = session_of(&http, &base).await;
    for _ in 0..5 {
        let answer = get(
            &http,
            &format!("{base}/api/v1/store/categories"),
            Some(&session),
        )
        .await;
        assert_eq!(answer.status, 200, "{}", answer.body);
        assert!(
            answer.took < Duration::from_millis(500),
            "took {:?}",
            answer.took
        );
    }
    wait_for_replica(&http, &base, "down", Duration::from_secs(5)).await;
    server.stop().await.expect("clean stop");
}
