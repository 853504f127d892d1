//! TEP signing keys: created once, persisted with the private half encrypted by the column
//! cipher, loaded at start-up. A key that cannot be decrypted stops the server — a silently
//! regenerated key would invalidate every outstanding token and hide a configuration error.

use anyhow::{anyhow, bail, Context};
use aws_lc_rs::encoding::AsDer;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};
use rand::RngCore;
use std::collections::HashMap;
use time::OffsetDateTime;
use tmcp_domain::crypto::FieldCipher;
use tmcp_repository::{Database, RepoError, StoredSigningKey};

/// A usable key: signing half (if it may still sign) and verifying half.
pub struct LoadedKey {
    pub kid: String,
    pub algorithm: Algorithm,
    pub encoding: Option<EncodingKey>,
    pub decoding: DecodingKey,
    pub jwk: serde_json::Value,
    pub retire_after: Option<OffsetDateTime>,
}

/// All keys that can still verify tokens, and the one that signs new ones.
pub struct KeyRing {
    pub keys: HashMap<String, LoadedKey>,
    pub signing_kid: String,
}

pub fn parse_algorithm(name: &str) -> anyhow::Result<Algorithm> {
    match name {
        "RS256" => Ok(Algorithm::RS256),
        "ES256" => Ok(Algorithm::ES256),
        "EdDSA" => Ok(Algorithm::EdDSA),
        other => bail!("unsupported TEP signing algorithm {other:?} (RS256, ES256, EdDSA)"),
    }
}

fn algorithm_name(algorithm: Algorithm) -> &'static str {
    match algorithm {
        Algorithm::ES256 => "ES256",
        Algorithm::EdDSA => "EdDSA",
        _ => "RS256",
    }
}

fn cipher_context(kid: &str) -> String {
    format!("oauth_signing_keys:{kid}")
}

fn pem(pkcs8: &[u8]) -> String {
    format!(
        "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
        STANDARD.encode(pkcs8)
    )
}

fn encoding_key(algorithm: Algorithm, pkcs8: &[u8]) -> anyhow::Result<EncodingKey> {
    Ok(match algorithm {
        Algorithm::ES256 => EncodingKey::from_ec_pem(pem(pkcs8).as_bytes())?,
        Algorithm::EdDSA => EncodingKey::from_ed_der(pkcs8),
        _ => EncodingKey::from_rsa_pem(pem(pkcs8).as_bytes())?,
    })
}

/// Generates a new private key as PKCS#8 v1 DER.
fn generate_pkcs8(algorithm: Algorithm) -> anyhow::Result<Vec<u8>> {
    let failed = |_| anyhow!("key generation failed");
    Ok(match algorithm {
        Algorithm::ES256 => aws_lc_rs::signature::EcdsaKeyPair::generate(
            &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
        )
        .map_err(failed)?
        .to_pkcs8v1()
        .map_err(failed)?
        .as_ref()
        .to_vec(),
        Algorithm::EdDSA => aws_lc_rs::signature::Ed25519KeyPair::generate()
            .map_err(failed)?
            .to_pkcs8v1()
            .map_err(failed)?
            .as_ref()
            .to_vec(),
        _ => {
            let pair = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048)
                .map_err(failed)?;
            let der: aws_lc_rs::encoding::Pkcs8V1Der<'static> = pair.as_der().map_err(failed)?;
            der.as_ref().to_vec()
        }
    })
}

