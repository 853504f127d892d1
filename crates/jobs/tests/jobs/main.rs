//! The jobs crate's tests: the runner (metrics, clean stop) and webhook delivery end to end
//! against a real HTTP receiver on 127.0.0.1, on SQLite and PostgreSQL.

mod payments;
mod receiver;
mod runner;
mod support;
mod upkeep;
mod wallet;
mod webhooks;
mod webhooks_failures;
mod webhooks_workers;
