//! Repository work dropped at random points on both engines (a client hanging up makes the
//! server drop its request future wherever it is): no unit of work is ever half applied, the
//! quota stays equal to the stored rows, and on PostgreSQL no pooled session is left inside
//! a transaction, so PostgreSQL never warns about transaction state.

use sqlx::Connection;
use std::sync::Arc;
use tmcp_contract_tests::cancellation::{
    assert_whole, idle_in_transaction, storm, transaction_warnings,
};
use tmcp_contract_tests::engines::{admin_url, fresh_database, sqlite};
use tmcp_contract_tests::isolation::alone_in_child_process;
use tmcp_contract_tests::{Fixture, START};
use tmcp_domain::ManualClock;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_dropped_units_leave_no_transaction_behind() {
    // The warning count is process-wide: no other test may add to it.
    if !alone_in_child_process(
        module_path!(),
        "postgres_dropped_units_leave_no_transaction_behind",
    ) {
        return;
    }
    let warnings_before = transaction_warnings();
    let (db, _url, guard) = fresh_database().await;
    let database = guard.name.clone();
    let fixture = Fixture {
        db: Arc::new(db),
        clock: ManualClock::new(*START),
        _guard: Box::new(guard),
    };
    let (user, app, batches) = storm(&fixture, 6, 80).await;
    let open = idle_in_transaction(&database).await;
    assert!(
        open.is_empty(),
        "pooled sessions left in a transaction: {open:#?}"
    );
    assert_whole(&fixture, user, &app, &batches).await;
    assert_eq!(
        transaction_warnings() - warnings_before,
        0,
        "PostgreSQL warned about transaction state (a session reused mid-transaction)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_dropped_units_leave_no_transaction_behind() {
    let fixture = sqlite().await;
    let (user, app, batches) = storm(&fixture, 6, 80).await;
    assert_whole(&fixture, user, &app, &batches).await;
}

/// The pools' last check: a connection released while sqlx still counts a transaction on it
/// (one leaked instead of ended or dropped) is closed, not handed to the next request.
#[tokio::test]
async fn postgres_connection_released_inside_a_transaction_is_not_pooled() {
    let (db, _url, guard) = fresh_database().await;
    let mut conn = db.app_pool().acquire().await.expect("connection");
    let pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(&mut *conn)
        .await
        .expect("pid");
    let leaked = (*conn).begin().await.expect("begin");
    std::mem::forget(leaked);
    drop(conn);
    let open = idle_in_transaction(&guard.name).await;
    assert!(
        open.is_empty(),
        "session pooled inside a transaction: {open:#?}"
    );
    let mut admin = sqlx::PgConnection::connect(&admin_url())
        .await
        .expect("admin");
    let mut alive = true;
    for _ in 0..30 {
        alive = sqlx::query_scalar::<_, bool>(
            "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = $1)",
        )
        .bind(pid)
        .fetch_one(&mut admin)
        .await
        .expect("pg_stat_activity readable");
        if !alive {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(!alive, "the session of the leaked transaction was closed");
}
