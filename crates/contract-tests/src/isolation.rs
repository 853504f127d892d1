//! One test alone in a fresh process of its test binary. Each crate's integration tests
//! share one binary, so a test that changes process-wide state (environment variables, the
//! global metrics recorder's gauges, the global tracing subscriber and the counts it keeps)
//! would otherwise disturb, or be disturbed by, the tests running next to it.

use std::process::Command;

/// Set in the child process to the name of the one test it runs.
const ALONE: &str = "TMCP_TEST_ALONE";

/// Call first in such a test, with `module_path!()` and the test function's name.
///
/// In the ordinary run it starts the test binary again with only this test selected, waits
/// for it, fails if it failed (or did not run), and returns `false`: the caller returns at
/// once. In that child process it returns `true`: the caller runs its body.
#[must_use]
pub fn alone_in_child_process(module_path: &str, test: &str) -> bool {
    // `module_path!()` starts with the test binary's crate name; libtest's names do not.
    let name = match module_path.split_once("::") {
        Some((_, path)) => format!("{path}::{test}"),
        None => test.to_owned(),
    };
    if std::env::var(ALONE).is_ok_and(|running| running == name) {
        return true;
    }
    let binary = std::env::current_exe().expect("the test binary's path");
    let output = Command::new(binary)
        .args([name.as_str(), "--exact", "--test-threads=1", "--nocapture"])
        .env(ALONE, &name)
        .output()
        .expect("the test binary starts again");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let ran_and_passed = stdout
        .lines()
        .any(|line| line.starts_with("test result: ok. 1 passed"));
    assert!(
        output.status.success() && ran_and_passed,
        "{name} failed in its own process ({}):\n{}",
        output.status,
        indented(&stdout, &String::from_utf8_lossy(&output.stderr))
    );
    false
}

/// The child's output, indented so that scripts reading the parent's summary lines (`test
/// result: …`, `test … FAILED`) do not count the child's too.
fn indented(stdout: &str, stderr: &str) -> String {
    stdout
        .lines()
        .chain(stderr.lines())
        .map(|line| format!("  | {line}\n"))
        .collect()
}
