//! TOTP (RFC 6238) as authenticator apps use it: HMAC-SHA-1, 6 digits, 30-second steps, one
//! step of clock drift accepted either way, and each step accepted at most once.

use totp_rs::{Algorithm, Builder, Secret, Totp};

/// Digits of codes from authenticator apps.
pub const APP_DIGITS: u8 = 6;
/// Seconds per step.
pub const STEP_SECONDS: u64 = 30;
/// Steps of drift accepted on either side of the current one.
pub const SKEW_STEPS: u16 = 1;
/// Bytes of a newly generated shared secret (160 bits, RFC 4226's recommendation).
pub const SECRET_BYTES: usize = 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TotpCheck {
    #[error("the code does not match any accepted time step")]
    Mismatch,
    #[error("the code was already used")]
    Replayed,
}

/// A shared TOTP secret with the app parameters.
#[derive(Clone)]
pub struct TotpKey {
    totp: Totp,
}

impl std::fmt::Debug for TotpKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TotpKey(<redacted>)")
    }
}

impl TotpKey {
    /// The authenticator-app parameters around `secret` (at least 16 bytes).
    pub fn new(secret: &[u8]) -> Option<Self> {
        Self::with_digits(secret, APP_DIGITS)
    }

    /// Any digit count RFC 6238 allows (6–8); tests use 8 for the RFC's vectors.
    pub fn with_digits(secret: &[u8], digits: u8) -> Option<Self> {
        Builder::new()
            .with_algorithm(Algorithm::SHA1)
            .with_digits(digits)
            .with_skew(SKEW_STEPS)
            .with_step_duration(STEP_SECONDS)
            .with_secret(Secret::from(secret))
            .build()
            .ok()
            .map(|totp| Self { totp })
    }

    /// The key for a secret given in base32 (as shown at enrolment).
    pub fn from_base32(text: &str) -> Option<Self> {
        let secret = Secret::try_from_base32(text).ok()?;
        Self::new(secret.as_bytes())
    }

    /// A fresh random secret from the operating system's generator.
    pub fn generate_secret() -> Vec<u8> {
        use rand::RngCore;
        let mut secret = vec![0u8; SECRET_BYTES];
        rand::rngs::OsRng.fill_bytes(&mut secret);
        secret
    }

    /// The secret in unpadded base32, as typed into an authenticator app.
    pub fn secret_base32(&self) -> String {
        self.totp.secret().to_base32()
    }

    /// The `otpauth://totp/Issuer:account?secret=…&issuer=Issuer` enrolment URI.
    pub fn otpauth_uri(&self, issuer: &str, account: &str) -> Option<String> {
        // Colons separate issuer and account in the label; neither may contain one.
        let clean = |s: &str| s.replace(':', "");
        Builder::new()
            .with_algorithm(Algorithm::SHA1)
            .with_digits(self.totp.digits())
            .with_step_duration(STEP_SECONDS)
            .with_secret(self.totp.secret().clone())
            .with_issuer(Some(clean(issuer)))
            .with_account_name(clean(account))
            .build()
            .ok()?
            .to_url()
            .ok()
    }

    /// The time step (`unix_seconds / 30`) containing `unix_seconds`.
    pub fn step_at(unix_seconds: u64) -> u64 {
        unix_seconds / STEP_SECONDS
    }

    /// The code for the step containing `unix_seconds`.
    pub fn code_at(&self, unix_seconds: u64) -> String {
        self.totp.generate(unix_seconds).to_string()
    }

