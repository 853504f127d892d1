//! The HTTP API's integration tests, one module per service or feature, all in one test
//! binary (one link, one process) with the shared set-up in `support`. Scenarios that touch
//! a database run on both engines (`…::sqlite::…` and `…::postgres::…`). Tests that change
//! process-wide state re-run themselves alone in a child process (see
//! `tmcp_contract_tests::isolation`).

mod support;

mod accounts;
mod analytics;
mod browser;
mod cancellation;
mod http_layer;
mod input_boundary;
mod interop;
mod oauth;
mod openapi_conformance;
mod outage;
mod payments;
mod ratelimit;
mod redis_outage;
mod storage;
mod store;
mod store_packages;
mod store_search;
mod tep;
mod wallet;
