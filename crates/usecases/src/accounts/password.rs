//! Password and PIN hashing: Argon2id with the OWASP parameters (19 MiB, 2 passes, 1 lane),
//! always on the blocking pool so the async executor keeps serving other requests.

use super::AccountsError;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use tokio::sync::OnceCell;

/// OWASP (2023) minimum for Argon2id: m = 19456 KiB, t = 2, p = 1.
fn hasher() -> Argon2<'static> {
    let params = Params::new(19_456, 2, 1, None).unwrap_or(Params::DEFAULT);
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes a secret into a PHC string (`$argon2id$v=19$m=19456,t=2,p=1$…`).
pub async fn hash_secret(secret: String) -> Result<String, AccountsError> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut rand::rngs::OsRng);
        hasher()
            .hash_password(secret.as_bytes(), &salt)
            .map(|hash| hash.to_string())
    })
    .await
    .map_err(AccountsError::internal)?
    .map_err(AccountsError::internal)
}

/// Verifies a secret against a stored PHC string. A malformed stored value (such as the
/// tombstone of a deleted account) never verifies.
pub async fn verify_secret(secret: String, stored: String) -> Result<bool, AccountsError> {
    tokio::task::spawn_blocking(move || match PasswordHash::new(&stored) {
        Ok(parsed) => hasher().verify_password(secret.as_bytes(), &parsed).is_ok(),
        Err(_) => {
            // Spend the same effort as a real verification.
            let _ = hasher().hash_password(
                secret.as_bytes(),
                &SaltString::generate(&mut rand::rngs::OsRng),
            );
            false
        }
    })
    .await
    .map_err(AccountsError::internal)
}

static DUMMY_HASH: OnceCell<String> = OnceCell::const_new();

/// Verifies against a fixed hash of a random secret: used when the login names no account,
/// so the answer takes as long as a wrong password for a real one.
pub async fn verify_against_dummy(secret: String) -> Result<(), AccountsError> {
    let dummy = DUMMY_HASH
        .get_or_try_init(|| async {
            use rand::RngCore;
            let mut random = [0u8; 24];
            rand::rngs::OsRng.fill_bytes(&mut random);
            hash_secret(hex::encode(random)).await
        })
        .await?
        .clone();
    let _ = verify_secret(secret, dummy).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_are_argon2id_owasp_and_verify() {
        let hash = hash_secret("correct horse".into()).await.expect("hash");
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        assert!(verify_secret("correct horse".into(), hash.clone())
            .await
            .expect("ok"));
        assert!(!verify_secret("wrong horse".into(), hash).await.expect("ok"));
        assert!(!verify_secret("x".into(), "!deleted".into())
            .await
            .expect("ok"));
        verify_against_dummy("anything".into())
            .await
            .expect("dummy");
    }
}
