//! Money as integer minor units. Wire amounts are decimal strings or numbers in major units;
//! they are parsed digit by digit so no value ever passes through a float.

use serde::{Deserialize, Serialize};
use std::fmt;

/// ISO 4217 codes this server accepts, with their minor-unit exponent.
const CURRENCIES: &[(&str, u8)] = &[
    ("AED", 2),
    ("ARS", 2),
    ("AUD", 2),
    ("BDT", 2),
    ("BHD", 3),
    ("BRL", 2),
    ("CAD", 2),
    ("CHF", 2),
    ("CLP", 0),
    ("CNY", 2),
    ("COP", 2),
    ("CZK", 2),
    ("DKK", 2),
    ("EGP", 2),
    ("ETB", 2),
    ("EUR", 2),
    ("GBP", 2),
    ("GHS", 2),
    ("HKD", 2),
    ("HUF", 2),
    ("IDR", 2),
    ("ILS", 2),
    ("INR", 2),
    ("ISK", 0),
    ("JOD", 3),
    ("JPY", 0),
    ("KES", 2),
    ("KRW", 0),
    ("KWD", 3),
    ("MAD", 2),
    ("MXN", 2),
    ("MYR", 2),
    ("NGN", 2),
    ("NOK", 2),
    ("NZD", 2),
    ("OMR", 3),
    ("PHP", 2),
    ("PKR", 2),
    ("PLN", 2),
    ("QAR", 2),
    ("RON", 2),
    ("RUB", 2),
    ("SAR", 2),
    ("SEK", 2),
    ("SGD", 2),
    ("THB", 2),
    ("TND", 3),
    ("TRY", 2),
    ("TWD", 2),
    ("TZS", 2),
    ("UAH", 2),
    ("UGX", 0),
    ("USD", 2),
    ("VND", 0),
    ("XAF", 0),
    ("XOF", 0),
    ("ZAR", 2),
];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("unknown currency code")]
    UnknownCurrency,
    #[error("amount is not a decimal number")]
    NotANumber,
    #[error("amount has more decimals than the currency allows ({0})")]
    TooManyDecimals(u8),
    #[error("amount must be positive")]
    NotPositive,
    #[error("amount is too large")]
    Overflow,
}

/// A known ISO 4217 currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Currency {
    code: &'static str,
    exponent: u8,
}

impl Currency {
    pub fn parse(code: &str) -> Result<Self, MoneyError> {
        CURRENCIES
            .iter()
            .find(|(known, _)| *known == code)
            .map(|(code, exponent)| Self {
                code,
                exponent: *exponent,
            })
            .ok_or(MoneyError::UnknownCurrency)
    }

    pub fn code(&self) -> &'static str {
        self.code
    }

    pub fn exponent(&self) -> u8 {
        self.exponent
    }
}

impl TryFrom<String> for Currency {
    type Error = MoneyError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<Currency> for String {
    fn from(c: Currency) -> Self {
        c.code.to_owned()
    }
}

/// An amount in minor units of one currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Money {
    pub minor: i64,
    pub currency: Currency,
}

impl Money {
    /// Parses a positive major-unit decimal (`"12.50"`, `"1250"`) exactly.
    pub fn parse_major(text: &str, currency: Currency) -> Result<Self, MoneyError> {
        let text = text.trim();
        let (whole, fraction) = match text.split_once('.') {
            Some((w, f)) => (w, f),
            None => (text, ""),
        };
        let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if whole.is_empty() || !all_digits(whole) || !all_digits(fraction) {
            return Err(if text.starts_with('-') {
                MoneyError::NotPositive
            } else {
                MoneyError::NotANumber
            });
        }
        if text.contains('.') && fraction.is_empty() {
            return Err(MoneyError::NotANumber);
        }
        // Trailing zeros beyond the exponent carry no value ("12.500" is 12.50).
        let significant = fraction.trim_end_matches('0');
        let exponent = usize::from(currency.exponent);
        if significant.len() > exponent {
            return Err(MoneyError::TooManyDecimals(currency.exponent));
        }
        let scale = 10i64.pow(u32::from(currency.exponent));
        let whole: i64 = whole.parse().map_err(|_| MoneyError::Overflow)?;
        let mut frac_minor: i64 = 0;
        for (i, digit) in significant.bytes().enumerate() {
            let place =
                10i64.pow(u32::try_from(exponent - 1 - i).map_err(|_| MoneyError::Overflow)?);
            frac_minor += i64::from(digit - b'0') * place;
        }
        let minor = whole
            .checked_mul(scale)
            .and_then(|w| w.checked_add(frac_minor))
            .ok_or(MoneyError::Overflow)?;
        if minor <= 0 {
            return Err(MoneyError::NotPositive);
        }
        Ok(Self { minor, currency })
    }

    /// Renders in major units with exactly the currency's decimals.
    pub fn to_major_string(&self) -> String {
        let exponent = u32::from(self.currency.exponent);
        if exponent == 0 {
            return self.minor.to_string();
        }
        let scale = 10i64.pow(exponent);
        let sign = if self.minor < 0 { "-" } else { "" };
        let abs = self.minor.unsigned_abs();
        let scale = scale.unsigned_abs();
        format!(
            "{sign}{}.{:0width$}",
            abs / scale,
            abs % scale,
            width = exponent as usize
        )
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.to_major_string(), self.currency.code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn usd() -> Currency {
        Currency::parse("USD").expect("USD is known")
    }

    #[test]
    fn parses_major_units_exactly() {
        assert_eq!(
            Money::parse_major("12.50", usd()).map(|m| m.minor),
            Ok(1250)
        );
        assert_eq!(Money::parse_major("12.5", usd()).map(|m| m.minor), Ok(1250));
        assert_eq!(Money::parse_major("0.01", usd()).map(|m| m.minor), Ok(1));
        assert_eq!(
            Money::parse_major("12.500", usd()).map(|m| m.minor),
            Ok(1250)
        );
        let jpy = Currency::parse("JPY").expect("JPY is known");
        assert_eq!(Money::parse_major("1250", jpy).map(|m| m.minor), Ok(1250));
        assert_eq!(
            Money::parse_major("12.5", jpy),
            Err(MoneyError::TooManyDecimals(0))
        );
    }

    #[test]
    fn refuses_bad_amounts() {
        assert_eq!(
            Money::parse_major("12.505", usd()),
            Err(MoneyError::TooManyDecimals(2))
        );
        assert_eq!(Money::parse_major("0", usd()), Err(MoneyError::NotPositive));
        assert_eq!(
            Money::parse_major("-1", usd()),
            Err(MoneyError::NotPositive)
        );
        assert_eq!(
            Money::parse_major("1e3", usd()),
            Err(MoneyError::NotANumber)
        );
        assert_eq!(
            Money::parse_major("12.", usd()),
            Err(MoneyError::NotANumber)
        );
        assert_eq!(Money::parse_major("", usd()), Err(MoneyError::NotANumber));
        assert_eq!(
            Money::parse_major("99999999999999999999", usd()),
            Err(MoneyError::Overflow)
        );
        assert_eq!(Currency::parse("XYZ"), Err(MoneyError::UnknownCurrency));
        assert_eq!(Currency::parse("usd"), Err(MoneyError::UnknownCurrency));
    }

    proptest! {
        #[test]
        fn rendering_round_trips(minor in 1i64..=i64::MAX / 1000) {
            let money = Money { minor, currency: usd() };
            prop_assert_eq!(Money::parse_major(&money.to_major_string(), usd()), Ok(money));
        }
    }
}
