//! Background work. [`runner`] runs named periodic jobs in bounded batches with per-job
//! metrics and a clean stop; [`upkeep`] is the database upkeep (partitions, retention, TTL
//! purge, sync history); [`webhook_job`] delivers the webhook outbox through [`sender`], the
//! HTTP implementation of the use case's sending port; [`wallet_jobs`] purges idempotency
//! keys and recovers top-ups left processing; [`store_jobs`] refreshes the store's rankings.
//! The binary decides where they run: `serve` (API and jobs), `serve --no-jobs` (API only)
//! or `worker` (jobs only).

pub mod analytics_job;
pub mod payment_job;
pub mod runner;
pub mod sender;
pub mod store_jobs;
pub mod upkeep;
pub mod wallet_jobs;
pub mod webhook_job;

pub use runner::{Job, Runner, RunnerHandle};
