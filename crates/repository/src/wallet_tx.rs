//! The wallet rules shared by every engine. An engine opens one unit of work (PostgreSQL: a
//! transaction whose `lock_*` calls take row locks; SQLite: `BEGIN IMMEDIATE` on the single
//! writer), exposes it as a [`WalletTx`] and calls the functions here, which decide what is
//! written. Lock order, everywhere: accounts in ascending id order, then at most one hold.
//! Two units of work therefore never wait on each other in a cycle.

use crate::wallets::{
    Hold, HoldCapture, LedgerEntry, NewHold, NewWalletAccount, WalletAccount, WalletError,
    WalletOwner, WalletResult,
};
use crate::RepoError;
use async_trait::async_trait;
use std::collections::BTreeMap;
use time::OffsetDateTime;
use tmcp_domain::wallet::{HoldState, Movement, MovementBuilder, WalletAccountId};
use tmcp_domain::{Currency, Money};
use uuid::Uuid;

/// One engine's open unit of work on the wallet tables.
#[async_trait]
pub trait WalletTx: Send {
    /// Locks the accounts, in the order given (ascending id), until the unit of work ends,
    /// and returns those that exist.
    async fn lock_accounts(&mut self, ids: &[WalletAccountId]) -> WalletResult<Vec<WalletAccount>>;

    async fn find_account(
        &mut self,
        owner: &WalletOwner,
        currency: Currency,
    ) -> WalletResult<Option<WalletAccount>>;

    /// Inserts the account; `RepoError::Conflict` when the owner has one in the currency.
    async fn insert_account(&mut self, account: &WalletAccount) -> WalletResult<()>;

    /// Stores the account's balance, held amount, version and updated_at.
    async fn store_account(&mut self, account: &WalletAccount) -> WalletResult<()>;

    async fn insert_entry(&mut self, entry: &LedgerEntry) -> WalletResult<()>;

    /// Reads a hold without locking it (to learn which account to lock first).
    async fn peek_hold(&mut self, id: Uuid) -> WalletResult<Option<Hold>>;

    /// Locks the hold until the unit of work ends and returns it.
    async fn lock_hold(&mut self, id: Uuid) -> WalletResult<Option<Hold>>;

    async fn insert_hold(&mut self, hold: &Hold) -> WalletResult<()>;

    /// Stores the hold's state, resolved_at and capture movement.
    async fn store_hold(&mut self, hold: &Hold) -> WalletResult<()>;
}

/// Opens the owner's account, or returns the existing one. A unique index per owner and
/// currency decides races: the loser finds the winner's account.
pub async fn open_account<T: WalletTx + ?Sized>(
    tx: &mut T,
    new: &NewWalletAccount,
) -> WalletResult<WalletAccount> {
    if let Some(existing) = tx.find_account(&new.owner, new.currency).await? {
        return Ok(existing);
    }
    let account = WalletAccount {
        id: new.id.clone(),
        owner: new.owner.clone(),
        currency: new.currency,
        balance: 0,
        held: 0,
        version: 0,
        created_at: new.at,
        updated_at: new.at,
    };
    tx.insert_account(&account).await?;
    Ok(account)
}

/// Locks `ids` (deduplicated, ascending) and returns them by id; any missing one is an error.
async fn lock_all<T: WalletTx + ?Sized>(
    tx: &mut T,
    ids: impl IntoIterator<Item = WalletAccountId>,
) -> WalletResult<BTreeMap<WalletAccountId, WalletAccount>> {
    let mut ids: Vec<WalletAccountId> = ids.into_iter().collect();
    ids.sort();
    ids.dedup();
    let locked = tx.lock_accounts(&ids).await?;
    let found: BTreeMap<_, _> = locked.into_iter().map(|a| (a.id.clone(), a)).collect();
    if found.len() != ids.len() {
        return Err(WalletError::AccountNotFound);
    }
    Ok(found)
}

/// Writes the movement's legs on locked accounts. `released` is a hold amount leaving
/// `held` on one of them in the same step (a capture).
async fn write_legs<T: WalletTx + ?Sized>(
    tx: &mut T,
    accounts: &mut BTreeMap<WalletAccountId, WalletAccount>,
    movement: &Movement,
    released: Option<(&WalletAccountId, i64)>,
    at: OffsetDateTime,
) -> WalletResult<Vec<LedgerEntry>> {
    // Check every leg before writing any, so a refusal leaves nothing to roll back.
    for leg in movement.legs() {
        let account = accounts
            .get(&leg.account)
            .ok_or(WalletError::AccountNotFound)?;
        if account.currency != leg.currency {
            return Err(WalletError::CurrencyMismatch);
        }
        let held = match released {
            Some((id, amount)) if *id == leg.account => account.held - amount,
            _ => account.held,
        };
        let available = account.balance - held;
        if leg.amount < 0 && !account.owner.kind().may_overdraw() && available + leg.amount < 0 {
            return Err(WalletError::InsufficientFunds(leg.account.clone()));
        }
    }
    let mut entries = Vec::with_capacity(movement.legs().len());
    for leg in movement.legs() {
        let account = accounts
            .get_mut(&leg.account)
            .ok_or(WalletError::AccountNotFound)?;
        if let Some((id, amount)) = released {
            if *id == leg.account {
                account.held -= amount;
            }
        }
        account.balance = account
            .balance
            .checked_add(leg.amount)
            .ok_or_else(|| RepoError::Internal("wallet balance overflow".into()))?;
        account.version += 1;
        account.updated_at = at;
        let entry = LedgerEntry {
            account_id: leg.account.clone(),
            seq: account.version,
            movement_id: movement.id(),
            amount: leg.amount,
            balance_after: account.balance,
            entry_type: movement.entry_type(),
            payment_id: movement.payment_id(),
            refund_id: movement.refund_id(),
            hold_id: movement.hold_id(),
            created_at: at,
        };
        tx.insert_entry(&entry).await?;
        tx.store_account(account).await?;
        entries.push(entry);
    }
    Ok(entries)
}

