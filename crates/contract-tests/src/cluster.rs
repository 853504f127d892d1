//! A private PostgreSQL cluster for outage tests: created with `initdb` in a temporary
//! directory, served on a free port of its own, and stopped and started again at will. The
//! shared server on 5432 is never touched, so a test can kill "the database" without hurting
//! anyone else's tests.
//!
//! The server binaries come from `TMCP_TEST_PG_BIN` (a directory holding `initdb` and
//! `pg_ctl`), else the newest `/usr/lib/postgresql/<version>/bin` (Debian, Ubuntu), else the
//! `PATH`. `initdb` refuses to run as root, so when the tests run as root every command runs
//! as the `postgres` user through `runuser`, and the directory is handed to that user.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use tempfile::TempDir;

/// The account that owns the cluster when the tests run as root.
const SERVICE_USER: &str = "postgres";

/// One running (or stopped) cluster; dropping it stops the server and removes its files.
pub struct PrivateCluster {
    bin: PathBuf,
    dir: TempDir,
    port: u16,
    as_service_user: bool,
}

impl PrivateCluster {
    /// Creates a cluster and starts it on a free port. `None`, with a message on stderr, when
    /// no PostgreSQL server binaries are installed: the caller should skip its test. Any
    /// other failure panics with the server's own output.
    pub async fn start() -> Option<Self> {
        let Some(bin) = server_binaries() else {
            eprintln!(
                "SKIPPED: no PostgreSQL server binaries (initdb, pg_ctl) found; install the \
                 postgresql package or point TMCP_TEST_PG_BIN at their directory"
            );
            return None;
        };
        let dir = tempfile::Builder::new()
            .prefix("tmcp-pg-")
            .tempdir()
            .expect("temporary directory for the cluster");
        let as_service_user = std::fs::metadata(dir.path())
            .expect("metadata of the temporary directory")
            .uid()
            == 0;
        if as_service_user {
            let owner = format!("{SERVICE_USER}:");
            let handed = Command::new("chown")
                .arg(&owner)
                .arg(dir.path())
                .output()
                .expect("chown runs");
            check(&handed, "chown of the cluster directory to postgres");
        }
        let cluster = Self {
            bin,
            dir,
            port: free_port(),
            as_service_user,
        };
        let data = cluster.data_dir();
        let created = cluster
            .command("initdb")
            .arg("-D")
            .arg(&data)
            .args([
                "--username=postgres",
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",
            ])
            .output()
            .await
            .expect("initdb runs");
        check(&created, "initdb");
        cluster.resume().await;
        Some(cluster)
    }

    /// Connection URL of the cluster's `postgres` database as the superuser `postgres`.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Kills the server the way a crash or a power cut would (`pg_ctl stop -m immediate`):
    /// open connections break, new ones are refused. Returns once the server is gone.
    pub async fn stop(&self) {
        let stopped = self
            .command("pg_ctl")
            .arg("-D")
            .arg(self.data_dir())
            .args(["-m", "immediate", "-w", "stop"])
            .output()
            .await
            .expect("pg_ctl stop runs");
        check(&stopped, "pg_ctl stop");
    }

    /// Starts the (stopped) server again on the same port and data; returns once it accepts
    /// connections.
    pub async fn resume(&self) {
        // fsync=off is safe because only the server dies, never the machine; commits must
        // still be synchronous, or an immediate stop loses the last acknowledged ones (WAL
        // still in shared buffers) and the data after a restart would differ.
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off \
             -c full_page_writes=off -c shared_buffers=16MB",
            self.port,
            self.dir.path().display()
        );
        // The server outlives pg_ctl: its output goes to the log file, never to pipes the
        // test would wait on.
        let started = self
            .command("pg_ctl")
            .arg("-D")
            .arg(self.data_dir())
            .arg("-l")
            .arg(self.log_file())
            .args(["-w", "-t", "60", "-o", &options, "start"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .await
            .expect("pg_ctl start runs");
        if !started.success() {
            let log = std::fs::read_to_string(self.log_file()).unwrap_or_default();
            panic!("pg_ctl start failed ({started}); server log:\n{log}");
        }
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn log_file(&self) -> PathBuf {
        self.dir.path().join("server.log")
    }

    fn command(&self, program: &str) -> tokio::process::Command {
        tokio::process::Command::from(self.std_command(program))
    }

    fn std_command(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        if self.as_service_user {
            let mut command = Command::new("runuser");
            command.args(["-u", SERVICE_USER, "--"]).arg(path);
            command
        } else {
            Command::new(path)
        }
    }
}

impl Drop for PrivateCluster {
    fn drop(&mut self) {
        // Blocking is fine here: the server is killed, not shut down politely. A cluster that
        // is already stopped makes pg_ctl fail, which is ignored.
        let _ = self
            .std_command("pg_ctl")
            .arg("-D")
            .arg(self.data_dir())
            .args(["-m", "immediate", "-w", "stop"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// A port nobody listens on right now (the OS picks it; the listener is closed again).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("a free local port")
}

fn server_binaries() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("TMCP_TEST_PG_BIN") {
        let dir = PathBuf::from(dir);
        assert!(
            has_server_binaries(&dir),
            "TMCP_TEST_PG_BIN={} holds no initdb and pg_ctl",
            dir.display()
        );
        return Some(dir);
    }
    let mut versioned: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse::<u32>().ok()?;
            Some((version, entry.path().join("bin")))
        })
        .filter(|(_, bin)| has_server_binaries(bin))
        .collect();
    versioned.sort();
    if let Some((_, bin)) = versioned.pop() {
        return Some(bin);
    }
    std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .find(|dir| has_server_binaries(dir))
}

fn has_server_binaries(dir: &Path) -> bool {
    dir.join("initdb").is_file() && dir.join("pg_ctl").is_file()
}

fn check(output: &Output, what: &str) {
    assert!(
        output.status.success(),
        "{what} failed ({}):\n{}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
