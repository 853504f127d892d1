//! The built-in `sandbox` processor: a card test mode. The method token (its
//! `provider_method_id`) says what happens; anything after a `-` is free, so every user can
//! register their own copy of a test token (`(provider, provider_method_id)` is unique):
//!
//! | token | outcome |
//! |---|---|
//! | `pm_sandbox_ok` | approved at once |
//! | `pm_sandbox_insufficient_funds` | declined, reason `insufficient_funds` |
//! | `pm_sandbox_card_declined` | declined, reason `card_declined` |
//! | `pm_sandbox_slow` | approved after 3 s |
//! | `pm_sandbox_timeout` | never answers (the caller's timeout ends the wait) |
//!
//! It remembers each idempotency key's outcome, so asking again with the same key returns
//! the first outcome and never charges twice; concurrent calls with one key share one charge.
//! The 3 s delay is a tokio sleep, not the injected clock: it imitates a remote system being
//! slow in real time, and the caller's timeout (also real time) must be able to race it.

use super::processor::{ChargeOutcome, ChargeRequest, PaymentProcessor};
use async_trait::async_trait;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::OnceCell;

pub const PROVIDER: &str = "sandbox";

/// The test tokens and what they do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SandboxBehaviour {
    Approve,
    InsufficientFunds,
    CardDeclined,
    Slow,
    NeverAnswer,
}

const TOKENS: &[(&str, SandboxBehaviour)] = &[
    ("pm_sandbox_ok", SandboxBehaviour::Approve),
    (
        "pm_sandbox_insufficient_funds",
        SandboxBehaviour::InsufficientFunds,
    ),
    ("pm_sandbox_card_declined", SandboxBehaviour::CardDeclined),
    ("pm_sandbox_slow", SandboxBehaviour::Slow),
    ("pm_sandbox_timeout", SandboxBehaviour::NeverAnswer),
];

/// What `token` does: its name before an optional `-suffix`.
pub fn behaviour(token: &str) -> Option<SandboxBehaviour> {
    let name = token.split_once('-').map_or(token, |(name, _)| name);
    TOKENS.iter().find(|(t, _)| *t == name).map(|(_, b)| *b)
}

pub struct SandboxProcessor {
    slow_delay: Duration,
    outcomes: Mutex<HashMap<String, Arc<OnceCell<ChargeOutcome>>>>,
    charges: AtomicU64,
}

impl Default for SandboxProcessor {
    fn default() -> Self {
        Self::new(Duration::from_secs(3))
    }
}

impl SandboxProcessor {
    /// `slow_delay` is how long `pm_sandbox_slow` takes (3 s in the server).
    pub fn new(slow_delay: Duration) -> Self {
        Self {
            slow_delay,
            outcomes: Mutex::new(HashMap::new()),
            charges: AtomicU64::new(0),
        }
    }

    /// Approved charges made so far (each key at most once).
    pub fn charges(&self) -> u64 {
        self.charges.load(Ordering::SeqCst)
    }

    fn cell(&self, key: &str) -> Arc<OnceCell<ChargeOutcome>> {
        let mut outcomes = self
            .outcomes
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        Arc::clone(outcomes.entry(key.to_owned()).or_default())
    }

    async fn decide(&self, request: &ChargeRequest) -> ChargeOutcome {
        let declined = |reason: &str| ChargeOutcome::Declined {
            reason: reason.to_owned(),
        };
        match behaviour(&request.provider_method_id) {
            None => declined("invalid_token"),
            Some(SandboxBehaviour::InsufficientFunds) => declined("insufficient_funds"),
            Some(SandboxBehaviour::CardDeclined) => declined("card_declined"),
            Some(SandboxBehaviour::NeverAnswer) => std::future::pending().await,
            Some(SandboxBehaviour::Slow) => {
                tokio::time::sleep(self.slow_delay).await;
                self.approve(request)
            }
            Some(SandboxBehaviour::Approve) => self.approve(request),
        }
    }

    fn approve(&self, request: &ChargeRequest) -> ChargeOutcome {
        self.charges.fetch_add(1, Ordering::SeqCst);
        ChargeOutcome::Approved {
            processor_transaction_id: format!("sbx_{}", request.idempotency_key),
        }
    }
}

#[async_trait]
impl PaymentProcessor for SandboxProcessor {
    fn provider(&self) -> &'static str {
        PROVIDER
    }

    fn accepts_token(&self, token: &str) -> bool {
        behaviour(token).is_some()
    }

    async fn charge(&self, request: &ChargeRequest) -> ChargeOutcome {
        // One cell per key: the first caller runs the charge, later and concurrent callers get
        // its outcome. A caller that gives up (timeout) leaves the cell empty for the next.
        let cell = self.cell(&request.idempotency_key);
        cell.get_or_init(|| self.decide(request)).await.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tmcp_domain::{Currency, Money};

    fn request(key: &str, token: &str) -> ChargeRequest {
        ChargeRequest {
            idempotency_key: key.into(),
            amount: Money {
                minor: 100,
                currency: Currency::parse("USD").expect("USD"),
            },
            provider_method_id: token.into(),
        }
    }

    #[tokio::test]
    async fn tokens_decide_and_keys_charge_once() {
        let sandbox = SandboxProcessor::new(Duration::from_millis(10));
        let ok = sandbox.charge(&request("k1", "pm_sandbox_ok-alice")).await;
        assert!(matches!(ok, ChargeOutcome::Approved { .. }));
        assert_eq!(sandbox.charge(&request("k1", "pm_sandbox_ok")).await, ok);
        assert_eq!(sandbox.charges(), 1);
        for (token, reason) in [
            ("pm_sandbox_insufficient_funds", "insufficient_funds"),
            ("pm_sandbox_card_declined-x", "card_declined"),
            ("pm_other", "invalid_token"),
        ] {
            assert_eq!(
                sandbox.charge(&request(token, token)).await,
                ChargeOutcome::Declined {
                    reason: reason.into()
                }
            );
        }
        let slow = sandbox.charge(&request("k2", "pm_sandbox_slow")).await;
        assert!(matches!(slow, ChargeOutcome::Approved { .. }));
        assert_eq!(sandbox.charges(), 2);
        let never = tokio::time::timeout(
            Duration::from_millis(50),
            sandbox.charge(&request("k3", "pm_sandbox_timeout")),
        )
        .await;
        assert!(never.is_err());
        assert!(sandbox.accepts_token("pm_sandbox_timeout-9"));
        assert!(!sandbox.accepts_token("pm_sandbox_nope"));
    }

    #[tokio::test]
    async fn concurrent_calls_with_one_key_share_one_charge() {
        let sandbox = Arc::new(SandboxProcessor::new(Duration::from_millis(50)));
        let calls = (0..16).map(|_| {
            let sandbox = Arc::clone(&sandbox);
            tokio::spawn(async move { sandbox.charge(&request("same", "pm_sandbox_slow")).await })
        });
        for call in futures::future::join_all(calls).await {
            assert!(matches!(
                call.expect("no panic"),
                ChargeOutcome::Approved { .. }
            ));
        }
        assert_eq!(sandbox.charges(), 1);
    }
}
