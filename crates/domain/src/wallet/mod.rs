//! Wallets: accounts holding integer minor units of one currency, movements of money between
//! them (double entry: every movement's legs sum to zero per currency) and holds that set
//! money aside until a payment is captured or released. See docs/ledger.md.

pub mod hold;
pub mod movement;
pub mod top_up;

pub use hold::{HoldState, HoldTransitionError};
pub use movement::{EntryType, Leg, Movement, MovementBuilder, MovementError};
pub use top_up::{TopUpState, TopUpTransitionError};

use rand::RngCore;
use serde::{Deserialize, Serialize};
use std::fmt;

const ID_PREFIX: &str = "tw_";
const ID_RANDOM_BYTES: usize = 16;

/// A wallet account id: `tw_` and 32 lowercase hex digits (128 random bits). Random rather
/// than time-ordered: an id shown to a user or a mini-app says nothing about when or in
/// which order wallets were opened.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct WalletAccountId(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("wallet account id must be 'tw_' followed by 32 lowercase hex digits")]
pub struct InvalidWalletAccountId;

impl WalletAccountId {
    /// A fresh id from the injected rng.
    pub fn generate(rng: &mut dyn RngCore) -> Self {
        let mut bytes = [0u8; ID_RANDOM_BYTES];
        rng.fill_bytes(&mut bytes);
        Self(format!("{ID_PREFIX}{}", hex::encode(bytes)))
    }

    pub fn parse(raw: &str) -> Result<Self, InvalidWalletAccountId> {
        let rest = raw.strip_prefix(ID_PREFIX).ok_or(InvalidWalletAccountId)?;
        let lower_hex = |b: u8| b.is_ascii_digit() || (b'a'..=b'f').contains(&b);
        if rest.len() == ID_RANDOM_BYTES * 2 && rest.bytes().all(lower_hex) {
            Ok(Self(raw.to_owned()))
        } else {
            Err(InvalidWalletAccountId)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for WalletAccountId {
    type Error = InvalidWalletAccountId;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<WalletAccountId> for String {
    fn from(id: WalletAccountId) -> Self {
        id.0
    }
}

impl fmt::Display for WalletAccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Who an account belongs to, as stored in `wallet_accounts.kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountKind {
    /// A user's wallet, one per (user, currency). Never negative.
    User,
    /// The platform's fee income, one per currency.
    Platform,
    /// A mini-app developer's wallet, one per (app, currency).
    Merchant,
    /// Money entering or leaving the system (card processor, bank), one per currency. The
    /// only kind that may go negative: its balance is minus what the outside world holds in
    /// wallets, which keeps every movement, top-ups and withdrawals included, summing to zero.
    Clearing,
}

impl AccountKind {
    pub const ALL: [Self; 4] = [Self::User, Self::Platform, Self::Merchant, Self::Clearing];

    pub fn as_db(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Platform => "platform",
            Self::Merchant => "merchant",
            Self::Clearing => "clearing",
        }
    }

    pub fn from_db(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_db() == value)
    }

    /// Whether a debit may take the balance below what is available.
    pub fn may_overdraw(self) -> bool {
        matches!(self, Self::Clearing)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    #[test]
    fn generated_ids_parse_and_differ() {
        let mut rng = StdRng::seed_from_u64(7);
        let a = WalletAccountId::generate(&mut rng);
        let b = WalletAccountId::generate(&mut rng);
        assert_ne!(a, b);
        assert_eq!(WalletAccountId::parse(a.as_str()), Ok(a.clone()));
        assert_eq!(a.as_str().len(), 35);
    }

    #[test]
    fn malformed_ids_are_refused() {
        for raw in [
            "tw_",
            "tw_0123",
            "xx_0123456789abcdef0123456789abcdef",
            "tw_0123456789ABCDEF0123456789ABCDEF",
            "tw_0123456789abcdef0123456789abcdeg",
        ] {
            assert_eq!(WalletAccountId::parse(raw), Err(InvalidWalletAccountId));
        }
    }

    #[test]
    fn kinds_round_trip_and_only_clearing_overdraws() {
        for kind in AccountKind::ALL {
            assert_eq!(AccountKind::from_db(kind.as_db()), Some(kind));
            assert_eq!(kind.may_overdraw(), kind == AccountKind::Clearing);
        }
    }
}
