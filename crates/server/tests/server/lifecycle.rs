//! The binary's wiring driven over real TCP: zero-setup SQLite, PostgreSQL with Redis,
//! graceful shutdown, and backup/restore on both engines.

use axum::routing::get;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tmcp_contract_tests::engines::{empty_database, fresh_database};
use tmcp_domain::user::Role;
use tmcp_domain::{SystemClock, UserId};
use tmcp_repository::{NewUser, UserRepository};
use tmcp_server::config::Config;
use tmcp_server::{backup, database, serve};

fn config_in(dir: &Path) -> Config {
    Config {
        listen: "127.0.0.1:0".into(),
        data_dir: dir.to_path_buf(),
        ..Config::default()
    }
}

async fn get_json(url: String) -> (u16, serde_json::Value) {
    let response = reqwest::get(url).await.expect("request sent");
    let status = response.status().as_u16();
    (status, response.json().await.expect("json body"))
}

#[tokio::test]
async fn zero_setup_serves_from_sqlite_in_the_data_dir() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = serve::start(&config_in(dir.path()), Arc::new(SystemClock))
        .await
        .expect("starts");
    let (status, body) = get_json(format!("http://{}/ready", server.addr)).await;
    assert_eq!(status, 200);
    assert_eq!(body["database"], "sqlite");
    assert!(dir.path().join("tmcp.db").exists(), "database file created");
    assert!(
        dir.path().join("encryption.key").exists(),
        "key file created once"
    );
    server.stop().await.expect("clean stop");
}

#[tokio::test]
async fn postgres_and_redis_are_used_when_configured() {
    let (db, url, _guard) = fresh_database().await;
    drop(db);
    let dir = tempfile::tempdir().expect("tempdir");
    let config = Config {
        database_url: Some(url),
        redis_url: Some(
            std::env::var("TMCP_TEST_REDIS_URL")
                .unwrap_or_else(|_| "redis://127.0.0.1:6379".into()),
        ),
        // Keys of this run only: concurrent runs share the Redis.
        redis_namespace: format!("test-{}", uuid::Uuid::new_v4().simple()),
        ..config_in(dir.path())
    };
    let server = serve::start(&config, Arc::new(SystemClock))
        .await
        .expect("starts");
    let (status, body) = get_json(format!("http://{}/ready", server.addr)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (body["database"].as_str(), body["redis"].as_str()),
        (Some("postgres"), Some("ok"))
    );
    assert!(
        !dir.path().join("tmcp.db").exists(),
        "no SQLite file when PostgreSQL is configured"
    );
    server.stop().await.expect("clean stop");
}

#[tokio::test]
async fn shutdown_lets_in_flight_requests_finish() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let app = axum::Router::new().route(
        "/slow",
        get(|| async {
            tokio::time::sleep(Duration::from_millis(300)).await;
            "finished"
        }),
    );
    let server = serve::spawn_http(listener, app, Default::default()).expect("serving");
    let url = format!("http://{}/slow", server.addr);
    let in_flight = tokio::spawn(async move { reqwest::get(url).await?.text().await });
    tokio::time::sleep(Duration::from_millis(100)).await;
    server.stop().await.expect("stops after draining");
    let body = in_flight
        .await
        .expect("joined")
        .expect("the in-flight request completed");
    assert_eq!(body, "finished");
}

fn someone(name: &str) -> NewUser {
    NewUser {
        id: UserId(tmcp_domain::ids::uuid_v7_at(*tmcp_contract_tests::START)),
        username: name.into(),
        email: format!("{name}@example.com"),
        password_hash: "hash".into(),
        first_name: None,
        last_name: None,
        phone_ciphertext: None,
        role: Role::User,
        created_at: *tmcp_contract_tests::START,
    }
}

#[tokio::test]
async fn sqlite_backup_restores_into_a_fresh_data_dir() {
    let source_dir = tempfile::tempdir().expect("tempdir");
    let source = config_in(source_dir.path());
    let db = database::open(&source).await.expect("opens");
    let user = db.create_user(someone("backed_up")).await.expect("user");
    let file = source_dir.path().join("backup.db");
    backup::backup(&source, &file)
        .await
        .expect("backup written while open");
    assert!(
        backup::backup(&source, &file).await.is_err(),
        "never overwrites a backup"
    );

    let target_dir = tempfile::tempdir().expect("tempdir");
    let target = config_in(target_dir.path());
    backup::restore(&target, &file).await.expect("restored");
    let restored = database::open(&target).await.expect("opens");
    let found = restored
        .find_user_by_login("backed_up")
        .await
        .expect("lookup");
    assert_eq!(found.map(|u| u.id), Some(user.id));
}

#[tokio::test]
async fn postgres_backup_restores_into_an_empty_database() {
    let (db, source_url, _source_guard) = fresh_database().await;
    let user = db.create_user(someone("pg_backed_up")).await.expect("user");
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("tmcp.dump");
    let source = Config {
        database_url: Some(source_url),
        ..config_in(dir.path())
    };
    backup::backup(&source, &file).await.expect("pg_dump ran");

    let (target_url, _target_guard) = empty_database().await;
    let target = Config {
        database_url: Some(target_url),
        ..config_in(dir.path())
    };
    backup::restore(&target, &file)
        .await
        .expect("pg_restore ran");
    let restored = database::open(&target)
        .await
        .expect("opens; migrations already applied");
    let found = restored
        .find_user_by_login("pg_backed_up")
        .await
        .expect("lookup");
    assert_eq!(found.map(|u| u.id), Some(user.id));
    let migrations = restored
        .applied_migrations()
        .await
        .expect("schema_migrations");
    assert!(migrations.iter().any(|(v, _)| v == "0001"));
}

/// `/bench/ceiling` (a bare `SELECT 1` on a plain pool, for `bench/run.sh`) answers only
/// when bench routes are on, on both engines.
#[tokio::test]
async fn the_bench_ceiling_exists_only_with_bench_routes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let plain = serve::start(&config_in(dir.path()), Arc::new(SystemClock))
        .await
        .expect("starts");
    let refused = reqwest::get(format!("http://{}/bench/ceiling", plain.addr))
        .await
        .expect("request sent");
    assert_eq!(refused.status().as_u16(), 404);
    plain.stop().await.expect("clean stop");

    let (db, url, _guard) = fresh_database().await;
    drop(db);
    for database_url in [None, Some(url)] {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = Config {
            bench_routes: true,
            database_url,
            ..config_in(dir.path())
        };
        let server = serve::start(&config, Arc::new(SystemClock))
            .await
            .expect("starts");
        let answer = reqwest::get(format!("http://{}/bench/ceiling", server.addr))
            .await
            .expect("request sent");
        assert_eq!(answer.status().as_u16(), 200);
        assert_eq!(answer.text().await.expect("body"), "ok");
        server.stop().await.expect("clean stop");
    }
}
