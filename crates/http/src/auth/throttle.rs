//! Login and MFA throttling (the TMCP protocol §0): 10 login attempts per minute per client address,
//! and at most 5 failed attempts per account in 15 minutes, after which the account answers
//! 429 (with `Retry-After`) until the bucket refills. Counters live in `state.limiter`, so
//! they are shared through Redis when it is configured.

use crate::error::ApiError;
use crate::ratelimit::{LimitRule, RateDecision};
use crate::state::AppState;
use std::sync::Mutex;
use std::time::Duration;
use tmcp_usecases::accounts::mfa_changes::SecondFactorThrottle;
use tmcp_usecases::accounts::{AccountLockout, LoginThrottle};

/// Login attempts per client address.
pub const LOGIN_PER_IP: LimitRule = LimitRule::per_minute("login_ip", 10, 10);

/// Registrations per client address (each one costs an Argon2id hash).
pub const REGISTER_PER_IP: LimitRule = LimitRule::per_minute("register_ip", 20, 20);

/// Failed logins (password or second factor) per account.
pub const LOGIN_FAILURES: LimitRule = LimitRule {
    name: "login_failures",
    rate: 5,
    period: Duration::from_secs(15 * 60),
    burst: 5,
};

/// Second-factor checks outside login (TOTP confirmation, removing a method) per account.
pub const MFA_VERIFY: LimitRule = LimitRule {
    name: "mfa_verify",
    rate: 5,
    period: Duration::from_secs(5 * 60),
    burst: 5,
};

/// Counts a login attempt from `ip_key`; 429 when the address is over its budget.
pub async fn login_attempt(state: &AppState, ip_key: &str) -> Result<RateDecision, ApiError> {
    state.limiter.check(&LOGIN_PER_IP, ip_key).await
}

/// Counts a registration from `ip_key`; 429 when the address is over its budget.
pub async fn registration(state: &AppState, ip_key: &str) -> Result<RateDecision, ApiError> {
    state.limiter.check(&REGISTER_PER_IP, ip_key).await
}

/// 429 while `account_key` has used up its failures (takes nothing from the bucket).
pub async fn account_locked(state: &AppState, account_key: &str) -> Result<(), ApiError> {
    state
        .limiter
        .peek(&LOGIN_FAILURES, account_key)
        .await
        .map(|_| ())
}

/// Records a failed login against `account_key`.
pub async fn record_failure(state: &AppState, account_key: &str) {
    // The failing attempt is answered 401 either way; the next one sees the lockout.
    let _ = state.limiter.check(&LOGIN_FAILURES, account_key).await;
}

/// A successful login clears the account's failures.
pub async fn clear_failures(state: &AppState, account_key: &str) {
    state.limiter.reset(&LOGIN_FAILURES, account_key).await;
}

/// Counts a second-factor check by `user_key` outside login; 429 when over budget.
pub async fn mfa_attempt(state: &AppState, user_key: &str) -> Result<(), ApiError> {
    state.limiter.check(&MFA_VERIFY, user_key).await.map(|_| ())
}

/// The per-account failure budget of the accounts service (`AccountLockout`), counted in
/// `state.limiter`.
pub struct AccountBudget<'a> {
    state: &'a AppState,
}

impl<'a> AccountBudget<'a> {
    pub fn new(state: &'a AppState) -> Self {
        Self { state }
    }
}

#[async_trait::async_trait]
impl AccountLockout for AccountBudget<'_> {
    type Refusal = ApiError;

    async fn account_locked(&self, account_key: &str) -> Result<(), ApiError> {
        account_locked(self.state, account_key).await
    }

    async fn record_failure(&self, account_key: &str) {
        record_failure(self.state, account_key).await;
    }

    async fn clear_failures(&self, account_key: &str) {
        clear_failures(self.state, account_key).await;
    }
}

/// The login budgets of the accounts service (`LoginThrottle`) for one client address,
/// counted in `state.limiter`. Keeps the address bucket's decision for the `X-RateLimit-*`
/// headers of the answer.
pub struct LoginBudget<'a> {
    account: AccountBudget<'a>,
    ip_key: String,
    decision: Mutex<Option<RateDecision>>,
}

impl<'a> LoginBudget<'a> {
    pub fn new(state: &'a AppState, ip_key: String) -> Self {
        Self {
            account: AccountBudget::new(state),
            ip_key,
            decision: Mutex::new(None),
        }
    }

    /// The address bucket's decision, once the attempt was counted.
    pub fn decision(&self) -> Option<RateDecision> {
        *self.decision.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[async_trait::async_trait]
impl AccountLockout for LoginBudget<'_> {
    type Refusal = ApiError;

    async fn account_locked(&self, account_key: &str) -> Result<(), ApiError> {
        self.account.account_locked(account_key).await
    }

    async fn record_failure(&self, account_key: &str) {
        self.account.record_failure(account_key).await;
    }

    async fn clear_failures(&self, account_key: &str) {
        self.account.clear_failures(account_key).await;
    }
}

#[async_trait::async_trait]
impl LoginThrottle for LoginBudget<'_> {
    async fn attempt(&self) -> Result<(), ApiError> {
        let decision = login_attempt(self.account.state, &self.ip_key).await?;
        *self.decision.lock().unwrap_or_else(|p| p.into_inner()) = Some(decision);
        Ok(())
    }
}

/// The accounts service's budget of second-factor checks outside login
/// (`SecondFactorThrottle`), counted in `state.limiter`.
pub struct SecondFactorBudget<'a> {
    state: &'a AppState,
}

impl<'a> SecondFactorBudget<'a> {
    pub fn new(state: &'a AppState) -> Self {
        Self { state }
    }
}

#[async_trait::async_trait]
impl SecondFactorThrottle for SecondFactorBudget<'_> {
    type Refusal = ApiError;

    async fn attempt(&self, user: tmcp_domain::UserId) -> Result<(), ApiError> {
        mfa_attempt(self.state, &user.to_string()).await
    }
}
