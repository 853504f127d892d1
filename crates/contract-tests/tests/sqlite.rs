//! The contract suite on SQLite: each scenario gets its own database file.

use std::sync::Arc;
use tmcp_contract_tests::{contract_suite, Fixture, START};
use tmcp_domain::ManualClock;
use tmcp_sqlite::SqliteDatabase;

async fn sqlite() -> Fixture {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("contract.db");
    let db = SqliteDatabase::connect(&path.to_string_lossy()).await.expect("SQLite opens and migrates");
    Fixture { db: Arc::new(db), clock: ManualClock::new(START), _guard: Box::new(dir) }
}

contract_suite!(sqlite);
