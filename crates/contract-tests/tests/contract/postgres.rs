//! The contract suite on PostgreSQL: each scenario gets a throwaway database, migrated from
//! scratch and dropped when the scenario ends.

tmcp_contract_tests::contract_suite!(tmcp_contract_tests::engines::postgres);