/// Posts a balanced movement: all legs and balances, or (on any refusal) nothing.
pub async fn post_movement<T: WalletTx + ?Sized>(
    tx: &mut T,
    movement: &Movement,
    at: OffsetDateTime,
) -> WalletResult<Vec<LedgerEntry>> {
    if movement.hold_id().is_some() {
        return Err(WalletError::CaptureOutsideHold);
    }
    let mut accounts = lock_all(tx, movement.legs().iter().map(|l| l.account.clone())).await?;
    write_legs(tx, &mut accounts, movement, None, at).await
}

/// Sets `hold.amount` aside on the account if that much is available.
pub async fn place_hold<T: WalletTx + ?Sized>(tx: &mut T, new: &NewHold) -> WalletResult<Hold> {
    let mut accounts = lock_all(tx, [new.account.clone()]).await?;
    let account = accounts
        .get_mut(&new.account)
        .ok_or(WalletError::AccountNotFound)?;
    if account.currency != new.amount.currency {
        return Err(WalletError::CurrencyMismatch);
    }
    if new.amount.minor <= 0 {
        return Err(tmcp_domain::wallet::MovementError::NotPositive.into());
    }
    if account.available() < new.amount.minor {
        return Err(WalletError::InsufficientFunds(new.account.clone()));
    }
    account.held += new.amount.minor;
    account.version += 1;
    account.updated_at = new.at;
    let hold = Hold {
        id: new.id,
        account_id: new.account.clone(),
        amount: new.amount.minor,
        payment_id: new.payment_id,
        state: HoldState::Held,
        capture_movement_id: None,
        created_at: new.at,
        resolved_at: None,
    };
    tx.insert_hold(&hold).await?;
    tx.store_account(account).await?;
    Ok(hold)
}

/// Locks the accounts, then the hold (the global lock order), and returns the hold as it is
/// now that nobody else can resolve it.
async fn lock_hold_after<T: WalletTx + ?Sized>(
    tx: &mut T,
    hold_id: Uuid,
    extra: Vec<WalletAccountId>,
) -> WalletResult<(Hold, BTreeMap<WalletAccountId, WalletAccount>)> {
    let peeked = tx
        .peek_hold(hold_id)
        .await?
        .ok_or(WalletError::HoldNotFound)?;
    let ids = extra.into_iter().chain([peeked.account_id]);
    let accounts = lock_all(tx, ids).await?;
    let hold = tx
        .lock_hold(hold_id)
        .await?
        .ok_or(WalletError::HoldNotFound)?;
    Ok((hold, accounts))
}

/// Moves the whole held amount from the hold's account to `capture.credits`.
pub async fn capture_hold<T: WalletTx + ?Sized>(
    tx: &mut T,
    capture: &HoldCapture,
) -> WalletResult<(Hold, Vec<LedgerEntry>)> {
    let payees = capture.credits.iter().map(|(id, _)| id.clone()).collect();
    let (mut hold, mut accounts) = lock_hold_after(tx, capture.hold_id, payees).await?;
    let state = hold.state.capture()?;
    let source = accounts
        .get(&hold.account_id)
        .ok_or(WalletError::AccountNotFound)?;
    let money = |minor| Money {
        minor,
        currency: source.currency,
    };
    let mut builder = MovementBuilder::new(capture.entry_type)
        .debit(hold.account_id.clone(), money(hold.amount))
        .hold(hold.id);
    if let Some(payment) = hold.payment_id {
        builder = builder.payment(payment);
    }
    for (account, minor) in &capture.credits {
        builder = builder.credit(account.clone(), money(*minor));
    }
    let movement = builder.build(capture.movement_id)?;
    let released = Some((&hold.account_id, hold.amount));
    let entries = write_legs(tx, &mut accounts, &movement, released, capture.at).await?;
    hold.state = state;
    hold.capture_movement_id = Some(movement.id());
    hold.resolved_at = Some(capture.at);
    tx.store_hold(&hold).await?;
    Ok((hold, entries))
}

/// Makes the held amount available again.
pub async fn release_hold<T: WalletTx + ?Sized>(
    tx: &mut T,
    hold_id: Uuid,
    at: OffsetDateTime,
) -> WalletResult<Hold> {
    let (mut hold, mut accounts) = lock_hold_after(tx, hold_id, Vec::new()).await?;
    hold.state = hold.state.release()?;
    hold.resolved_at = Some(at);
    let account = accounts
        .get_mut(&hold.account_id)
        .ok_or(WalletError::AccountNotFound)?;
    account.held -= hold.amount;
    account.version += 1;
    account.updated_at = at;
    tx.store_account(account).await?;
    tx.store_hold(&hold).await?;
    Ok(hold)
}
