//! Which merchant and platform accounts this process has seen open. Accounts are never
//! closed or deleted, so a remembered one needs no read before each authorization; a
//! forgotten one costs one lookup. Bounded: the set is cleared when it grows too large.

use std::collections::HashSet;
use std::sync::Mutex;
use tmcp_domain::Currency;
use tmcp_repository::WalletOwner;

/// Far above the merchants × currencies of one deployment; clearing only costs lookups.
const MAX_REMEMBERED: usize = 100_000;

#[derive(Debug, Default)]
pub struct OpenedAccounts {
    known: Mutex<HashSet<(WalletOwner, Currency)>>,
}

impl OpenedAccounts {
    pub fn contains(&self, owner: &WalletOwner, currency: Currency) -> bool {
        self.known
            .lock()
            .map(|known| known.contains(&(owner.clone(), currency)))
            .unwrap_or(false)
    }

    pub fn remember(&self, owner: WalletOwner, currency: Currency) {
        if let Ok(mut known) = self.known.lock() {
            if known.len() >= MAX_REMEMBERED {
                known.clear();
            }
            known.insert((owner, currency));
        }
    }
}
