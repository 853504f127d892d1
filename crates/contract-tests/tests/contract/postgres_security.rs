//! PostgreSQL-only guarantees: row-level security on user-owned tables, the roles the server
//! really runs as, partitions and their upkeep.

use sqlx::{Executor, Row};
use time::macros::{date, datetime};
use time::Duration;
use tmcp_contract_tests::engines::fresh_database;
use tmcp_contract_tests::START;
use tmcp_domain::ids::uuid_v7_at;
use tmcp_domain::payment_state::PaymentState;
use tmcp_domain::storage::value::ValueEncoding;
use tmcp_domain::storage::{QuotaLimits, StorageKey};
use tmcp_domain::user::Role;
use tmcp_domain::{AppId, Currency, Money, PaymentId, UserId};
use tmcp_postgres::PgDatabase;
use tmcp_repository::{
    EntryWrite, NewPaymentRecord, NewUser, PaymentRepository, StorageRepository, SystemRepository,
    UserRepository, WriteContext,
};

/// Tables the design requires to be protected, plus the other user-owned ones.
const PROTECTED: [&str; 14] = [
    "user_sessions",
    "user_profiles",
    "oauth_tokens",
    "storage_entries",
    "storage_quotas",
    "storage_sync_operations",
    "storage_conflicts",
    "storage_tombstones",
    "payment_transactions",
    "payment_methods",
    "payment_ledger",
    "payment_mfa_challenges",
    "mfa_methods",
    "device_registrations",
];

async fn user(db: &PgDatabase, name: &str) -> UserId {
    let id = UserId(uuid_v7_at(*START));
    db.create_user(NewUser {
        id,
        username: name.into(),
        email: format!("{name}@example.com"),
        password_hash: "hash".into(),
        first_name: None,
        last_name: None,
        phone_ciphertext: None,
        role: Role::User,
        created_at: *START,
    })
    .await
    .expect("user created");
    id
}

