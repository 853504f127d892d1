//! Money amounts: the JSON text of a wire amount (string or number in major units) and
//! `Money::parse_major`, in currencies with 0, 2 and 3 decimals.
//!
//! Asserts: an accepted amount is 1..=MAX_MINOR minor units; it re-formats with exactly the
//! currency's decimals to text that parses back to the same value (bare and quoted); and it
//! equals what an independent digit-by-digit reference computes in 128-bit arithmetic, with
//! the reference accepting exactly what the parser accepts.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tmcp_domain::{Currency, Money, MoneyError};
use tmcp_usecases::amounts::{parse_json_amount, AmountError, MAX_MINOR};

const CODES: [&str; 6] = ["USD", "JPY", "BHD", "EUR", "CLP", "KWD"];

/// The reference: minor units of plain `digits[.digits]` text, or why not.
fn reference(text: &str, exponent: u32) -> Result<i128, MoneyError> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || !digits(whole) || !digits(fraction) || text.ends_with('.') {
        return Err(MoneyError::NotANumber);
    }
    let fraction = fraction.trim_end_matches('0');
    if fraction.len() > exponent as usize {
        return Err(MoneyError::TooManyDecimals(exponent as u8));
    }
    let mut minor: i128 = 0;
    for b in whole.bytes().chain(fraction.bytes()) {
        minor = minor
            .checked_mul(10)
            .and_then(|m| m.checked_add(i128::from(b - b'0')))
            .ok_or(MoneyError::Overflow)?;
    }
    for _ in fraction.len()..exponent as usize {
        minor = minor.checked_mul(10).ok_or(MoneyError::Overflow)?;
    }
    Ok(minor)
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let currency = Currency::parse(CODES[usize::from(pick) % CODES.len()]).expect("known");
    let exponent = u32::from(currency.exponent());

    // The wire parser (every money-moving request).
    match parse_json_amount(text, currency) {
        Ok(money) => {
            assert!(
                (1..=MAX_MINOR).contains(&money.minor),
                "{text:?} -> {money:?}"
            );
            assert_eq!(money.currency, currency);
            let shown = money.to_major_string();
            let decimals = shown.split_once('.').map_or(0, |(_, f)| f.len());
            assert_eq!(decimals as u32, exponent, "{shown}");
            assert_eq!(parse_json_amount(&shown, currency), Ok(money));
            assert_eq!(
                parse_json_amount(&format!("\"{shown}\""), currency),
                Ok(money)
            );
            // The literal the client wrote, unquoted if it was a string.
            let literal = match text.trim() {
                t if t.starts_with('"') => serde_json::from_str::<String>(t).expect("string"),
                t => t.to_owned(),
            };
            assert_eq!(
                reference(&literal, exponent).ok(),
                Some(i128::from(money.minor))
            );
        }
        Err(AmountError::TooLarge) | Err(AmountError::NotPositive) => {}
        Err(AmountError::TooManyDecimals(n)) => assert_eq!(u32::from(n), exponent),
        Err(AmountError::NotADecimal) => {}
    }

    // The domain parser on its own.
    let parsed = Money::parse_major(text, currency);
    if let Ok(money) = parsed {
        assert!(money.minor > 0);
        assert_eq!(
            Money::parse_major(&money.to_major_string(), currency),
            Ok(money)
        );
    }
    let expected = reference(text.trim(), exponent);
    match (&parsed, &expected) {
        (Ok(money), Ok(minor)) => assert_eq!(i128::from(money.minor), *minor),
        (Ok(money), Err(e)) => panic!("{text:?} parsed to {money:?}, reference says {e:?}"),
        (Err(MoneyError::Overflow), Ok(minor)) => assert!(*minor > i128::from(i64::MAX)),
        (Err(MoneyError::NotPositive), Ok(minor)) => assert_eq!(*minor, 0),
        (Err(e), Ok(minor)) => panic!("{text:?} refused ({e:?}), reference says {minor}"),
        (Err(_), Err(_)) => {}
    }
});
