//! The contract suite on SQLite: each scenario gets its own database file.

tmcp_contract_tests::contract_suite!(tmcp_contract_tests::engines::sqlite);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ledger_rows_refuse_update_and_delete() {
    tmcp_contract_tests::wallets::append_only::sqlite_refuses_ledger_changes().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn analytics_a_pass_adds_only_the_rows_since_the_last_one() {
    let fixture = tmcp_contract_tests::engines::sqlite().await;
    tmcp_contract_tests::analytics::a_pass_adds_only_the_rows_since_the_last_one(&fixture).await;
}