/// Seeds one user's rows in several protected tables through the normal paths.
async fn seed(db: &PgDatabase, owner: UserId) {
    let app = AppId::parse("ma_rls_app").expect("app id");
    for key in ["a", "b", "c"] {
        let entry = EntryWrite::new(
            StorageKey::parse(key).expect("key"),
            b"private".to_vec(),
            ValueEncoding::Text,
        );
        let ctx = WriteContext {
            now: *START,
            limits: QuotaLimits::default(),
        };
        db.put_entry(owner, &app, entry, &ctx)
            .await
            .expect("stored");
    }
    db.insert_payment(NewPaymentRecord {
        payment_id: PaymentId(uuid_v7_at(*START)),
        user_id: owner,
        app_id: None,
        amount: Money {
            minor: 500,
            currency: Currency::parse("USD").expect("USD"),
        },
        description: None,
        status: "completed".into(),
        state: PaymentState::Completed,
        created_at: *START,
    })
    .await
    .expect("payment stored");
    sqlx::query(
        "INSERT INTO user_sessions (id, user_id, session_token, expires_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(uuid_v7_at(*START))
    .bind(owner.0)
    .bind(format!("hash-{}", owner))
    .bind(*START + Duration::hours(1))
    .execute(db.system_pool())
    .await
    .expect("session stored by the system path");
}

/// Counts rows visible to the request role with `tmcp.user_id` set to `as_user` (or unset).
async fn visible(db: &PgDatabase, table: &str, as_user: Option<UserId>) -> i64 {
    let mut tx = db.app_pool().begin().await.expect("transaction");
    if let Some(user) = as_user {
        sqlx::query("SELECT set_config('tmcp.user_id', $1, true)")
            .bind(user.to_string())
            .execute(&mut *tx)
            .await
            .expect("setting applied");
    }
    let sql = format!("SELECT count(*) FROM {table}");
    let count: i64 = sqlx::query_scalar(&sql)
        .fetch_one(&mut *tx)
        .await
        .expect("count");
    tx.rollback().await.expect("rollback");
    count
}

#[tokio::test]
async fn rows_are_invisible_without_the_owner_setting() {
    let (db, _url, _guard) = fresh_database().await;
    let alice = user(&db, "alice").await;
    let mallory = user(&db, "mallory").await;
    seed(&db, alice).await;

    for table in [
        "storage_entries",
        "storage_quotas",
        "payment_transactions",
        "user_sessions",
    ] {
        let own = visible(&db, table, Some(alice)).await;
        assert!(own > 0, "{table}: the owner sees their rows");
        assert_eq!(
            visible(&db, table, None).await,
            0,
            "{table}: no setting, no rows"
        );
        assert_eq!(
            visible(&db, table, Some(mallory)).await,
            0,
            "{table}: other user sees nothing"
        );
    }
    // The system path sees everything.
    let all: i64 = sqlx::query_scalar("SELECT count(*) FROM storage_entries")
        .fetch_one(db.system_pool())
        .await
        .expect("system count");
    assert_eq!(all, 3);
}

#[tokio::test]
async fn writes_for_another_user_are_refused() {
    let (db, _url, _guard) = fresh_database().await;
    let alice = user(&db, "alice").await;
    let mallory = user(&db, "mallory").await;
    seed(&db, alice).await;

    let mut tx = db.app_pool().begin().await.expect("transaction");
    sqlx::query("SELECT set_config('tmcp.user_id', $1, true)")
        .bind(mallory.to_string())
        .execute(&mut *tx)
        .await
        .expect("setting applied");
    let forged = sqlx::query(
        "INSERT INTO storage_entries (user_id, app_id, key, value, size, checksum) \
         VALUES ($1, 'ma_rls_app', 'forged', '\\x00', 1, 'x')",
    )
    .bind(alice.0)
    .execute(&mut *tx)
    .await;
    assert!(forged.is_err(), "WITH CHECK refuses rows for another user");
    tx.rollback().await.expect("rollback");

    let mut tx = db.app_pool().begin().await.expect("transaction");
    sqlx::query("SELECT set_config('tmcp.user_id', $1, true)")
        .bind(mallory.to_string())
        .execute(&mut *tx)
        .await
        .expect("setting applied");
    let wiped = sqlx::query("DELETE FROM storage_entries")
        .execute(&mut *tx)
        .await
        .expect("delete");
    assert_eq!(
        wiped.rows_affected(),
        0,
        "another user's rows cannot be deleted"
    );
    tx.commit().await.expect("commit");
    assert_eq!(visible(&db, "storage_entries", Some(alice)).await, 3);
}

#[tokio::test]
async fn the_request_role_is_not_privileged_and_cannot_bypass_policies() {
    let (db, _url, _guard) = fresh_database().await;
    let row = sqlx::query(
        "SELECT current_user::text AS role, r.rolsuper, r.rolbypassrls \
         FROM pg_roles r WHERE r.rolname = current_user",
    )
    .fetch_one(db.app_pool())
    .await
    .expect("role info");
    assert_eq!(row.get::<String, _>("role"), "tmcp_app");
    assert!(!row.get::<bool, _>("rolsuper") && !row.get::<bool, _>("rolbypassrls"));

    // Reading a partition directly would skip the parent's policies: it is not granted.
    let direct = db
        .app_pool()
        .execute("SELECT count(*) FROM storage_entries_p0")
        .await;
    assert!(
        direct.is_err(),
        "partitions are not directly readable by the request role"
    );

    for table in PROTECTED {
        let flags: (bool, bool) = sqlx::query_as(
            "SELECT relrowsecurity, relforcerowsecurity FROM pg_class WHERE oid = $1::regclass",
        )
        .bind(table)
        .fetch_one(db.system_pool())
        .await
        .expect("table exists");
        assert_eq!(flags, (true, true), "{table}: RLS enabled and forced");
    }
}

#[tokio::test]
async fn partitions_are_created_ahead_and_old_analytics_dropped() {
    let (db, _url, _guard) = fresh_database().await;
    let created = db
        .ensure_partitions(datetime!(2030-06-15 12:00 UTC), 2)
        .await
        .expect("upkeep");
    assert_eq!(created, 4 * 4, "four tables x (May..Aug 2030)");
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid \
         WHERE i.inhparent = 'payment_transactions'::regclass ORDER BY 1",
    )
    .fetch_all(db.system_pool())
    .await
    .expect("partition list");
    for month in ["y2030m05", "y2030m06", "y2030m07", "y2030m08"] {
        assert!(
            names.contains(&format!("payment_transactions_{month}")),
            "{names:?}"
        );
    }

    // Retention drops analytics months older than the cutoff, never payments.
    let dropped = db
        .drop_analytics_partitions_before(date!(2030 - 06 - 01))
        .await
        .expect("retention");
    assert!(
        dropped >= 3,
        "at least May 2030 of each analytics table: {dropped}"
    );
    let analytics_left: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid \
         WHERE i.inhparent = 'app_usage_analytics'::regclass AND c.relname < 'app_usage_analytics_y2030m06'",
    )
    .fetch_one(db.system_pool())
    .await
    .expect("count");
    assert_eq!(analytics_left, 0);
    let payments_may: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_class WHERE relname = 'payment_transactions_y2030m05'",
    )
    .fetch_one(db.system_pool())
    .await
    .expect("count");
    assert_eq!(
        payments_may, 1,
        "payment partitions are money history and stay"
    );
}

