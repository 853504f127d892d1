//! The server crate's integration tests (configuration, startup and shutdown, connections,
//! outages, the admin and webhook commands, `worker`, the package store), all in one test
//! binary. `raw_http` is a small HTTP/1.1 client shared by the connection tests. Tests that
//! change process-wide state re-run themselves alone in a child process (see
//! `tmcp_contract_tests::isolation`).

mod raw_http;

mod admin;
mod config_layers;
mod connections;
mod db_outage;
mod descriptors;
mod ledger_admin;
mod lifecycle;
mod maintenance;
mod oauth_admin;
mod oversize_heads;
mod package_store;
mod payment_crash;
mod redis_outage;
mod replica;
mod webhooks_admin;
