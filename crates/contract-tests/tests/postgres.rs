//! The contract suite on PostgreSQL: each scenario gets a throwaway database, migrated from
//! scratch, dropped when the scenario ends. The server is found through
//! `TMCP_TEST_DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432/test`).

mod pg_support;

use tmcp_contract_tests::contract_suite;

contract_suite!(pg_support::postgres);
