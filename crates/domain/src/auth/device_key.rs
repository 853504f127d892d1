//! Public keys of registered devices (ES256 on P-256, or Ed25519) and their signatures.
//! Keys arrive as DER SubjectPublicKeyInfo; they are parsed (the point must be on the curve)
//! and must be in canonical DER so the same key always has the same hash.

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::signature::{
    ParsedPublicKey, UnparsedPublicKey, VerificationAlgorithm, ECDSA_P256_SHA256_ASN1,
    ECDSA_P256_SHA256_FIXED, ED25519,
};
use sha2::{Digest, Sha256};

/// The signature algorithms devices may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum DeviceKeyAlg {
    /// ECDSA on P-256 with SHA-256.
    ES256,
    /// Ed25519.
    EdDSA,
}

impl DeviceKeyAlg {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ES256 => "ES256",
            Self::EdDSA => "EdDSA",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "ES256" => Some(Self::ES256),
            "EdDSA" => Some(Self::EdDSA),
            _ => None,
        }
    }

    fn verification(self) -> &'static dyn VerificationAlgorithm {
        match self {
            Self::ES256 => &ECDSA_P256_SHA256_ASN1,
            Self::EdDSA => &ED25519,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DeviceKeyError {
    #[error("the public key is not a valid key for the algorithm")]
    Invalid,
    #[error("the public key must be a DER SubjectPublicKeyInfo in canonical form")]
    NotCanonicalSpki,
}

/// A validated device public key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DevicePublicKey {
    alg: DeviceKeyAlg,
    spki: Vec<u8>,
}

impl DevicePublicKey {
    /// Parses a DER SPKI for `alg`. Raw points, keys of the other algorithm, points not on the
    /// curve and non-canonical encodings are refused.
    pub fn parse(alg: DeviceKeyAlg, spki_der: &[u8]) -> Result<Self, DeviceKeyError> {
        if spki_der.is_empty() || spki_der.len() > 512 {
            return Err(DeviceKeyError::Invalid);
        }
        let parsed = ParsedPublicKey::new(alg.verification(), spki_der)
            .map_err(|_| DeviceKeyError::Invalid)?;
        let canonical = parsed
            .as_der()
            .map_err(|_| DeviceKeyError::Invalid)?
            .as_ref()
            .to_vec();
        if canonical != spki_der {
            return Err(DeviceKeyError::NotCanonicalSpki);
        }
        Ok(Self {
            alg,
            spki: canonical,
        })
    }

    pub fn alg(&self) -> DeviceKeyAlg {
        self.alg
    }

    pub fn spki_der(&self) -> &[u8] {
        &self.spki
    }

    /// `sha256:<hex>` of the SPKI DER: a stable fingerprint to show and compare.
    pub fn fingerprint(&self) -> String {
        format!("sha256:{}", hex::encode(Sha256::digest(&self.spki)))
    }

    /// Verifies `signature` over `message`. ES256 signatures may be ASN.1 DER (what mobile
    /// key stores produce) or the 64-byte fixed `r || s` form (JOSE).
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        let der = UnparsedPublicKey::new(self.alg.verification(), &self.spki);
        if der.verify(message, signature).is_ok() {
            return true;
        }
        if self.alg == DeviceKeyAlg::ES256 && signature.len() == 64 {
            let fixed = UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, &self.spki);
            return fixed.verify(message, signature).is_ok();
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::signature::{
        EcdsaKeyPair, Ed25519KeyPair, KeyPair, ECDSA_P256_SHA256_ASN1_SIGNING,
        ECDSA_P256_SHA256_FIXED_SIGNING,
    };

    fn p256() -> EcdsaKeyPair {
        EcdsaKeyPair::generate(&ECDSA_P256_SHA256_ASN1_SIGNING).expect("key")
    }

    #[test]
    fn es256_keys_parse_and_verify_both_signature_forms() {
        let pair = p256();
        let spki = pair.public_key().as_der().expect("spki").as_ref().to_vec();
        let key = DevicePublicKey::parse(DeviceKeyAlg::ES256, &spki).expect("valid key");
        let sig = pair.sign(&SystemRandom::new(), b"hello").expect("sign");
        assert!(key.verify(b"hello", sig.as_ref()));
        assert!(!key.verify(b"hellO", sig.as_ref()));
        assert!(key.fingerprint().starts_with("sha256:") && key.fingerprint().len() == 71);

        // Fixed-size (JOSE) signatures from another P-256 key.
        let fixed_pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).expect("key");
        let fixed_spki = fixed_pair
            .public_key()
            .as_der()
            .expect("spki")
            .as_ref()
            .to_vec();
        let fixed_key = DevicePublicKey::parse(DeviceKeyAlg::ES256, &fixed_spki).expect("valid");
        let fixed_sig = fixed_pair.sign(&SystemRandom::new(), b"msg").expect("sign");
        assert_eq!(fixed_sig.as_ref().len(), 64);
        assert!(fixed_key.verify(b"msg", fixed_sig.as_ref()));
    }

    #[test]
    fn ed25519_keys_parse_and_verify() {
        let pair = Ed25519KeyPair::generate().expect("key");
        let spki = pair.public_key().as_der().expect("spki").as_ref().to_vec();
        let key = DevicePublicKey::parse(DeviceKeyAlg::EdDSA, &spki).expect("valid key");
        let sig = pair.sign(b"challenge");
        assert!(key.verify(b"challenge", sig.as_ref()));
        assert!(!key.verify(b"challenge!", sig.as_ref()));
        // An ES256 key is not an Ed25519 key and vice versa.
        assert!(DevicePublicKey::parse(DeviceKeyAlg::ES256, &spki).is_err());
        let p256_spki = p256()
            .public_key()
            .as_der()
            .expect("spki")
            .as_ref()
            .to_vec();
        assert!(DevicePublicKey::parse(DeviceKeyAlg::EdDSA, &p256_spki).is_err());
    }

    #[test]
    fn raw_points_garbage_and_trailing_bytes_are_refused() {
        let pair = p256();
        let raw_point = pair.public_key().as_ref().to_vec();
        assert_eq!(
            DevicePublicKey::parse(DeviceKeyAlg::ES256, &raw_point),
            Err(DeviceKeyError::NotCanonicalSpki)
        );
        let mut spki = pair.public_key().as_der().expect("spki").as_ref().to_vec();
        spki.push(0);
        assert!(DevicePublicKey::parse(DeviceKeyAlg::ES256, &spki).is_err());
        assert!(DevicePublicKey::parse(DeviceKeyAlg::ES256, b"not a key").is_err());
        assert!(DevicePublicKey::parse(DeviceKeyAlg::EdDSA, &[]).is_err());
        // A point that is not on the curve.
        let mut bad = pair.public_key().as_der().expect("spki").as_ref().to_vec();
        let last = bad.len() - 1;
        bad[last] ^= 0x01;
        assert!(DevicePublicKey::parse(DeviceKeyAlg::ES256, &bad).is_err());
    }
}
