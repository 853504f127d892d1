//! Movements: one posting of money across accounts. A [`Movement`] can only be made by
//! [`MovementBuilder::build`], which refuses anything whose legs do not sum to zero in each
//! currency, so an unbalanced posting never reaches the database.

use super::WalletAccountId;
use crate::money::{Currency, Money};
use crate::PaymentId;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use uuid::Uuid;

/// Why money moved, as stored in `wallet_entries.type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryType {
    /// Money entering a wallet from outside (clearing account to a wallet).
    TopUp,
    /// Money leaving the system from a wallet (a wallet to the clearing account).
    Withdrawal,
    /// Wallet to wallet.
    Transfer,
    /// A payment to a mini-app: the user's wallet to the merchant and the platform fee.
    Payment,
    /// A payment given back.
    Refund,
    /// A correction made by an operator.
    Adjustment,
}

impl EntryType {
    pub const ALL: [Self; 6] = [
        Self::TopUp,
        Self::Withdrawal,
        Self::Transfer,
        Self::Payment,
        Self::Refund,
        Self::Adjustment,
    ];

    pub fn as_db(self) -> &'static str {
        match self {
            Self::TopUp => "top_up",
            Self::Withdrawal => "withdrawal",
            Self::Transfer => "transfer",
            Self::Payment => "payment",
            Self::Refund => "refund",
            Self::Adjustment => "adjustment",
        }
    }

    pub fn from_db(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_db() == value)
    }
}

/// One account's side of a movement: a signed amount (credit > 0, debit < 0).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leg {
    pub account: WalletAccountId,
    pub currency: Currency,
    pub amount: i64,
}

/// A balanced posting, ready to be written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Movement {
    id: Uuid,
    entry_type: EntryType,
    payment_id: Option<PaymentId>,
    refund_id: Option<Uuid>,
    hold_id: Option<Uuid>,
    legs: Vec<Leg>,
}

impl Movement {
    pub fn id(&self) -> Uuid {
        self.id
    }

    pub fn entry_type(&self) -> EntryType {
        self.entry_type
    }

    pub fn payment_id(&self) -> Option<PaymentId> {
        self.payment_id
    }

    pub fn refund_id(&self) -> Option<Uuid> {
        self.refund_id
    }

    /// The hold this movement captures, if any.
    pub fn hold_id(&self) -> Option<Uuid> {
        self.hold_id
    }

