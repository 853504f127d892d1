//! OAuth bootstrap: `admin create-client` and `admin rotate-signing-key` (the functions on
//! both engines, and the real binary), and the README's path from a fresh install to a TEP.

use std::process::{Command, Stdio};
use std::sync::Arc;
use tmcp_contract_tests::Fixture;
use tmcp_domain::crypto::FieldCipher;
use tmcp_domain::oauth::verify_client_secret;
use tmcp_domain::{Clock, SystemClock};
use tmcp_http::auth::keys::load_key_ring;
use tmcp_server::config::Config;
use tmcp_server::oauth_admin::{create_client, rotate_signing_key, ClientSpec};
use tmcp_server::serve;

fn spec(id: &str) -> ClientSpec {
    ClientSpec {
        client_id: id.into(),
        name: "Demo App".into(),
        redirect_uris: vec!["https://demo.example/cb".into()],
        scopes: "storage:read user:read".into(),
        official: false,
        confidential: false,
        developer: None,
    }
}

async fn clients_are_registered_with_validated_settings(fixture: Fixture) {
    let db = fixture.db.as_ref();
    let clock = &fixture.clock;
    let public = create_client(db, clock, spec("ma_demo_public"))
        .await
        .expect("public client");
    assert_eq!(public["client_id"], "ma_demo_public");
    assert_eq!(public["app_id"], "ma_demo_public");
    assert!(public.get("client_secret").is_none());
    assert_eq!(public["token_endpoint_auth_method"], "none");
    let grants = public["grant_types"].to_string();
    assert!(grants.contains("authorization_code") && grants.contains("token-exchange"));
    assert!(!grants.contains("client_credentials"));

    let confidential = create_client(
        db,
        clock,
        ClientSpec {
            confidential: true,
            official: true,
            scopes: "webhook:send analytics:detailed".into(),
            redirect_uris: vec![],
            ..spec("ma_demo_backend")
        },
    )
    .await
    .expect("confidential client");
    let secret = confidential["client_secret"]
        .as_str()
        .expect("secret printed once");
    let stored = db
        .find_client("ma_demo_backend")
        .await
        .expect("find")
        .expect("stored");
    let hash = stored.client_secret_hash.expect("hash stored");
    assert!(!hash.contains(secret), "only a hash is stored");
    assert!(verify_client_secret(secret, &hash));
    assert!(stored.is_official);
    assert!(stored
        .grant_types
        .contains(&"client_credentials".to_owned()));
    assert!(!stored
        .grant_types
        .contains(&"authorization_code".to_owned()));

    for (bad, why) in [
        (spec("ma_demo_public"), "duplicate"),
        (
            ClientSpec {
                scopes: "analytics:detailed".into(),
                ..spec("ma_x_official")
            },
            "official-only scope",
        ),
        (
            ClientSpec {
                scopes: "storage:read admin:all".into(),
                ..spec("ma_x_unknown")
            },
            "unknown scope",
        ),
        (
            ClientSpec {
                scopes: "".into(),
                ..spec("ma_x_empty")
            },
            "no scope",
        ),
        (
            ClientSpec {
                redirect_uris: vec!["http://demo.example/cb".into()],
                ..spec("ma_x_http")
            },
            "plain http",
        ),
        (
            ClientSpec {
                redirect_uris: vec!["https://demo.example/cb#x".into()],
                ..spec("ma_x_frag")
            },
            "fragment",
        ),
        (spec("Bad Id"), "client id"),
        (
            ClientSpec {
                name: " ".into(),
                ..spec("ma_x_name")
            },
            "empty name",
        ),
    ] {
        assert!(
            create_client(db, clock, bad).await.is_err(),
            "{why} must be refused"
        );
    }
}

async fn signing_keys_rotate_and_old_keys_keep_verifying(fixture: Fixture) {
    let db = fixture.db.as_ref();
    let cipher = FieldCipher::new(&[9u8; 32]).expect("cipher");
    let now = fixture.clock.now();
    let before = load_key_ring(db, &cipher, jsonwebtoken::Algorithm::RS256, now)
        .await
        .expect("first key");
    let rotated = rotate_signing_key(db, &cipher, &fixture.clock, "RS256", 86_400)
        .await
        .expect("rotated");
    let new_kid = rotated["kid"].as_str().expect("kid").to_owned();
    assert_ne!(new_kid, before.signing_kid);
    let after = load_key_ring(db, &cipher, jsonwebtoken::Algorithm::RS256, now)
        .await
        .expect("ring after rotation");
    assert_eq!(after.signing_kid, new_kid, "the new key signs");
    assert!(
        after.keys.contains_key(&before.signing_kid),
        "the old key still verifies"
    );
    assert!(
        after.keys[&before.signing_kid].encoding.is_none(),
        "the old key no longer signs"
    );
    let stored = db.list_signing_keys().await.expect("keys");
    let old = stored
        .iter()
        .find(|k| k.kid == before.signing_kid)
        .expect("old key");
    assert_eq!(old.status, "retiring");
    assert_eq!(old.retire_after, Some(now + time::Duration::days(1)));
    assert!(rotate_signing_key(db, &cipher, &fixture.clock, "HS256", 60)
        .await
        .is_err());
}

