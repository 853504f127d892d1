//! `admin ledger-check`: the operator's audit of the books. It re-derives every ledger
//! invariant from one consistent snapshot (see `tmcp_repository::ledger_check`) and prints
//! the report as JSON; any finding makes the command exit with [`FINDINGS_EXIT_CODE`], so a
//! cron job or a monitoring probe can alert on the exit status alone.

use crate::{config::Config, database};
use serde_json::{json, Value};
use tmcp_repository::{ledger_check, Database, LedgerReport};

/// Exit status when the check ran and found violations (1 means it could not run).
pub const FINDINGS_EXIT_CODE: u8 = 3;

/// The check ran and the books do not balance; the report has been printed already.
#[derive(Debug, thiserror::Error)]
#[error("the ledger check found {0} violation(s)")]
pub struct LedgerViolations(pub usize);

pub fn report_json(report: &LedgerReport) -> Value {
    json!({
        "clean": report.is_clean(),
        "accounts": report.accounts,
        "movements": report.movements,
        "entries": report.entries,
        "holds": report.holds,
        "findings": report.findings,
    })
}

pub async fn check(db: &dyn Database) -> anyhow::Result<LedgerReport> {
    Ok(ledger_check(db).await?)
}

/// Prints the report; `Err(LedgerViolations)` when it is not clean.
pub async fn run_ledger_check(config: &Config) -> anyhow::Result<()> {
    let db = database::open(config).await?;
    let report = check(db.as_ref()).await?;
    println!("{}", report_json(&report));
    if report.is_clean() {
        Ok(())
    } else {
        Err(LedgerViolations(report.findings.len()).into())
    }
}
