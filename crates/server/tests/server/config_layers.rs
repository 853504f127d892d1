//! Configuration layering: defaults → file → TMCP_* environment. The environment is
//! process-wide, so the test runs alone in a child process of the test binary.

use std::io::Write;
use tmcp_contract_tests::isolation::alone_in_child_process;
use tmcp_server::config::Config;

#[test]
fn file_overrides_defaults_and_environment_overrides_file() {
    // Its TMCP_* variables would reach every other test of this binary.
    if !alone_in_child_process(
        module_path!(),
        "file_overrides_defaults_and_environment_overrides_file",
    ) {
        return;
    }
    let mut file = tempfile::Builder::new()
        .suffix(".toml")
        .tempfile()
        .expect("temp file");
    writeln!(
        file,
        "listen = \"127.0.0.1:9100\"\nlog_format = \"json\"\n[maintenance]\ninterval_secs = 120"
    )
    .expect("written");
    std::env::set_var("TMCP_LOG_FORMAT", "text");
    std::env::set_var("TMCP_TEST_SOMETHING", "harness variables are not settings");
    std::env::set_var("TMCP_MAINTENANCE__PURGE_BATCH_SIZE", "42");
    // `TMCP_REDIS_URL` (a top-level key) and the `[redis]` section live side by side.
    std::env::set_var("TMCP_REDIS_URL", "redis://127.0.0.1:6399");
    std::env::set_var("TMCP_REDIS__BREAKER_OPEN_MS", "1500");
    std::env::set_var("TMCP_DB_ACQUIRE_TIMEOUT_MS", "750");
    let config = Config::load(Some(file.path())).expect("valid layered configuration");
    for name in [
        "TMCP_LOG_FORMAT",
        "TMCP_MAINTENANCE__PURGE_BATCH_SIZE",
        "TMCP_REDIS_URL",
        "TMCP_REDIS__BREAKER_OPEN_MS",
        "TMCP_DB_ACQUIRE_TIMEOUT_MS",
    ] {
        std::env::remove_var(name);
    }
    assert_eq!(config.db_acquire_timeout_ms, 750, "from the environment");
    assert_eq!(config.redis_url.as_deref(), Some("redis://127.0.0.1:6399"));
    assert_eq!(
        config.redis.breaker_open_ms, 1500,
        "[redis] from the environment"
    );
    assert_eq!(config.redis.command_timeout_ms, 250, "[redis] default kept");
    assert_eq!(config.listen, "127.0.0.1:9100", "from the file");
    assert_eq!(config.log_format, "text", "environment wins over the file");
    assert_eq!(
        config.maintenance.interval_secs, 120,
        "nested key from the file"
    );
    assert_eq!(
        config.maintenance.purge_batch_size, 42,
        "nested key from the environment"
    );
    assert_eq!(config.db_max_connections, 16, "default kept");

    let mut bad = tempfile::Builder::new()
        .suffix(".toml")
        .tempfile()
        .expect("temp file");
    writeln!(bad, "listen = \"not an address\"").expect("written");
    let error = Config::load(Some(bad.path())).expect_err("invalid listen refused");
    assert!(format!("{error:#}").contains("TMCP_LISTEN"), "{error:#}");

    let mut unknown = tempfile::Builder::new()
        .suffix(".toml")
        .tempfile()
        .expect("temp file");
    writeln!(unknown, "lisen = \"127.0.0.1:1\"").expect("written");
    assert!(
        Config::load(Some(unknown.path())).is_err(),
        "typos are refused, not ignored"
    );
}
