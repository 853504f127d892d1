//! Wire amounts: a JSON string or number in major units with at most the currency's decimals
//! (`"12.50"`, `12.5`, `1250` for JPY), parsed digit by digit. A JSON number is taken as the
//! shortest decimal text of its value (serde_json's reading), so `12.5` is "12.5"; nothing
//! ever computes with a float. Amounts go back on the wire as strings with exactly the
//! currency's decimals (`"12.50"`), in every answer of the wallet API.

use super::WalletServiceError;
use serde_json::Value;
use tmcp_domain::{Currency, Money, MoneyError};

/// The largest amount one request may move: 10^12 minor units keeps every sum far from
/// `i64` overflow and is above any sane single top-up.
pub const MAX_MINOR: i64 = 1_000_000_000_000;

fn invalid(field: &'static str, reason: impl Into<String>) -> WalletServiceError {
    WalletServiceError::InvalidAmount {
        field,
        reason: reason.into(),
    }
}

pub fn parse_currency(code: &str) -> Result<Currency, WalletServiceError> {
    Currency::parse(code).map_err(|_| invalid("currency", "unknown ISO 4217 currency code"))
}

/// Parses `amount` (string or number) in `currency`.
pub fn parse_amount(amount: &Value, currency: Currency) -> Result<Money, WalletServiceError> {
    let text = match amount {
        Value::String(s) if s.len() <= 40 => s.clone(),
        Value::String(_) => return Err(invalid("amount", "amount is too long")),
        Value::Number(n) => n.to_string(),
        _ => {
            return Err(invalid(
                "amount",
                "amount must be a decimal string or number",
            ))
        }
    };
    // Money::parse_major trims; the wire form must not carry whitespace or a sign.
    if text.trim() != text || text.starts_with('+') {
        return Err(invalid("amount", "amount is not a decimal number"));
    }
    let money = Money::parse_major(&text, currency).map_err(|e| match e {
        MoneyError::TooManyDecimals(n) => invalid(
            "amount",
            format!("{} allows at most {n} decimals", currency.code()),
        ),
        MoneyError::NotPositive => invalid("amount", "amount must be positive"),
        MoneyError::Overflow => invalid("amount", "amount is too large"),
        _ => invalid("amount", "amount is not a decimal number"),
    })?;
    if money.minor > MAX_MINOR {
        return Err(invalid("amount", "amount is too large"));
    }
    Ok(money)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn usd() -> Currency {
        Currency::parse("USD").expect("USD")
    }

    #[test]
    fn strings_and_numbers_parse_exactly() {
        assert_eq!(
            parse_amount(&json!("12.50"), usd()).ok().map(|m| m.minor),
            Some(1250)
        );
        assert_eq!(
            parse_amount(&json!(12.5), usd()).ok().map(|m| m.minor),
            Some(1250)
        );
        assert_eq!(
            parse_amount(&json!(7), usd()).ok().map(|m| m.minor),
            Some(700)
        );
        let jpy = Currency::parse("JPY").expect("JPY");
        assert_eq!(
            parse_amount(&json!(1250), jpy).ok().map(|m| m.minor),
            Some(1250)
        );
        assert!(parse_amount(&json!("12.5"), jpy).is_err());
    }

    #[test]
    fn bad_amounts_are_refused() {
        for bad in [
            json!("12.345"),
            json!(0.001),
            json!("0"),
            json!(-5),
            json!("-5"),
            json!(" 5"),
            json!("+5"),
            json!("1e3"),
            json!(""),
            json!(null),
            json!(true),
            json!("99999999999999999999999"),
            json!(1e300),
        ] {
            assert!(parse_amount(&bad, usd()).is_err(), "{bad}");
        }
        assert!(parse_currency("XXX").is_err());
        assert!(parse_currency("usd").is_err());
    }
}
