//! Deleting one's own account, after giving the password again (`reauthenticate`).

use super::login::{reauthenticate, AccountLockout, LoginError};
use super::{AccountPorts, AccountsError};
use tmcp_domain::UserId;
use tmcp_repository::AccountTombstone;

/// Deletes the account after re-authentication: personal data replaced by a tombstone,
/// methods removed, every session ended (payments and ledger history are kept).
pub async fn delete_account<L: AccountLockout>(
    ports: AccountPorts<'_>,
    lockout: &L,
    user_id: UserId,
    password: String,
) -> Result<(), LoginError<L::Refusal>> {
    let user = ports
        .db
        .find_user(user_id)
        .await?
        .ok_or(AccountsError::InvalidToken)?;
    reauthenticate(lockout, &user, password).await?;
    let deleted = ports
        .db
        .delete_account(
            user_id,
            AccountTombstone::for_user(user_id),
            ports.clock.now(),
        )
        .await?;
    if !deleted {
        return Err(AccountsError::InvalidToken.into());
    }
    tracing::info!(%user_id, "account deleted");
    Ok(())
}