#[tokio::test]
async fn the_one_round_trip_read_leaves_no_user_setting_behind() {
    let (db, _url, _guard) = fresh_database().await;
    let alice = user(&db, "alice").await;
    seed(&db, alice).await;
    let mut conn = db.app_pool().acquire().await.expect("connection");
    let keys: Vec<String> =
        sqlx::query_scalar("SELECT key FROM tmcp_storage_get($1, 'ma_rls_app', 'a', $2)")
            .bind(alice.0)
            .bind(*START)
            .fetch_all(&mut *conn)
            .await
            .expect("read");
    assert_eq!(keys, ["a"]);
    // The setting lived only as long as the statement's transaction.
    let setting: Option<String> =
        sqlx::query_scalar("SELECT NULLIF(current_setting('tmcp.user_id', true), '')")
            .fetch_one(&mut *conn)
            .await
            .expect("setting");
    assert_eq!(setting, None);
    let visible: i64 = sqlx::query_scalar("SELECT count(*) FROM storage_entries")
        .fetch_one(&mut *conn)
        .await
        .expect("count");
    assert_eq!(
        visible, 0,
        "the next statement on the connection sees nothing"
    );
}

#[tokio::test]
async fn the_storage_read_function_uses_a_generic_plan() {
    let (db, _url, _guard) = fresh_database().await;
    let config: Option<Vec<String>> =
        sqlx::query_scalar("SELECT proconfig FROM pg_proc WHERE proname = 'tmcp_storage_get'")
            .fetch_one(db.system_pool())
            .await
            .expect("function exists");
    assert_eq!(
        config,
        Some(vec!["plan_cache_mode=force_generic_plan".to_owned()])
    );
}

/// The wallet API's tables (0010, 0012): the request role reads only its own user's rows and
/// writes none; money work (the system pool) writes them.
#[tokio::test]
async fn wallet_api_tables_are_own_rows_and_read_only_for_the_request_role() {
    use tmcp_domain::wallet::TopUpState;
    use tmcp_repository::{
        IdempotencyRecord, IdempotencyRepository, IdempotencyScope, NewPaymentMethod, NewTopUp,
        PaymentMethodRepository, TopUp, TopUpRepository,
    };
    let (db, _url, _guard) = fresh_database().await;
    let alice = user(&db, "alice").await;
    let mallory = user(&db, "mallory").await;
    let at = *START;
    let method = db
        .add_payment_method(NewPaymentMethod {
            id: uuid_v7_at(at),
            user_id: alice,
            method_type: "card".into(),
            provider: "sandbox".into(),
            provider_method_id: "pm_sandbox_ok-rls".into(),
            method_data: serde_json::json!({"last4": "4242"}),
            make_default: true,
            at,
        })
        .await
        .expect("method");
    let id = uuid_v7_at(at);
    let scope = IdempotencyScope {
        app_id: None,
        user_id: alice,
    };
    db.begin_top_up(&NewTopUp {
        top_up: TopUp {
            id,
            user_id: alice,
            payment_method_id: method.id,
            amount: Money {
                minor: 100,
                currency: Currency::parse("USD").expect("USD"),
            },
            state: TopUpState::Processing,
            processor: String::new(),
            provider_method_id: String::new(),
            idempotency_key: "rls".into(),
            processor_transaction_id: None,
            failure_reason: None,
            movement_id: None,
            created_at: at,
            updated_at: at,
            settled_at: None,
        },
        idempotency: IdempotencyRecord {
            scope,
            key: "rls".into(),
            operation: "top_up".into(),
            fingerprint: [0; 32],
            resource_id: id.to_string(),
            reply: None,
            created_at: at,
            expires_at: at + Duration::hours(72),
        },
    })
    .await
    .expect("top-up begun");
    for table in ["idempotency_keys", "wallet_top_ups", "payment_methods"] {
        assert_eq!(
            visible(&db, table, Some(alice)).await,
            1,
            "{table}: own row"
        );
        assert_eq!(
            visible(&db, table, Some(mallory)).await,
            0,
            "{table}: not another's"
        );
        assert_eq!(
            visible(&db, table, None).await,
            0,
            "{table}: no setting, no rows"
        );
    }
    for statement in [
        "UPDATE idempotency_keys SET reply_status = 200, reply_body = '{}'",
        "DELETE FROM idempotency_keys",
        "UPDATE wallet_top_ups SET state = 'failed', failure_reason = 'x', settled_at = now()",
    ] {
        let mut tx = db.app_pool().begin().await.expect("transaction");
        sqlx::query("SELECT set_config('tmcp.user_id', $1, true)")
            .bind(alice.to_string())
            .execute(&mut *tx)
            .await
            .expect("setting applied");
        let refused = tx.execute(statement).await;
        assert!(
            refused.is_err(),
            "{statement}: the request role may not write"
        );
        tx.rollback().await.expect("rollback");
    }
    let _ = db
        .idempotency_record(
            &IdempotencyScope {
                app_id: None,
                user_id: alice,
            },
            "rls",
        )
        .await
        .expect("the system path reads it")
        .expect("kept");
}
