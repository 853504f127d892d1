//! The payment processor port: what a top-up asks of the outside world. A processor is
//! chosen by the payment method's `provider`. Our top-up id is the processor's idempotency
//! key, so asking again (a retry, the recovery job) never charges twice.

use async_trait::async_trait;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tmcp_domain::Money;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChargeRequest {
    /// Our top-up id: the same key always names the same charge.
    pub idempotency_key: String,
    pub amount: Money,
    /// The provider's token of the payment method.
    pub provider_method_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChargeOutcome {
    Approved {
        processor_transaction_id: String,
    },
    /// The card or account refused (e.g. `insufficient_funds`, `card_declined`).
    Declined {
        reason: String,
    },
    /// No answer: the money did not move as far as we know.
    Failed(ProcessorFailure),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProcessorFailure {
    /// No answer within `wallet.processor_timeout_seconds`.
    Timeout,
    /// The processor could not be reached or answered with an error.
    Unavailable,
}

impl ProcessorFailure {
    /// The `failure_reason` stored on the top-up.
    pub fn reason(self) -> &'static str {
        match self {
            Self::Timeout => "processor_timeout",
            Self::Unavailable => "processor_unavailable",
        }
    }
}

#[async_trait]
pub trait PaymentProcessor: Send + Sync {
    /// The `provider` of the payment methods this processor charges.
    fn provider(&self) -> &'static str;

    /// Whether `token` can be one of this provider's method tokens (checked when a method is
    /// added, so a typo is refused then rather than at the first top-up).
    fn accepts_token(&self, token: &str) -> bool;

    /// Charges the method; a repeated key returns the first call's outcome.
    async fn charge(&self, request: &ChargeRequest) -> ChargeOutcome;
}

/// The processors this server can use, by provider.
#[derive(Clone, Default)]
pub struct Processors {
    by_provider: BTreeMap<&'static str, Arc<dyn PaymentProcessor>>,
}

impl Processors {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with(mut self, processor: Arc<dyn PaymentProcessor>) -> Self {
        self.by_provider.insert(processor.provider(), processor);
        self
    }

    pub fn get(&self, provider: &str) -> Option<&Arc<dyn PaymentProcessor>> {
        self.by_provider.get(provider)
    }

    /// The known providers, sorted.
    pub fn providers(&self) -> Vec<&'static str> {
        self.by_provider.keys().copied().collect()
    }
}

impl std::fmt::Debug for Processors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.by_provider.keys()).finish()
    }
}

/// Asks `processor`, giving up after `timeout`. The bound is tokio's timer, not the injected
/// clock: it limits how long this task really waits for another system, which a manual test
/// clock could never end.
pub async fn charge_within(
    processor: Option<&Arc<dyn PaymentProcessor>>,
    request: &ChargeRequest,
    timeout: Duration,
) -> ChargeOutcome {
    let Some(processor) = processor else {
        return ChargeOutcome::Failed(ProcessorFailure::Unavailable);
    };
    match tokio::time::timeout(timeout, processor.charge(request)).await {
        Ok(outcome) => outcome,
        Err(_) => ChargeOutcome::Failed(ProcessorFailure::Timeout),
    }
}
