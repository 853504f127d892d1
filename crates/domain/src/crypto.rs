//! Application-layer encryption of sensitive columns (phone numbers, MFA secrets).
//!
//! XChaCha20-Poly1305 with a random 192-bit nonce per value. The key comes from configuration,
//! never from SQL. Each ciphertext is bound to its context (e.g. `users.phone:<user id>`) as
//! associated data, so a value copied into another row or column fails to decrypt.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;

const FORMAT_V1: u8 = 1;
const NONCE_LEN: usize = 24;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    #[error("encryption key must be exactly 32 bytes")]
    BadKeyLength,
    #[error("ciphertext is malformed or was not produced for this context/key")]
    Undecryptable,
}

/// Encrypts and decrypts column values with one 256-bit key.
#[derive(Clone)]
pub struct FieldCipher {
    cipher: XChaCha20Poly1305,
}

impl std::fmt::Debug for FieldCipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FieldCipher(<redacted>)")
    }
}

impl FieldCipher {
    pub fn new(key: &[u8]) -> Result<Self, CryptoError> {
        let cipher =
            XChaCha20Poly1305::new_from_slice(key).map_err(|_| CryptoError::BadKeyLength)?;
        Ok(Self { cipher })
    }

    pub fn encrypt(&self, plaintext: &[u8], context: &str) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let payload = Payload {
            msg: plaintext,
            aad: context.as_bytes(),
        };
        // Encryption only fails for messages beyond ~256 GiB; our inputs are bounded far below.
        let sealed = self
            .cipher
            .encrypt(XNonce::from_slice(&nonce), payload)
            .unwrap_or_default();
        let mut out = Vec::with_capacity(1 + NONCE_LEN + sealed.len());
        out.push(FORMAT_V1);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        out
    }

    pub fn decrypt(&self, sealed: &[u8], context: &str) -> Result<Vec<u8>, CryptoError> {
        let (&format, rest) = sealed.split_first().ok_or(CryptoError::Undecryptable)?;
        if format != FORMAT_V1 || rest.len() < NONCE_LEN {
            return Err(CryptoError::Undecryptable);
        }
        let (nonce, body) = rest.split_at(NONCE_LEN);
        let payload = Payload {
            msg: body,
            aad: context.as_bytes(),
        };
        self.cipher
            .decrypt(XNonce::from_slice(nonce), payload)
            .map_err(|_| CryptoError::Undecryptable)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_binds_context() {
        let cipher = FieldCipher::new(&[7u8; 32]).expect("32-byte key");
        let sealed = cipher.encrypt(b"+15551234567", "users.phone:1");
        assert!(!sealed.windows(12).any(|w| w == b"+15551234567"));
        assert_eq!(
            cipher.decrypt(&sealed, "users.phone:1").as_deref(),
            Ok(&b"+15551234567"[..])
        );
        assert_eq!(
            cipher.decrypt(&sealed, "users.phone:2"),
            Err(CryptoError::Undecryptable)
        );
        let other = FieldCipher::new(&[8u8; 32]).expect("32-byte key");
        assert_eq!(
            other.decrypt(&sealed, "users.phone:1"),
            Err(CryptoError::Undecryptable)
        );
        assert_ne!(
            sealed,
            cipher.encrypt(b"+15551234567", "users.phone:1"),
            "nonces differ"
        );
    }

    #[test]
    fn rejects_bad_keys_and_garbage() {
        assert_eq!(
            FieldCipher::new(&[0u8; 16]).err(),
            Some(CryptoError::BadKeyLength)
        );
        let cipher = FieldCipher::new(&[7u8; 32]).expect("32-byte key");
        assert_eq!(cipher.decrypt(&[], "x"), Err(CryptoError::Undecryptable));
        assert_eq!(
            cipher.decrypt(&[1, 2, 3], "x"),
            Err(CryptoError::Undecryptable)
        );
    }
}