    /// Checks `code` at `unix_seconds` (±1 step). `last_used_step` is the step of the last
    /// code accepted for this secret: a code of that step or an earlier one is a replay.
    /// Returns the matched step, which the caller must store as the new last used step
    /// (atomically, so two concurrent uses of one code cannot both pass).
    pub fn verify(
        &self,
        code: &str,
        unix_seconds: u64,
        last_used_step: Option<u64>,
    ) -> Result<u64, TotpCheck> {
        let code = code.trim();
        if code.len() != usize::from(self.totp.digits())
            || !code.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(TotpCheck::Mismatch);
        }
        let step = self
            .totp
            .check(code, unix_seconds)
            .ok_or(TotpCheck::Mismatch)?;
        match last_used_step {
            Some(last) if step <= last => Err(TotpCheck::Replayed),
            _ => Ok(step),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 appendix B, SHA-1 rows: the seed is the ASCII string "12345678901234567890".
    const RFC_SEED: &[u8] = b"12345678901234567890";
    const RFC_VECTORS: [(u64, &str); 6] = [
        (59, "94287082"),
        (1_111_111_109, "07081804"),
        (1_111_111_111, "14050471"),
        (1_234_567_890, "89005924"),
        (2_000_000_000, "69279037"),
        (20_000_000_000, "65353130"),
    ];

    #[test]
    fn rfc_6238_sha1_vectors_with_eight_digits() {
        let key = TotpKey::with_digits(RFC_SEED, 8).expect("valid key");
        for (time, expected) in RFC_VECTORS {
            assert_eq!(key.code_at(time), expected, "T = {time}");
            assert_eq!(
                key.verify(expected, time, None),
                Ok(time / 30),
                "T = {time}"
            );
        }
    }

    #[test]
    fn six_digit_app_codes_are_the_low_digits_of_the_rfc_values() {
        let key = TotpKey::new(RFC_SEED).expect("valid key");
        for (time, expected) in RFC_VECTORS {
            assert_eq!(key.code_at(time), &expected[2..], "T = {time}");
        }
    }

    #[test]
    fn one_step_of_drift_either_way_and_no_more() {
        let key = TotpKey::new(RFC_SEED).expect("valid key");
        let now = 1_234_567_890;
        let current = key.code_at(now);
        let previous = key.code_at(now - 30);
        let next = key.code_at(now + 30);
        assert_eq!(key.verify(&current, now, None), Ok(now / 30));
        assert_eq!(key.verify(&previous, now, None), Ok(now / 30 - 1));
        assert_eq!(key.verify(&next, now, None), Ok(now / 30 + 1));
        assert_eq!(
            key.verify(&key.code_at(now - 60), now, None),
            Err(TotpCheck::Mismatch)
        );
        assert_eq!(
            key.verify(&key.code_at(now + 60), now, None),
            Err(TotpCheck::Mismatch)
        );
    }

    #[test]
    fn a_code_is_accepted_once() {
        let key = TotpKey::new(RFC_SEED).expect("valid key");
        let now = 2_000_000_000;
        let code = key.code_at(now);
        let step = key.verify(&code, now, None).expect("first use");
        assert_eq!(key.verify(&code, now, Some(step)), Err(TotpCheck::Replayed));
        // An older code after a newer one was used is a replay too.
        let older = key.code_at(now - 30);
        assert_eq!(
            key.verify(&older, now, Some(step)),
            Err(TotpCheck::Replayed)
        );
        // The next step's code still works.
        let later = key.code_at(now + 30);
        assert_eq!(key.verify(&later, now + 30, Some(step)), Ok(step + 1));
    }

    #[test]
    fn malformed_codes_never_match() {
        let key = TotpKey::new(RFC_SEED).expect("valid key");
        for code in ["", "12345", "1234567", "abcdef", "12 456"] {
            assert_eq!(
                key.verify(code, 59, None),
                Err(TotpCheck::Mismatch),
                "{code:?}"
            );
        }
    }

    #[test]
    fn short_secrets_are_refused_and_uris_carry_the_secret() {
        assert!(TotpKey::new(b"too short").is_none());
        let secret = TotpKey::generate_secret();
        assert_eq!(secret.len(), SECRET_BYTES);
        let key = TotpKey::new(&secret).expect("valid key");
        let uri = key.otpauth_uri("TMCP", "alice").expect("uri");
        assert!(uri.starts_with("otpauth://totp/TMCP:alice?"), "{uri}");
        assert!(
            uri.contains(&format!("secret={}", key.secret_base32())),
            "{uri}"
        );
        assert!(uri.contains("issuer=TMCP"), "{uri}");
        assert_ne!(TotpKey::generate_secret(), secret);
        let again = TotpKey::from_base32(&key.secret_base32()).expect("round trip");
        assert_eq!(again.code_at(1_000), key.code_at(1_000));
    }
}
