//! The `tmcp-server` binary's wiring: configuration, engine choice, background upkeep,
//! backup/restore and the HTTP server. Only this crate knows which database is in use.

pub mod admin;
pub mod backup;
pub mod bench_ceiling;
pub mod config;
pub mod database;
pub mod jobs;
pub mod ledger_admin;
pub mod maintenance;
pub mod oauth_admin;
pub mod packages;
pub mod secrets;
pub mod serve;
pub mod telemetry;
pub mod webhook_admin;

pub use config::Config;
