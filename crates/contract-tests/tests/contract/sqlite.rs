//! The contract suite on SQLite: each scenario gets its own database file.

tmcp_contract_tests::contract_suite!(tmcp_contract_tests::engines::sqlite);
