//! The top-up rules shared by every engine, over [`TopUpTx`] (implemented by each engine's
//! money unit of work, with the wallet and idempotency steps). An engine opens the unit of
//! work, calls one function here, then commits on success and rolls back on any error.

use crate::idempotency::IdempotencyTx;
use crate::payment_methods::PaymentMethod;
use crate::top_ups::{NewTopUp, TopUp, TopUpBegin, TopUpError, TopUpSettlement};
use crate::wallet_tx::{self, WalletTx};
use crate::RepoResult;
use async_trait::async_trait;
use tmcp_domain::wallet::{EntryType, MovementBuilder, TopUpState};
use tmcp_domain::UserId;
use uuid::Uuid;

#[async_trait]
pub trait TopUpTx: WalletTx + IdempotencyTx {
    /// One of the user's active payment methods.
    async fn find_active_method(
        &mut self,
        user: UserId,
        id: Uuid,
    ) -> RepoResult<Option<PaymentMethod>>;

    async fn insert_top_up(&mut self, top_up: &TopUp) -> RepoResult<()>;

    /// Locks the top-up until the unit of work ends and returns it.
    async fn lock_top_up(&mut self, id: Uuid) -> RepoResult<Option<TopUp>>;

    /// Stores the settled fields `WHERE id = … AND state = expected`; returns rows affected.
    async fn update_top_up(&mut self, top_up: &TopUp, expected: TopUpState) -> RepoResult<u64>;
}

/// Claims the key first, so a replay is answered even if the method was removed since; then
/// checks the method and inserts the top-up.
pub async fn begin_top_up<T: TopUpTx + ?Sized>(
    tx: &mut T,
    new: &NewTopUp,
) -> Result<TopUpBegin, TopUpError> {
    if let Some(existing) = tx.claim_idempotency_key(&new.idempotency).await? {
        return Ok(TopUpBegin::Existing(existing));
    }
    let top_up = &new.top_up;
    let method = tx
        .find_active_method(top_up.user_id, top_up.payment_method_id)
        .await?
        .ok_or(TopUpError::MethodNotFound)?;
    let mut top_up = top_up.clone();
    top_up.processor = method.provider;
    top_up.provider_method_id = method.provider_method_id;
    tx.insert_top_up(&top_up).await?;
    Ok(TopUpBegin::Created(top_up))
}

/// Settles a processing top-up once: the guarded update, the movement clearing → wallet when
/// it completed, and the reply, together.
pub async fn settle_top_up<T: TopUpTx + ?Sized>(
    tx: &mut T,
    settlement: &TopUpSettlement,
) -> Result<TopUp, TopUpError> {
    let settled = &settlement.settled;
    // Accounts are locked by post_movement; the top-up row is locked first here, but no
    // other unit of work locks a top-up after accounts, so the order cannot cycle.
    let current = tx
        .lock_top_up(settled.id)
        .await?
        .ok_or(TopUpError::NotFound)?;
    if current.state != TopUpState::Processing {
        return Err(TopUpError::AlreadySettled(Box::new(current)));
    }
    if tx.update_top_up(settled, TopUpState::Processing).await? != 1 {
        return Err(TopUpError::AlreadySettled(Box::new(current)));
    }
    if settled.state == TopUpState::Completed {
        let movement_id = settled.movement_id.ok_or_else(|| {
            crate::RepoError::Internal("completed top-up without movement".into())
        })?;
        let movement = MovementBuilder::new(EntryType::TopUp)
            .debit(settlement.clearing.clone(), settled.amount)
            .credit(settlement.wallet.clone(), settled.amount)
            .build(movement_id)
            .map_err(crate::wallets::WalletError::from)?;
        let at = settled.settled_at.unwrap_or(settled.updated_at);
        wallet_tx::post_movement(tx, &movement, at).await?;
    }
    tx.store_idempotent_reply(
        &settled.idempotency_scope(),
        &settled.idempotency_key,
        &settlement.reply,
    )
    .await?;
    Ok(settled.clone())
}