/// `--developer` registers the mini-app too (so it can take payments); a missing developer
/// or a non-mini-app id is refused before anything is written.
async fn a_developer_registers_the_mini_app_with_its_client(fixture: Fixture) {
    let db = fixture.db.as_ref();
    let clock = &fixture.clock;
    tmcp_contract_tests::fixtures::user(&fixture, "shop_dev").await;
    let with_app = |id: &str, login: &str| ClientSpec {
        developer: Some(login.into()),
        ..spec(id)
    };
    create_client(db, clock, with_app("ma_dev_shop", "shop_dev"))
        .await
        .expect("client and app");
    let app = tmcp_domain::AppId::parse("ma_dev_shop").expect("app id");
    let name = db.app_name(&app).await.expect("read");
    assert_eq!(name.as_deref(), Some("Demo App"));

    for (bad, why) in [
        (with_app("ma_dev_ghost", "nobody"), "unknown developer"),
        (with_app("demo.backend", "shop_dev"), "not a mini-app id"),
        (with_app("ma_dev_shop", "shop_dev"), "registered twice"),
    ] {
        assert!(
            create_client(db, clock, bad.clone()).await.is_err(),
            "{why} must be refused"
        );
        if why != "registered twice" {
            assert!(
                db.find_client(&bad.client_id)
                    .await
                    .expect("find")
                    .is_none(),
                "{why}: no client left behind"
            );
        }
    }
    let ghost = tmcp_domain::AppId::parse("ma_dev_ghost").expect("app id");
    assert!(db.app_name(&ghost).await.expect("read").is_none());
}

macro_rules! on_both_engines {
    ($($name:ident),+ $(,)?) => {
        mod sqlite {
            $(#[tokio::test] async fn $name() { super::$name(tmcp_contract_tests::engines::sqlite().await).await; })+
        }
        mod postgres {
            $(#[tokio::test] async fn $name() { super::$name(tmcp_contract_tests::engines::postgres().await).await; })+
        }
    };
}

on_both_engines!(
    a_developer_registers_the_mini_app_with_its_client,
    clients_are_registered_with_validated_settings,
    signing_keys_rotate_and_old_keys_keep_verifying,
);

fn cli(data_dir: &std::path::Path, args: &[&str], stdin: Option<&str>) -> serde_json::Value {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tmcp-server"))
        .args(args)
        .env("TMCP_DATA_DIR", data_dir)
        .env_remove("TMCP_DATABASE_URL")
        .env_remove("TMCP_CONFIG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("binary runs");
    if let Some(input) = stdin {
        use std::io::Write;
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input.as_bytes())
            .expect("write stdin");
    } else {
        drop(child.stdin.take());
    }
    let output = child.wait_with_output().expect("finishes");
    assert!(
        output.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "{args:?} prints JSON ({e}): {}",
            String::from_utf8_lossy(&output.stdout)
        )
    })
}

/// The README's walk-through: create a user and a client with the CLI, start the server,
/// log in, and trade the session for a TEP with token exchange.
#[tokio::test]
async fn readme_path_from_fresh_install_to_a_tep() {
    let dir = tempfile::tempdir().expect("tempdir");
    let user = cli(
        dir.path(),
        &[
            "admin",
            "create-user",
            "--username",
            "demo",
            "--email",
            "demo@example.com",
            "--password-stdin",
        ],
        Some("a long demo password\n"),
    );
    assert_eq!(user["username"], "demo");
    let client = cli(
        dir.path(),
        &[
            "admin",
            "create-client",
            "--client-id",
            "ma_demo",
            "--name",
            "Demo",
            "--redirect-uri",
            "https://demo.example/cb",
            "--scopes",
            "storage:read storage:write user:read",
        ],
        None,
    );
    assert_eq!(client["client_id"], "ma_demo");
    let backend = cli(
        dir.path(),
        &[
            "admin",
            "create-client",
            "--client-id",
            "ma_demo_backend",
            "--name",
            "Demo backend",
            "--scopes",
            "webhook:send",
            "--confidential",
        ],
        None,
    );
    let secret = backend["client_secret"]
        .as_str()
        .expect("secret")
        .to_owned();
    let rotated = cli(dir.path(), &["admin", "rotate-signing-key"], None);
    assert!(rotated["kid"].as_str().is_some());

    let config = Config {
        listen: "127.0.0.1:0".into(),
        data_dir: dir.path().to_path_buf(),
        ..Config::default()
    };
    let server = serve::start(&config, Arc::new(SystemClock))
        .await
        .expect("starts");
    let base = format!("http://{}", server.addr);
    let http = reqwest::Client::new();
    let login: serde_json::Value = http
        .post(format!("{base}/api/v1/auth/login"))
        .json(&serde_json::json!({"login": "demo", "password": "a long demo password"}))
        .send()
        .await
        .expect("login")
        .json()
        .await
        .expect("json");
    let session = login["session_token"].as_str().expect("session token");
    let exchanged: serde_json::Value = http
        .post(format!("{base}/oauth2/token"))
        .form(&[
            (
                "grant_type",
                "urn:ietf:params:oauth:grant-type:token-exchange",
            ),
            ("client_id", "ma_demo"),
            ("subject_token", session),
            (
                "subject_token_type",
                "urn:ietf:params:oauth:token-type:access_token",
            ),
            ("scope", "storage:read storage:write"),
        ])
        .send()
        .await
        .expect("exchange")
        .json()
        .await
        .expect("json");
    assert!(
        exchanged["access_token"]
            .as_str()
            .is_some_and(|t| t.starts_with("tep.")),
        "{exchanged}"
    );
    let jwks: serde_json::Value = http
        .get(format!("{base}/.well-known/jwks.json"))
        .send()
        .await
        .expect("jwks")
        .json()
        .await
        .expect("json");
    // On a fresh install the rotation created the first key; the server signs with it.
    assert_eq!(jwks["keys"][0]["kid"], rotated["kid"]);
    let backend_token = http
        .post(format!("{base}/oauth2/token"))
        .basic_auth("ma_demo_backend", Some(&secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .expect("client credentials");
    assert_eq!(backend_token.status().as_u16(), 200);
    server.stop().await.expect("stops");
}