fn new_kid() -> String {
    let mut bytes = [0u8; 12];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

fn public_jwk(
    kid: &str,
    algorithm: Algorithm,
    key: &EncodingKey,
) -> anyhow::Result<serde_json::Value> {
    let mut jwk = Jwk::from_encoding_key(key, algorithm).context("cannot derive the public JWK")?;
    jwk.common.key_id = Some(kid.to_owned());
    jwk.common.public_key_use = Some(jsonwebtoken::jwk::PublicKeyUse::Signature);
    Ok(serde_json::to_value(&jwk)?)
}

fn load(stored: &StoredSigningKey, cipher: &FieldCipher) -> anyhow::Result<LoadedKey> {
    let algorithm = parse_algorithm(&stored.algorithm)?;
    let jwk: Jwk = serde_json::from_value(stored.public_jwk.clone())
        .with_context(|| format!("signing key {} has a malformed public JWK", stored.kid))?;
    let decoding = DecodingKey::from_jwk(&jwk)?;
    let encoding = if stored.status == "active" {
        let pkcs8 = cipher.decrypt(&stored.private_key_ciphertext, &cipher_context(&stored.kid)).map_err(|_| {
            anyhow!(
                "cannot decrypt TEP signing key {}: is TMCP_ENCRYPTION_KEY (or data_dir/encryption.key) the one it was created with?",
                stored.kid
            )
        })?;
        Some(encoding_key(algorithm, &pkcs8)?)
    } else {
        None
    };
    Ok(LoadedKey {
        kid: stored.kid.clone(),
        algorithm,
        encoding,
        decoding,
        jwk: stored.public_jwk.clone(),
        retire_after: stored.retire_after,
    })
}

/// A fresh key of `algorithm` held only in memory (nothing is stored): for code that needs a
/// real key ring without a database, such as the TEP fuzz target. Built the same way as a
/// stored key, so it verifies exactly as a loaded one does.
pub fn ephemeral_key(kid: &str, algorithm: Algorithm) -> anyhow::Result<LoadedKey> {
    let pkcs8 = generate_pkcs8(algorithm)?;
    let encoding = encoding_key(algorithm, &pkcs8)?;
    let jwk = public_jwk(kid, algorithm, &encoding)?;
    let decoding = DecodingKey::from_jwk(&serde_json::from_value(jwk.clone())?)?;
    Ok(LoadedKey {
        kid: kid.to_owned(),
        algorithm,
        encoding: Some(encoding),
        decoding,
        jwk,
        retire_after: None,
    })
}

/// Creates and stores a new active key of `algorithm`.
pub async fn create_key(
    db: &dyn Database,
    cipher: &FieldCipher,
    algorithm: Algorithm,
    now: OffsetDateTime,
) -> anyhow::Result<String> {
    let pkcs8 = tokio::task::spawn_blocking(move || generate_pkcs8(algorithm)).await??;
    let kid = new_kid();
    let key = encoding_key(algorithm, &pkcs8)?;
    let stored = StoredSigningKey {
        kid: kid.clone(),
        algorithm: algorithm_name(algorithm).to_owned(),
        private_key_ciphertext: cipher.encrypt(&pkcs8, &cipher_context(&kid)),
        public_jwk: public_jwk(&kid, algorithm, &key)?,
        status: "active".into(),
        created_at: now,
        retire_after: None,
    };
    db.insert_signing_key(stored)
        .await
        .context("cannot store the new signing key")?;
    Ok(kid)
}

/// Loads every usable key, creating the first one on a fresh database. The newest active key
/// of the configured algorithm signs; if there is none (first start, or the algorithm was
/// changed) one is created.
pub async fn load_key_ring(
    db: &dyn Database,
    cipher: &FieldCipher,
    algorithm: Algorithm,
    now: OffsetDateTime,
) -> anyhow::Result<KeyRing> {
    for attempt in 0..2 {
        let stored = db
            .list_signing_keys()
            .await
            .context("cannot read signing keys")?;
        let mut keys = HashMap::new();
        let mut signing: Option<(OffsetDateTime, String)> = None;
        for row in &stored {
            if row.retire_after.is_some_and(|t| t <= now) && row.status != "active" {
                continue;
            }
            let loaded = load(row, cipher)?;
            let newer = signing.as_ref().is_none_or(|(at, _)| row.created_at >= *at);
            if loaded.encoding.is_some() && loaded.algorithm == algorithm && newer {
                signing = Some((row.created_at, row.kid.clone()));
            }
            keys.insert(row.kid.clone(), loaded);
        }
        if let Some((_, signing_kid)) = signing {
            return Ok(KeyRing { keys, signing_kid });
        }
        if attempt == 0 {
            // A concurrent instance may insert at the same time; a clash just means reload.
            match create_key(db, cipher, algorithm, now).await {
                Ok(kid) => tracing::warn!(%kid, "created a new TEP signing key"),
                Err(e)
                    if e.downcast_ref::<RepoError>()
                        .is_some_and(|r| matches!(r, RepoError::Conflict { .. })) => {}
                Err(e) => return Err(e),
            }
        }
    }
    bail!("no usable TEP signing key after creating one")
}

/// Rotation: current active keys stop signing (they keep verifying until `retire_after`), and
/// a fresh key becomes the signer on the next start-up or reload.
pub async fn rotate(
    db: &dyn Database,
    cipher: &FieldCipher,
    algorithm: Algorithm,
    now: OffsetDateTime,
    max_token_lifetime: time::Duration,
) -> anyhow::Result<String> {
    db.retire_active_signing_keys(now + max_token_lifetime)
        .await?;
    create_key(db, cipher, algorithm, now).await
}
