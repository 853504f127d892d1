//! The server binary under a small open files limit: the connection cap follows the limit,
//! and when descriptors run out anyway the accept loop backs off instead of spinning, then
//! serves again once connections close. Linux only (`/proc`, `prlimit` from util-linux).
#![cfg(target_os = "linux")]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// The binary's stderr log lines, read on a thread.
fn log_lines(child: &mut Child) -> mpsc::Receiver<String> {
    let stderr = child.stderr.take().expect("stderr piped");
    let (send, receive) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if send.send(line).is_err() {
                break;
            }
        }
    });
    receive
}

/// The first line containing each of `needles`, in that order, whatever order the lines
/// came in.
fn wait_for_lines(
    lines: &mpsc::Receiver<String>,
    needles: &[&str],
    within: Duration,
) -> Vec<String> {
    let deadline = std::time::Instant::now() + within;
    let mut found: Vec<Option<String>> = vec![None; needles.len()];
    while found.iter().any(Option::is_none) {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        let Ok(line) = lines.recv_timeout(left) else {
            panic!("no log lines containing each of {needles:?} within {within:?}");
        };
        for (needle, slot) in needles.iter().zip(found.iter_mut()) {
            if slot.is_none() && line.contains(needle) {
                *slot = Some(line.clone());
            }
        }
    }
    found.into_iter().flatten().collect()
}

/// User plus system CPU time of a process, in clock ticks.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("stat");
    // Fields after the command name, which is in parentheses and may contain spaces.
    let after = stat.rsplit_once(") ").expect("stat format").1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line: 12th and 13th after it.
    let utime: u64 = fields[11].parse().expect("utime");
    let stime: u64 = fields[12].parse().expect("stime");
    utime + stime
}

fn ticks_per_second() -> u64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .and_then(|text| text.trim().parse().ok())
        .unwrap_or(100)
}

fn set_open_files_limit(pid: u32, limit: u32) {
    let status = Command::new("prlimit")
        .arg(format!("--pid={pid}"))
        .arg(format!("--nofile={limit}:{limit}"))
        .status()
        .expect("prlimit (util-linux) is installed");
    assert!(status.success(), "prlimit failed");
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn running_out_of_descriptors_neither_spins_nor_stops_the_server() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut command = Command::new("prlimit");
    command
        .arg("--nofile=256:256")
        .arg("--")
        .arg(env!("CARGO_BIN_EXE_tmcp-server"))
        .arg("serve")
        .env_remove("TMCP_DATABASE_URL")
        .env_remove("TMCP_REDIS_URL")
        .env("TMCP_DATA_DIR", dir.path())
        .env("TMCP_LISTEN", "127.0.0.1:0")
        .env("TMCP_LOG_FORMAT", "json")
        .env("TMCP_LOG_LEVEL", "info")
        .env("TMCP_HTTP__MAX_CONNECTIONS", "1000")
        .env("TMCP_HTTP__HEADER_READ_TIMEOUT_SECS", "60")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = command
        .spawn()
        .expect("prlimit (util-linux) runs the server");
    let lines = log_lines(&mut child);
    let child = Killed(child);
    let pid = child.0.id();

    // The configured cap is lowered to leave descriptors for everything else.
    let started = wait_for_lines(
        &lines,
        &["max_connections lowered", "TMCP server listening"],
        Duration::from_secs(60),
    );
    let (lowered, listening) = (&started[0], &started[1]);
    assert!(lowered.contains("\"effective\":192"), "{lowered}");
    let line: serde_json::Value = serde_json::from_str(listening).expect("json log line");
    let addr: SocketAddr = line["addr"]
        .as_str()
        .expect("addr field")
        .parse()
        .expect("address");

    // Descriptors consumed elsewhere (say, a growing database pool) leave less room than
    // the cap assumed: lower the limit under the running server.
    set_open_files_limit(pid, 40);
    let mut held = Vec::new();
    for _ in 0..60 {
        held.push(crate::raw_http::connect(addr).await);
    }
    wait_for_lines(
        &lines,
        &["cannot accept connections"],
        Duration::from_secs(10),
    );

    // While the backlog stays full and accept keeps failing, the server idles.
    let ticks = ticks_per_second();
    let before = cpu_ticks(pid);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let used = cpu_ticks(pid) - before;
    assert!(
        used * 10 < 3 * ticks * 2,
        "the server used {used} ticks of CPU in 3 s ({ticks}/s): it spins"
    );

    // Once the clients go away the server accepts and answers again.
    drop(held);
    let answer = tokio::time::timeout(
        Duration::from_secs(10),
        crate::raw_http::exchange(addr, &crate::raw_http::get("/health", "")),
    )
    .await
    .expect("answered after the connections closed");
    assert_eq!(answer.status, 200);
    drop(child);
}
