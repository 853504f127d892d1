//! The contract suite on PostgreSQL: each scenario gets a throwaway database, migrated from
//! scratch and dropped when the scenario ends.

tmcp_contract_tests::contract_suite!(tmcp_contract_tests::engines::postgres);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ledger_rows_refuse_update_and_delete() {
    tmcp_contract_tests::wallets::append_only::postgres_refuses_ledger_changes().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn wallet_rows_are_private_to_their_user() {
    tmcp_contract_tests::wallets::append_only::postgres_wallet_rows_are_private().await;
}
