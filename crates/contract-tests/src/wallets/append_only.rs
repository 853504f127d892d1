//! The database itself refuses to change or remove ledger rows and resolved holds, whatever
//! the code above it does: PostgreSQL by trigger (even for the owner) and by revoked grants
//! (for the roles the server runs as), SQLite by `RAISE(ABORT)` triggers. On PostgreSQL the
//! request role also sees only its own user's wallet rows and cannot write any.

use super::{money, top_up, user_wallet};
use crate::fixtures::FixtureClock;
use crate::{engines, Fixture, START};
use sqlx::{Connection, Executor};
use std::sync::Arc;
use tmcp_domain::ids::uuid_v7_at;
use tmcp_domain::ManualClock;
use tmcp_repository::NewHold;

/// Funds a wallet and resolves one hold, so there are entries and a resolved hold to tamper
/// with.
async fn seed(fixture: &Fixture) {
    let wallet = user_wallet(fixture, "tamper").await;
    top_up(fixture, &wallet.id, 1000).await;
    let at = fixture.clock.now_for_fixtures();
    let hold = fixture
        .db
        .place_hold(NewHold {
            id: uuid_v7_at(at),
            account: wallet.id.clone(),
            amount: money(100),
            payment_id: None,
            at,
        })
        .await
        .expect("hold placed");
    fixture
        .db
        .release_hold(hold.id, at)
        .await
        .expect("hold released");
}

const TAMPERING: [&str; 5] = [
    "UPDATE wallet_entries SET amount = amount + 1",
    "UPDATE wallet_entries SET balance_after = 0",
    "DELETE FROM wallet_entries",
    "UPDATE wallet_holds SET state = 'held', resolved_at = NULL",
    "DELETE FROM wallet_holds",
];

pub async fn postgres_refuses_ledger_changes() {
    let (db, url, guard) = engines::fresh_database().await;
    let system = db.system_pool().clone();
    let fixture = Fixture {
        db: Arc::new(db),
        clock: ManualClock::new(*START),
        _guard: Box::new(guard),
    };
    seed(&fixture).await;
    // The owner (a superuser here) is stopped by the triggers.
    let mut owner = sqlx::PgConnection::connect(&url)
        .await
        .expect("owner connects");
    for sql in TAMPERING {
        let refused = owner.execute(sql).await;
        assert!(refused.is_err(), "owner: {sql} was accepted");
    }
    let truncate = owner.execute("TRUNCATE wallet_entries CASCADE").await;
    assert!(truncate.is_err(), "owner: TRUNCATE was accepted");
    // The role that moves money may not even try.
    for sql in TAMPERING {
        let error = system.execute(sql).await.expect_err(sql);
        let denied = error
            .as_database_error()
            .and_then(|e| e.code())
            .is_some_and(|code| code == "42501" || code == "23001");
        assert!(denied, "tmcp_system: {sql}: {error}");
    }
    super::assert_ledger_clean(&fixture).await;
}

pub async fn sqlite_refuses_ledger_changes() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("wallets.db").to_string_lossy().into_owned();
    let db = tmcp_sqlite::SqliteDatabase::connect(&path)
        .await
        .expect("SQLite opens and migrates");
    let fixture = Fixture {
        db: Arc::new(db),
        clock: ManualClock::new(*START),
        _guard: Box::new(dir),
    };
    seed(&fixture).await;
    let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{path}"))
        .await
        .expect("second connection");
    for sql in TAMPERING {
        let refused = conn.execute(sql).await;
        assert!(refused.is_err(), "{sql} was accepted");
    }
    conn.close().await.expect("closed");
    super::assert_ledger_clean(&fixture).await;
}

/// Rows the request role (`tmcp_app`) sees with `tmcp.user_id` set to `user` (or unset).
async fn visible_to(pool: &sqlx::PgPool, table: &str, user: Option<uuid::Uuid>) -> i64 {
    let mut tx = pool.begin().await.expect("transaction");
    if let Some(user) = user {
        sqlx::query("SELECT set_config('tmcp.user_id', $1, true)")
            .bind(user.to_string())
            .execute(&mut *tx)
            .await
            .expect("setting applied");
    }
    let count: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM {table}"))
        .fetch_one(&mut *tx)
        .await
        .expect("count");
    tx.rollback().await.expect("rollback");
    count
}

pub async fn postgres_wallet_rows_are_private() {
    let (db, _url, guard) = engines::fresh_database().await;
    let (app, system) = (db.app_pool().clone(), db.system_pool().clone());
    let fixture = Fixture {
        db: Arc::new(db),
        clock: ManualClock::new(*START),
        _guard: Box::new(guard),
    };
    seed(&fixture).await;
    let owner = crate::fixtures::user(&fixture, "owner").await.id;
    let wallet = super::open(&fixture, tmcp_repository::WalletOwner::User(owner)).await;
    top_up(&fixture, &wallet.id, 10).await;
    let mallory = crate::fixtures::user(&fixture, "mallory").await.id;
    for (table, own) in [
        ("wallet_accounts", 1),
        ("wallet_entries", 1),
        ("wallet_holds", 0),
    ] {
        assert_eq!(visible_to(&app, table, Some(owner.0)).await, own, "{table}");
        assert_eq!(visible_to(&app, table, Some(mallory.0)).await, 0, "{table}");
        assert_eq!(visible_to(&app, table, None).await, 0, "{table}");
    }
    let all: i64 = sqlx::query_scalar("SELECT count(*) FROM wallet_accounts")
        .fetch_one(&system)
        .await
        .expect("system count");
    assert_eq!(
        all, 3,
        "tamper's and owner's wallets and the clearing account"
    );
    // The request role cannot move money, even its own.
    for sql in [
        "UPDATE wallet_accounts SET balance = balance + 100",
        "INSERT INTO wallet_holds (id, account_id, amount, state, created_at) \
         SELECT gen_random_uuid(), id, 1, 'held', now() FROM wallet_accounts",
    ] {
        let mut tx = app.begin().await.expect("transaction");
        sqlx::query("SELECT set_config('tmcp.user_id', $1, true)")
            .bind(owner.to_string())
            .execute(&mut *tx)
            .await
            .expect("setting applied");
        let error = tx.execute(sql).await.expect_err(sql);
        let code = error.as_database_error().and_then(|e| e.code());
        assert_eq!(code.as_deref(), Some("42501"), "{sql}: {error}");
    }
}
