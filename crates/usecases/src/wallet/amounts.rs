//! The wallet API's currency and amount fields; amounts follow the shared wire rules of
//! [`crate::amounts`].

use super::WalletServiceError;
use crate::amounts::parse_json_amount;
use tmcp_domain::{Currency, Money};

pub fn parse_currency(code: &str) -> Result<Currency, WalletServiceError> {
    Currency::parse(code).map_err(|_| WalletServiceError::InvalidAmount {
        field: "currency",
        reason: "unknown ISO 4217 currency code".to_owned(),
    })
}

/// Parses the JSON text of `amount` (a string or number literal) in `currency`.
pub fn parse_amount(json: &str, currency: Currency) -> Result<Money, WalletServiceError> {
    parse_json_amount(json, currency).map_err(|e| WalletServiceError::InvalidAmount {
        field: "amount",
        reason: e.message("amount", currency),
    })
}
