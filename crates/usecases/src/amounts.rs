//! Wire amounts, shared by every money-moving request (top-ups, payment requests, line items,
//! refunds): the JSON text of a string or a number in major units with at most the
//! currency's decimals (`"12.50"`, `12.5`, `1250` for JPY), parsed digit by digit. Nothing
//! ever computes with a float: a JSON number is read as the literal the client wrote.
//! Amounts go back on the wire as strings with exactly the currency's decimals (`"12.50"`).

use tmcp_domain::{Currency, Money, MoneyError};

/// The largest amount one request may move: 10^12 minor units keeps every sum far from
/// `i64` overflow and is above any sane single payment or top-up.
pub const MAX_MINOR: i64 = 1_000_000_000_000;

/// Longer texts are refused before any parsing (the largest amount has 13 digits).
const MAX_TEXT_BYTES: usize = 40;

/// Why an amount was refused; each service maps it to its own error with the field name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AmountError {
    NotADecimal,
    TooManyDecimals(u8),
    NotPositive,
    TooLarge,
}

impl AmountError {
    /// The client-facing reason, naming `field`.
    pub fn message(self, field: &str, currency: Currency) -> String {
        match self {
            Self::NotADecimal => {
                format!("{field} must be a decimal number in major units, e.g. \"12.50\"")
            }
            Self::TooManyDecimals(n) => {
                format!("{field}: {} allows at most {n} decimals", currency.code())
            }
            Self::NotPositive => format!("{field} must be positive"),
            Self::TooLarge => format!("{field} is too large"),
        }
    }
}

/// Parses the JSON text of an amount (a string literal or a number literal) in `currency`.
/// Signs, exponents, whitespace inside a string and empty fractions are refused.
pub fn parse_json_amount(json: &str, currency: Currency) -> Result<Money, AmountError> {
    // Whitespace around a JSON value is not part of it; inside a string it is.
    let json = json.trim();
    if json.len() > MAX_TEXT_BYTES + 2 {
        return Err(AmountError::TooLarge);
    }
    let text = if json.starts_with('"') {
        serde_json::from_str::<String>(json).map_err(|_| AmountError::NotADecimal)?
    } else {
        json.to_owned()
    };
    if text.starts_with('-') {
        return Err(AmountError::NotPositive);
    }
    // Money::parse_major trims, so whitespace and '+' are refused here.
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return Err(AmountError::NotADecimal);
    }
    let money = Money::parse_major(&text, currency).map_err(|e| match e {
        MoneyError::TooManyDecimals(n) => AmountError::TooManyDecimals(n),
        MoneyError::NotPositive => AmountError::NotPositive,
        MoneyError::Overflow => AmountError::TooLarge,
        _ => AmountError::NotADecimal,
    })?;
    if money.minor > MAX_MINOR {
        return Err(AmountError::TooLarge);
    }
    Ok(money)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usd() -> Currency {
        Currency::parse("USD").expect("USD")
    }

    fn minor(json: &str, currency: Currency) -> Option<i64> {
        parse_json_amount(json, currency).ok().map(|m| m.minor)
    }

    #[test]
    fn strings_and_numbers_parse_exactly() {
        assert_eq!(minor("\"12.50\"", usd()), Some(1250));
        assert_eq!(minor("12.5", usd()), Some(1250));
        assert_eq!(minor("12.500", usd()), Some(1250));
        assert_eq!(minor(" 7 ", usd()), Some(700));
        assert_eq!(minor("\"1000000000.00\"", usd()), Some(100_000_000_000));
        let jpy = Currency::parse("JPY").expect("JPY");
        assert_eq!(minor("1250", jpy), Some(1250));
        assert_eq!(minor("12.5", jpy), None);
    }

    #[test]
    fn bad_amounts_are_refused_with_their_reason() {
        let cases = [
            ("\"12.345\"", AmountError::TooManyDecimals(2)),
            ("0.001", AmountError::TooManyDecimals(2)),
            ("\"0\"", AmountError::NotPositive),
            ("-5", AmountError::NotPositive),
            ("\"-5\"", AmountError::NotPositive),
            ("\" 5\"", AmountError::NotADecimal),
            ("\"+5\"", AmountError::NotADecimal),
            ("1e3", AmountError::NotADecimal),
            ("\"12.\"", AmountError::NotADecimal),
            ("\"\"", AmountError::NotADecimal),
            ("null", AmountError::NotADecimal),
            ("true", AmountError::NotADecimal),
            ("\"5\\u0000\"", AmountError::NotADecimal),
            ("\"99999999999999999999999\"", AmountError::TooLarge),
            ("10000000000.01", AmountError::TooLarge),
            (&"9".repeat(300), AmountError::TooLarge),
        ];
        for (json, want) in cases {
            assert_eq!(parse_json_amount(json, usd()), Err(want), "{json}");
        }
    }
}
