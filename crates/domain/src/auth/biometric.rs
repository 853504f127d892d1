//! The biometric second factor: the device signs a challenge string with the key it
//! registered, after the user unlocked the key with a biometric gesture on the device.
//!
//! Challenge string (UTF-8, no trailing newline):
//! `tmcp-mfa:{action}:{device_id}:{timestamp}` where `timestamp` is Unix seconds and `action`
//! names what the signature authorises (`login`, `delete_mfa_method:<method id>`,
//! `delete_device:<device id>`). The server
//! accepts a timestamp at most 30 s old (and at most 30 s in the future, for clock skew), and
//! only a timestamp newer than the last one it accepted from that device method, so a captured
//! signature cannot be replayed.

/// How far a signed timestamp may be from the server's clock.
pub const MAX_AGE_SECONDS: i64 = 30;

/// The exact bytes the device signs.
pub fn challenge(action: &str, device_id: &str, timestamp: i64) -> String {
    format!("tmcp-mfa:{action}:{device_id}:{timestamp}")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BiometricCheck {
    #[error("the signed timestamp is too old or too far in the future")]
    Stale,
    #[error("the signed timestamp was already used")]
    Replayed,
}

/// Accepts `timestamp` at `now` (Unix seconds) given the last accepted timestamp.
pub fn check_timestamp(
    timestamp: i64,
    now: i64,
    last_used: Option<i64>,
) -> Result<(), BiometricCheck> {
    if (now - timestamp).abs() > MAX_AGE_SECONDS {
        return Err(BiometricCheck::Stale);
    }
    match last_used {
        Some(last) if timestamp <= last => Err(BiometricCheck::Replayed),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenge_format_is_stable() {
        assert_eq!(
            challenge("login", "dev-1", 1_764_064_800),
            "tmcp-mfa:login:dev-1:1764064800"
        );
    }

    #[test]
    fn timestamps_must_be_fresh_and_new() {
        let now = 1_000_000;
        assert_eq!(check_timestamp(now, now, None), Ok(()));
        assert_eq!(check_timestamp(now - 30, now, None), Ok(()));
        assert_eq!(
            check_timestamp(now - 31, now, None),
            Err(BiometricCheck::Stale)
        );
        assert_eq!(
            check_timestamp(now + 31, now, None),
            Err(BiometricCheck::Stale)
        );
        assert_eq!(
            check_timestamp(now, now, Some(now)),
            Err(BiometricCheck::Replayed)
        );
        assert_eq!(check_timestamp(now, now, Some(now - 1)), Ok(()));
    }
}
