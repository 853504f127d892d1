//! The payment service (the TMCP protocol §4): a mini-app requests a payment, the user
//! authorizes it (with a second factor at or above the threshold), the money moves through
//! the wallet ledger in the same transaction as the payment's state change. One module per
//! step: `request`, `authorize`, `mfa`, `reads`; the field rules in `input`, the device signature
//! in `device_proof`, the configuration in `settings`, the errors in `error`. Who may call
//! (scopes, tokens, rate limits) is the HTTP layer's decision before any of this runs.

pub mod authorize;
pub mod device_proof;
pub mod error;
pub mod input;
pub mod lifecycle;
pub mod mfa;
pub mod opened;
pub mod reads;
pub mod refund;
pub mod request;
pub mod settings;

pub use error::PaymentsError;
pub use settings::PaymentSettings;

use time::OffsetDateTime;
use tmcp_domain::crypto::FieldCipher;
use tmcp_domain::wallet::WalletAccountId;
use tmcp_domain::{Clock, Currency};
use tmcp_repository::{Database, NewWalletAccount, WalletOwner};

/// The scope a mini-app's token needs to request (and a TEP to authorize) payments.
pub const SCOPE_PAY: &str = "wallet:pay";

/// What the payment use cases need.
#[derive(Clone, Copy)]
pub struct PaymentPorts<'a> {
    pub db: &'a dyn Database,
    pub clock: &'a dyn Clock,
    /// Opens the sealed MFA secrets (TOTP, PIN) of the second-factor checks.
    pub cipher: &'a FieldCipher,
    /// Merchant and platform accounts known to be open (skips a read per authorization).
    pub opened: &'a opened::OpenedAccounts,
}

impl<'a> PaymentPorts<'a> {
    /// The accounts service's ports, for its second-factor checks.
    pub fn accounts(&self) -> crate::accounts::AccountPorts<'a> {
        crate::accounts::AccountPorts {
            db: self.db,
            clock: self.clock,
            cipher: self.cipher,
        }
    }

    /// Now, cut to whole microseconds: what both engines store, so a row read back equals
    /// the row written.
    pub fn now(&self) -> OffsetDateTime {
        let now = self.clock.now();
        now.replace_nanosecond(now.nanosecond() / 1_000 * 1_000)
            .unwrap_or(now)
    }

    /// Opens `owner`'s account in `currency` if it has none (outside the payment's unit of
    /// work: two openers race on a unique index, which would abort a PostgreSQL
    /// transaction).
    pub async fn ensure_account(
        &self,
        owner: WalletOwner,
        currency: Currency,
    ) -> Result<(), PaymentsError> {
        if self.opened.contains(&owner, currency) {
            return Ok(());
        }
        if self
            .db
            .find_wallet_account(&owner, currency)
            .await
            .map_err(PaymentsError::internal)?
            .is_some()
        {
            self.opened.remember(owner, currency);
            return Ok(());
        }
        let id = WalletAccountId::generate(&mut rand::rngs::OsRng);
        self.db
            .open_wallet_account(NewWalletAccount {
                id,
                owner: owner.clone(),
                currency,
                at: self.now(),
            })
            .await
            .map_err(PaymentsError::internal)?;
        self.opened.remember(owner, currency);
        Ok(())
    }
}
