//! The wallet service (docs/wallet.md): payment methods, top-ups through a
//! [`PaymentProcessor`], the built-in [`sandbox`] processor, a user's balance and history, and
//! the recovery of top-ups left processing.
//!
//! - [`amounts`]: wire amounts and currencies, parsed exactly.
//! - [`methods`]: adding, listing, removing payment methods and choosing the default.
//! - [`processor`] / [`sandbox`]: the processor port and its test-mode implementation.
//! - [`top_up`]: the top-up flow (claim + insert, processor call outside any transaction,
//!   settlement + movement + reply) and [`top_up::recover_stuck`] for the recovery job.
//! - [`replies`]: the stored (and replayed) answers of a top-up.
//! - [`reads`]: balance and transactions.

pub mod amounts;
pub mod error;
pub mod methods;
pub mod processor;
pub mod reads;
pub mod replies;
pub mod sandbox;
pub mod top_up;

pub use error::WalletServiceError;
pub use processor::{ChargeOutcome, ChargeRequest, PaymentProcessor, ProcessorFailure, Processors};
pub use sandbox::SandboxProcessor;

use std::time::Duration;
use tmcp_domain::Clock;
use tmcp_repository::Database;

/// Wallet settings (`[wallet]` in the server's configuration).
#[derive(Debug, Clone)]
pub struct WalletSettings {
    /// How long one processor call may take before the top-up fails
    /// (`wallet.processor_timeout_seconds`, 10).
    pub processor_timeout: Duration,
    /// How long an idempotency key is kept (`wallet.idempotency_retention_hours`, 72).
    pub idempotency_retention: time::Duration,
    /// How long a duplicate request waits for the first one before answering 409.
    pub duplicate_wait: Duration,
    /// A top-up still processing this long after the processor timeout is recovered by the
    /// job (`wallet.recovery_margin_seconds`, 60).
    pub recovery_margin: Duration,
    /// Keys purged / top-ups recovered per batch (`wallet.batch_size`, 500).
    pub batch_size: u32,
}

impl Default for WalletSettings {
    fn default() -> Self {
        Self {
            processor_timeout: Duration::from_secs(10),
            idempotency_retention: crate::idempotency::DEFAULT_RETENTION,
            duplicate_wait: crate::idempotency::DEFAULT_WAIT,
            recovery_margin: Duration::from_secs(60),
            batch_size: 500,
        }
    }
}

/// What the wallet use cases need.
#[derive(Clone, Copy)]
pub struct WalletPorts<'a> {
    pub db: &'a dyn Database,
    pub clock: &'a dyn Clock,
    pub processors: &'a Processors,
    pub settings: &'a WalletSettings,
}
