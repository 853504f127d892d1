//! `admin ledger-check` through the real binary: a clean ledger prints `clean: true` and
//! exits 0 on both engines; a balance changed behind the ledger's back is reported and the
//! command exits 3, so an operator's probe can alert on the status alone.

use rand::SeedableRng;
use sqlx::{Connection, Executor, PgConnection};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use tmcp_contract_tests::engines::fresh_database;
use tmcp_domain::ids::uuid_v7_at;
use tmcp_domain::wallet::{EntryType, MovementBuilder, WalletAccountId};
use tmcp_domain::{Clock, SystemClock};
use tmcp_domain::{Currency, Money};
use tmcp_repository::{LedgerRepository, NewWalletAccount, WalletOwner};

fn ledger_check(data_dir: &Path, database_url: Option<&str>) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tmcp-server"));
    command
        .args(["admin", "ledger-check"])
        .env("TMCP_DATA_DIR", data_dir)
        .env_remove("TMCP_CONFIG")
        .stdin(Stdio::null());
    match database_url {
        Some(url) => command.env("TMCP_DATABASE_URL", url),
        None => command.env_remove("TMCP_DATABASE_URL"),
    };
    command.output().expect("binary runs")
}

fn report(output: &Output) -> serde_json::Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "JSON report on stdout ({e}): {}",
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

/// Funds the platform account from clearing: one balanced movement of 12.34 USD.
async fn one_movement(ledger: &dyn LedgerRepository) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let at = SystemClock.now();
    let usd = Currency::parse("USD").expect("USD");
    let mut open = |owner| NewWalletAccount {
        id: WalletAccountId::generate(&mut rng),
        owner,
        currency: usd,
        at,
    };
    let clearing = open(WalletOwner::Clearing);
    let platform = open(WalletOwner::Platform);
    let clearing = ledger
        .open_wallet_account(clearing)
        .await
        .expect("clearing");
    let platform = ledger
        .open_wallet_account(platform)
        .await
        .expect("platform");
    let amount = Money {
        minor: 1234,
        currency: usd,
    };
    let movement = MovementBuilder::new(EntryType::Adjustment)
        .debit(clearing.id, amount)
        .credit(platform.id, amount)
        .build(uuid_v7_at(at))
        .expect("balanced");
    ledger.post_movement(&movement, at).await.expect("posted");
}

#[tokio::test]
async fn ledger_check_is_clean_on_a_balanced_sqlite_ledger() {
    let dir = tempfile::tempdir().expect("tempdir");
    let empty = ledger_check(dir.path(), None);
    assert!(empty.status.success(), "{empty:?}");
    assert_eq!(report(&empty)["clean"], true);

    let url = format!("sqlite://{}", dir.path().join("tmcp.db").display());
    let db = tmcp_sqlite::SqliteDatabase::connect(&url)
        .await
        .expect("the binary's database opens");
    one_movement(&db).await;
    drop(db);

    let checked = ledger_check(dir.path(), None);
    assert!(checked.status.success(), "{checked:?}");
    let body = report(&checked);
    assert_eq!(body["clean"], true, "{body}");
    assert_eq!(body["movements"], 1);
    assert_eq!(body["entries"], 2);
}

#[tokio::test]
async fn ledger_check_reports_a_tampered_postgres_balance_and_exits_3() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (db, url, _guard) = fresh_database().await;
    one_movement(&db).await;
    drop(db);

    let clean = ledger_check(dir.path(), Some(&url));
    assert!(clean.status.success(), "{clean:?}");
    assert_eq!(report(&clean)["clean"], true);

    // A balance written behind the ledger's back (as a faulty tool or a bad manual fix
    // would) no longer equals the sum of the account's entries.
    let mut conn = PgConnection::connect(&url).await.expect("connect");
    conn.execute("UPDATE wallet_accounts SET balance = balance + 1 WHERE kind = 'platform'")
        .await
        .expect("tamper");
    conn.close().await.expect("close");

    let dirty = ledger_check(dir.path(), Some(&url));
    assert_eq!(dirty.status.code(), Some(3), "{dirty:?}");
    let body = report(&dirty);
    assert_eq!(body["clean"], false);
    assert!(
        !body["findings"].as_array().expect("findings").is_empty(),
        "{body}"
    );
}