    /// The legs, one per account, in the order they were added.
    pub fn legs(&self) -> &[Leg] {
        &self.legs
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MovementError {
    #[error("a movement needs at least two legs")]
    TooFewLegs,
    #[error("leg amounts must be positive")]
    NotPositive,
    #[error("an account may appear only once in a movement")]
    RepeatedAccount,
    #[error("legs in {0} do not sum to zero")]
    Unbalanced(&'static str),
    #[error("amounts overflow")]
    Overflow,
}

/// Collects legs and checks them once, in [`Self::build`].
#[derive(Debug, Clone)]
pub struct MovementBuilder {
    entry_type: EntryType,
    payment_id: Option<PaymentId>,
    refund_id: Option<Uuid>,
    hold_id: Option<Uuid>,
    legs: Vec<(WalletAccountId, Money, bool)>,
}

impl MovementBuilder {
    pub fn new(entry_type: EntryType) -> Self {
        Self {
            entry_type,
            payment_id: None,
            refund_id: None,
            hold_id: None,
            legs: Vec::new(),
        }
    }

    /// Takes `amount` (positive) out of `account`.
    pub fn debit(mut self, account: WalletAccountId, amount: Money) -> Self {
        self.legs.push((account, amount, false));
        self
    }

    /// Puts `amount` (positive) into `account`.
    pub fn credit(mut self, account: WalletAccountId, amount: Money) -> Self {
        self.legs.push((account, amount, true));
        self
    }

    pub fn payment(mut self, payment_id: PaymentId) -> Self {
        self.payment_id = Some(payment_id);
        self
    }

    pub fn refund(mut self, refund_id: Uuid) -> Self {
        self.refund_id = Some(refund_id);
        self
    }

    pub fn hold(mut self, hold_id: Uuid) -> Self {
        self.hold_id = Some(hold_id);
        self
    }

    /// The movement with id `id` (a v7 id from the injected clock), if it balances.
    pub fn build(self, id: Uuid) -> Result<Movement, MovementError> {
        if self.legs.len() < 2 {
            return Err(MovementError::TooFewLegs);
        }
        let mut seen = BTreeSet::new();
        let mut sums: BTreeMap<&'static str, i64> = BTreeMap::new();
        let mut legs = Vec::with_capacity(self.legs.len());
        for (account, money, credit) in self.legs {
            if money.minor <= 0 {
                return Err(MovementError::NotPositive);
            }
            if !seen.insert(account.clone()) {
                return Err(MovementError::RepeatedAccount);
            }
            let amount = if credit { money.minor } else { -money.minor };
            let sum = sums.entry(money.currency.code()).or_insert(0);
            *sum = sum.checked_add(amount).ok_or(MovementError::Overflow)?;
            legs.push(Leg {
                account,
                currency: money.currency,
                amount,
            });
        }
        if let Some((code, _)) = sums.into_iter().find(|(_, sum)| *sum != 0) {
            return Err(MovementError::Unbalanced(code));
        }
        Ok(Movement {
            id,
            entry_type: self.entry_type,
            payment_id: self.payment_id,
            refund_id: self.refund_id,
            hold_id: self.hold_id,
            legs,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    fn money(minor: i64, code: &str) -> Money {
        Money {
            minor,
            currency: Currency::parse(code).expect("known currency"),
        }
    }

    fn accounts(n: usize) -> Vec<WalletAccountId> {
        let mut rng = StdRng::seed_from_u64(1);
        (0..n)
            .map(|_| WalletAccountId::generate(&mut rng))
            .collect()
    }

    #[test]
    fn balanced_movements_build_with_signed_legs() {
        let [a, b, c] = <[_; 3]>::try_from(accounts(3)).expect("three");
        let movement = MovementBuilder::new(EntryType::Payment)
            .debit(a.clone(), money(1000, "USD"))
            .credit(b, money(970, "USD"))
            .credit(c, money(30, "USD"))
            .build(Uuid::nil())
            .expect("balanced");
        let amounts: Vec<i64> = movement.legs().iter().map(|l| l.amount).collect();
        assert_eq!(amounts, [-1000, 970, 30]);
        assert_eq!(movement.legs()[0].account, a);
    }

    #[test]
    fn unbalanced_or_malformed_movements_are_refused() {
        let [a, b] = <[_; 2]>::try_from(accounts(2)).expect("two");
        let build = |builder: MovementBuilder| builder.build(Uuid::nil()).map(|_| ());
        let transfer = || MovementBuilder::new(EntryType::Transfer);
        assert_eq!(
            build(
                transfer()
                    .debit(a.clone(), money(10, "USD"))
                    .credit(b.clone(), money(9, "USD"))
            ),
            Err(MovementError::Unbalanced("USD"))
        );
        // Balanced in total but not per currency.
        assert_eq!(
            build(
                transfer()
                    .debit(a.clone(), money(10, "USD"))
                    .credit(b.clone(), money(10, "EUR"))
            ),
            Err(MovementError::Unbalanced("EUR"))
        );
        assert_eq!(
            build(transfer().debit(a.clone(), money(10, "USD"))),
            Err(MovementError::TooFewLegs)
        );
        assert_eq!(
            build(
                transfer()
                    .debit(a.clone(), money(0, "USD"))
                    .credit(b.clone(), money(0, "USD"))
            ),
            Err(MovementError::NotPositive)
        );
        assert_eq!(
            build(
                transfer()
                    .debit(a.clone(), money(10, "USD"))
                    .credit(a.clone(), money(10, "USD"))
            ),
            Err(MovementError::RepeatedAccount)
        );
        assert_eq!(
            build(
                transfer()
                    .credit(a, money(i64::MAX, "USD"))
                    .credit(b, money(i64::MAX, "USD"))
            ),
            Err(MovementError::Overflow)
        );
    }

    #[test]
    fn entry_types_round_trip() {
        for t in EntryType::ALL {
            assert_eq!(EntryType::from_db(t.as_db()), Some(t));
        }
    }
}
