//! Opaque bearer secrets (session and refresh tokens): 256 random bits from the operating
//! system, shown to the client once, stored only as their SHA-256.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};

/// Which kind of secret a token is; the prefix lets logs and scanners tell them apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    Session,
    Refresh,
}

impl TokenKind {
    pub fn prefix(self) -> &'static str {
        match self {
            Self::Session => "st_",
            Self::Refresh => "rt_",
        }
    }
}

const TOKEN_BYTES: usize = 32;

/// A freshly generated token: its text (for the client) and its hash (for the database).
#[derive(Clone, PartialEq, Eq)]
pub struct IssuedToken {
    pub token: String,
    pub hash: String,
}

impl std::fmt::Debug for IssuedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedToken")
            .field("token", &"<redacted>")
            .field("hash", &self.hash)
            .finish()
    }
}

/// Generates a token of `kind`: prefix + 43 characters of base64url (256 bits).
pub fn issue(kind: TokenKind) -> IssuedToken {
    let mut bytes = [0u8; TOKEN_BYTES];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let token = format!("{}{}", kind.prefix(), URL_SAFE_NO_PAD.encode(bytes));
    let hash = hash_token(&token);
    IssuedToken { token, hash }
}

/// The lowercase hex SHA-256 of a presented token, the only form that is stored. Lookups
/// compare hashes, so the database never sees (or leaks timing about) the secret itself.
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Whether `token` has the shape of a token of `kind` (cheap refusal before any lookup).
pub fn looks_like(kind: TokenKind, token: &str) -> bool {
    token.strip_prefix(kind.prefix()).is_some_and(|rest| {
        rest.len() == 43
            && rest
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_prefixed_and_hashed() {
        let a = issue(TokenKind::Session);
        let b = issue(TokenKind::Session);
        assert_ne!(a.token, b.token);
        assert!(looks_like(TokenKind::Session, &a.token), "{}", a.token);
        assert!(!looks_like(TokenKind::Refresh, &a.token));
        assert_eq!(a.hash, hash_token(&a.token));
        assert_eq!(a.hash.len(), 64);
        assert!(!a.hash.contains(&a.token[3..]));
        assert!(!format!("{a:?}").contains(&a.token));
        let r = issue(TokenKind::Refresh);
        assert!(r.token.starts_with("rt_") && looks_like(TokenKind::Refresh, &r.token));
    }

    #[test]
    fn hash_is_sha256_hex() {
        assert_eq!(
            hash_token("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn malformed_tokens_do_not_look_like_tokens() {
        assert!(!looks_like(TokenKind::Session, ""));
        assert!(!looks_like(TokenKind::Session, "st_short"));
        assert!(!looks_like(
            TokenKind::Session,
            &format!("st_{}", "a".repeat(42) + "!")
        ));
        assert!(!looks_like(
            TokenKind::Session,
            &format!("tep.{}", "a".repeat(43))
        ));
    }
}
