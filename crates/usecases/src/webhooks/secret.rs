//! Webhook secrets in the Standard Webhooks format: `whsec_` followed by the base64 of 32
//! random bytes. The protocol's `X-Webhook-Signature` is keyed by the whole string, the
//! Standard Webhooks signature by the decoded bytes. Secrets are stored sealed with the
//! column cipher (they must be readable to sign), bound to their app by the cipher context.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use rand::RngCore;
use tmcp_domain::crypto::FieldCipher;

pub const PREFIX: &str = "whsec_";

/// A secret in clear; never logged (its `Debug` is redacted).
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSecret(String);

impl std::fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookSecret(<redacted>)")
    }
}

impl WebhookSecret {
    pub fn generate(rng: &mut dyn RngCore) -> Self {
        let mut bytes = [0u8; 32];
        rng.fill_bytes(&mut bytes);
        Self(format!("{PREFIX}{}", STANDARD.encode(bytes)))
    }

    /// Accepts a stored or printed secret; `None` unless it is `whsec_` + base64.
    pub fn parse(text: &str) -> Option<Self> {
        let encoded = text.strip_prefix(PREFIX)?;
        STANDARD.decode(encoded).ok().filter(|b| !b.is_empty())?;
        Some(Self(text.to_owned()))
    }

    /// The whole string: shown once to the developer, and the protocol signature's key.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The Standard Webhooks key: the decoded bytes after the prefix.
    pub fn key_bytes(&self) -> Vec<u8> {
        self.0
            .strip_prefix(PREFIX)
            .and_then(|encoded| STANDARD.decode(encoded).ok())
            .unwrap_or_default()
    }

    pub fn seal(&self, cipher: &FieldCipher, app_id: &str) -> Vec<u8> {
        cipher.encrypt(self.0.as_bytes(), &context(app_id))
    }

    pub fn open(cipher: &FieldCipher, app_id: &str, sealed: &[u8]) -> Option<Self> {
        let bytes = cipher.decrypt(sealed, &context(app_id)).ok()?;
        Self::parse(std::str::from_utf8(&bytes).ok()?)
    }
}

fn context(app_id: &str) -> String {
    format!("webhook_secret:{app_id}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    #[test]
    fn secrets_are_prefixed_base64_of_32_bytes_and_round_trip_sealed() {
        let mut rng = StdRng::seed_from_u64(7);
        let secret = WebhookSecret::generate(&mut rng);
        assert!(secret.expose().starts_with("whsec_"));
        assert_eq!(secret.key_bytes().len(), 32);
        assert_ne!(secret, WebhookSecret::generate(&mut rng));
        let cipher = FieldCipher::new(&[9u8; 32]).expect("key");
        let sealed = secret.seal(&cipher, "ma_app");
        assert_eq!(
            WebhookSecret::open(&cipher, "ma_app", &sealed),
            Some(secret.clone())
        );
        assert_eq!(WebhookSecret::open(&cipher, "ma_other", &sealed), None);
        assert!(!format!("{secret:?}").contains("whsec_"));
        assert_eq!(WebhookSecret::parse("whsec_!!"), None);
    }
}
