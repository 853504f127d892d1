//! `tmcp-server admin create-user`: the library function on both engines, and the real
//! binary reading the password from standard input and printing JSON.

use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::Arc;
use tmcp_contract_tests::Fixture;
use tmcp_domain::crypto::FieldCipher;
use tmcp_domain::user::Role;
use tmcp_http::auth::password::verify_secret;
use tmcp_repository::Database;
use tmcp_server::admin;

async fn creates_users_with_roles(fixture: Fixture) {
    let cipher = FieldCipher::new(&[3u8; 32]).expect("key");
    let db: &dyn Database = fixture.db.as_ref();
    let json = admin::create_user(
        db,
        &fixture.clock,
        &cipher,
        "root",
        "Root@Example.com",
        "a long admin password".into(),
        Role::Admin,
    )
    .await
    .expect("created");
    assert_eq!(json["username"], "root");
    assert_eq!(json["email"], "root@example.com");
    assert_eq!(json["role"], "admin");
    assert_eq!(json["status"], "active");
    let text = json.to_string();
    assert!(
        !text.contains("argon2") && !text.contains("password"),
        "{text}"
    );

    let stored = db
        .find_user_by_login("root")
        .await
        .expect("lookup")
        .expect("exists");
    assert_eq!(stored.role, Role::Admin);
    assert!(
        verify_secret("a long admin password".into(), stored.password_hash)
            .await
            .expect("verify")
    );

    let duplicate = admin::create_user(
        db,
        &fixture.clock,
        &cipher,
        "root",
        "other@example.com",
        "a long admin password".into(),
        Role::User,
    )
    .await;
    let message = format!("{:#}", duplicate.expect_err("duplicate"));
    assert!(
        message.contains("CONFLICT") && message.contains("username"),
        "{message}"
    );
    let weak = admin::create_user(
        db,
        &fixture.clock,
        &cipher,
        "newbie",
        "newbie@example.com",
        "short".into(),
        Role::User,
    )
    .await;
    assert!(format!("{:#}", weak.expect_err("weak")).contains("VALIDATION_FAILED"));
}

#[tokio::test]
async fn create_user_on_sqlite() {
    creates_users_with_roles(tmcp_contract_tests::engines::sqlite().await).await;
}

#[tokio::test]
async fn create_user_on_postgres() {
    creates_users_with_roles(tmcp_contract_tests::engines::postgres().await).await;
}

#[tokio::test]
async fn the_binary_reads_stdin_and_prints_json() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut child = Command::new(env!("CARGO_BIN_EXE_tmcp-server"))
        .args([
            "admin",
            "create-user",
            "--username",
            "ops",
            "--email",
            "ops@example.com",
            "--password-stdin",
            "--role",
            "developer",
        ])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("TMCP_DATA_DIR", dir.path())
        .env("TMCP_LOG_LEVEL", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("binary starts");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"operator password 1\n")
        .expect("password written");
    let output = child.wait_with_output().expect("binary ends");
    assert!(
        output.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|_| {
        panic!(
            "stdout is JSON: {}",
            String::from_utf8_lossy(&output.stdout)
        )
    });
    assert_eq!(json["username"], "ops");
    assert_eq!(json["role"], "developer");
    assert!(json.get("password_hash").is_none());

    let db = tmcp_sqlite::SqliteDatabase::connect(&dir.path().join("tmcp.db").to_string_lossy())
        .await
        .expect("open");
    let db: Arc<dyn Database> = Arc::new(db);
    let user = db
        .find_user_by_login("ops@example.com")
        .await
        .expect("lookup")
        .expect("created in the configured database");
    assert!(
        verify_secret("operator password 1".into(), user.password_hash)
            .await
            .expect("verify")
    );

    // The command line never carries the password: without --password-stdin it refuses.
    let refused = Command::new(env!("CARGO_BIN_EXE_tmcp-server"))
        .args([
            "admin",
            "create-user",
            "--username",
            "x",
            "--email",
            "x@example.com",
        ])
        .env("TMCP_DATA_DIR", dir.path())
        .stdin(Stdio::null())
        .output()
        .expect("runs");
    assert!(!refused.status.success());
}
