//! The binary's webhook and jobs commands: `admin create-client --webhook-url` prints the
//! secret once and refuses a bad URL before creating anything, `admin rotate-webhook-secret`
//! and `admin redeliver-webhook`; `worker` and `serve --no-jobs` run and stop on SIGTERM.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn run(data_dir: &Path, args: &[&str], allow_private: bool) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tmcp-server"));
    command
        .args(args)
        .env("TMCP_DATA_DIR", data_dir)
        .env_remove("TMCP_DATABASE_URL")
        .env_remove("TMCP_CONFIG")
        .stdin(Stdio::null());
    if allow_private {
        command.env("TMCP_WEBHOOKS__ALLOW_PRIVATE_TARGETS", "true");
    } else {
        command.env_remove("TMCP_WEBHOOKS__ALLOW_PRIVATE_TARGETS");
    }
    command.output().expect("binary runs")
}

fn json(output: &Output) -> serde_json::Value {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("JSON on stdout")
}

#[test]
fn webhook_admin_commands_print_secrets_once_and_refuse_bad_urls() {
    let dir = tempfile::tempdir().expect("tempdir");
    let create = [
        "admin",
        "create-client",
        "--client-id",
        "ma_hookdemo",
        "--name",
        "Hook demo",
        "--scopes",
        "storage:read",
        "--webhook-url",
        "http://127.0.0.1:9/hook",
    ];
    // Private targets are refused by default, before the client exists.
    let refused = run(dir.path(), &create, false);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--webhook-url"));

    let created = json(&run(dir.path(), &create, true));
    let secret = created["webhook_secret"].as_str().expect("secret printed");
    assert!(secret.starts_with("whsec_"), "{created}");
    assert_eq!(created["client_id"], "ma_hookdemo");

    let rotated = json(&run(
        dir.path(),
        &[
            "admin",
            "rotate-webhook-secret",
            "--client-id",
            "ma_hookdemo",
        ],
        true,
    ));
    let new_secret = rotated["webhook_secret"].as_str().expect("new secret");
    assert!(new_secret.starts_with("whsec_"));
    assert_ne!(new_secret, secret);
    assert!(rotated["previous_secret_signs_until"].is_string());

    let unknown = run(
        dir.path(),
        &[
            "admin",
            "redeliver-webhook",
            "--event-id",
            "0192f3a0-0000-7000-8000-000000000000",
        ],
        true,
    );
    assert!(!unknown.status.success());
    let no_log = run(
        dir.path(),
        &[
            "admin",
            "webhook-log",
            "--event-id",
            "0192f3a0-0000-7000-8000-000000000000",
        ],
        true,
    );
    assert!(!no_log.status.success());
    assert!(String::from_utf8_lossy(&no_log.stderr).contains("no webhook event"));
    let unknown_client = run(
        dir.path(),
        &["admin", "rotate-webhook-secret", "--client-id", "ma_nobody"],
        true,
    );
    assert!(!unknown_client.status.success());
}

/// Starts the binary, lets it run (calling `check` meanwhile), sends SIGTERM and expects a
/// clean exit.
fn runs_and_stops_on_sigterm(args: &[&str], check: impl FnOnce()) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut child = Command::new(env!("CARGO_BIN_EXE_tmcp-server"))
        .args(args)
        .env("TMCP_DATA_DIR", dir.path())
        .env("TMCP_LISTEN", "127.0.0.1:0")
        .env_remove("TMCP_DATABASE_URL")
        .env_remove("TMCP_CONFIG")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("binary starts");
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        child.try_wait().expect("status").is_none(),
        "{args:?} keeps running"
    );
    check();
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(killed.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(status) = child.try_wait().expect("status") {
            assert!(status.success(), "{args:?} exits cleanly: {status}");
            return;
        }
        assert!(Instant::now() < deadline, "{args:?} stops after SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn worker_runs_jobs_and_serves_their_metrics_until_sigterm() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let listen = format!("127.0.0.1:{port}");
    runs_and_stops_on_sigterm(&["worker", "--metrics-listen", &listen], || {
        let runtime = tokio::runtime::Runtime::new().expect("runtime");
        // The metrics listener opens once the database is ready; give a slow start time.
        let text = runtime.block_on(async {
            let deadline = Instant::now() + Duration::from_secs(20);
            loop {
                let answer = reqwest::get(format!("http://{listen}/metrics")).await;
                if let Ok(response) = answer {
                    break response.text().await.expect("metrics text");
                }
                assert!(Instant::now() < deadline, "worker metrics are served");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        });
        assert!(
            text.contains("tmcp_job_runs_total{job=\"webhook_delivery\"}"),
            "{text}"
        );
        assert!(
            text.contains("tmcp_job_runs_total{job=\"storage_expiry\"}"),
            "{text}"
        );
    });
}

#[test]
fn serve_without_jobs_runs_until_sigterm() {
    runs_and_stops_on_sigterm(&["serve", "--no-jobs"], || {});
}
