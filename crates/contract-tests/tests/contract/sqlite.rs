//! The contract suite on SQLite: each scenario gets its own database file.

tmcp_contract_tests::contract_suite!(tmcp_contract_tests::engines::sqlite);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ledger_rows_refuse_update_and_delete() {
    tmcp_contract_tests::wallets::append_only::sqlite_refuses_ledger_changes().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn analytics_one_run_takes_every_mark_of_a_recomputed_bucket() {
    let fixture = tmcp_contract_tests::engines::sqlite().await;
    tmcp_contract_tests::analytics::one_run_takes_every_mark_of_a_recomputed_bucket(&fixture).await;
}
