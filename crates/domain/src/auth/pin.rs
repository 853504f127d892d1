//! Transaction PINs: exactly six digits, and not one of the patterns people pick first.

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PinError {
    #[error("PIN must be exactly 6 digits")]
    Format,
    #[error("PIN must not repeat one digit")]
    AllSame,
    #[error("PIN must not be an ascending or descending sequence")]
    Sequential,
}

pub const PIN_LENGTH: usize = 6;

/// Accepts a PIN for enrolment: six ASCII digits, not all the same digit, and not a run that
/// steps by +1 or -1 (`123456`, `654321`; `890123` and `210987` wrap around and are refused
/// too, since they are typed as a run on a keypad).
pub fn validate_pin(pin: &str) -> Result<(), PinError> {
    let digits: Vec<i16> = pin
        .bytes()
        .map(|b| {
            if b.is_ascii_digit() {
                i16::from(b - b'0')
            } else {
                -1
            }
        })
        .collect();
    if digits.len() != PIN_LENGTH || digits.iter().any(|&d| d < 0) {
        return Err(PinError::Format);
    }
    if digits.windows(2).all(|w| w[0] == w[1]) {
        return Err(PinError::AllSame);
    }
    let steps_by = |delta: i16| {
        digits
            .windows(2)
            .all(|w| (w[1] - w[0]).rem_euclid(10) == delta.rem_euclid(10))
    };
    if steps_by(1) || steps_by(-1) {
        return Err(PinError::Sequential);
    }
    Ok(())
}

/// Whether `pin` has the shape of a PIN (six digits), without the weakness rules. Used when
/// verifying, so a malformed input is refused before any hashing work.
pub fn looks_like_pin(pin: &str) -> bool {
    pin.len() == PIN_LENGTH && pin.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn good_pins_pass() {
        for pin in ["135790", "482915", "112233", "120000", "909090"] {
            assert_eq!(validate_pin(pin), Ok(()), "{pin}");
        }
    }

    #[test]
    fn malformed_pins_are_format_errors() {
        for pin in [
            "",
            "12345",
            "1234567",
            "12a456",
            "12 456",
            "١٢٣٤٥٦",
            "-12345",
        ] {
            assert_eq!(validate_pin(pin), Err(PinError::Format), "{pin:?}");
            assert!(!looks_like_pin(pin), "{pin:?}");
        }
    }

    #[test]
    fn repeated_digits_are_refused() {
        for d in 0..10 {
            let pin = d.to_string().repeat(6);
            assert_eq!(validate_pin(&pin), Err(PinError::AllSame), "{pin}");
        }
    }

    #[test]
    fn sequences_are_refused_in_both_directions() {
        for pin in [
            "123456", "234567", "456789", "012345", "654321", "987654", "543210",
        ] {
            assert_eq!(validate_pin(pin), Err(PinError::Sequential), "{pin}");
        }
        // Keypad runs that wrap past 9/0.
        for pin in ["789012", "890123", "210987", "109876"] {
            assert_eq!(validate_pin(pin), Err(PinError::Sequential), "{pin}");
        }
        // Almost-sequences are fine.
        assert_eq!(validate_pin("123457"), Ok(()));
        assert_eq!(validate_pin("654320"), Ok(()));
    }
}
