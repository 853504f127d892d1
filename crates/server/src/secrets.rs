//! The column-encryption key: from configuration, or from a key file created once in the
//! data directory. An existing key file is never replaced — losing it would make every
//! encrypted column unreadable.

use anyhow::{bail, Context};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use rand::RngCore;
use std::io::Write;
use std::path::Path;

pub fn decode_key(encoded: &str) -> anyhow::Result<Vec<u8>> {
    let key = STANDARD
        .decode(encoded.trim())
        .context("key is not valid base64")?;
    if key.len() != 32 {
        bail!("key must decode to exactly 32 bytes, got {}", key.len());
    }
    Ok(key)
}

/// Reads `<dir>/encryption.key`, creating it (mode 0600) with a random key if absent.
pub fn load_or_create_key_file(dir: &Path) -> anyhow::Result<Vec<u8>> {
    let path = dir.join("encryption.key");
    if path.exists() {
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        return decode_key(&text).with_context(|| format!("corrupt key file {}", path.display()));
    }
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut key = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut key);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(&path)
        .with_context(|| format!("cannot create key file {}", path.display()))?;
    file.write_all(STANDARD.encode(key).as_bytes())?;
    file.sync_all()?;
    tracing::warn!(path = %path.display(), "created a new column-encryption key file; back it up");
    Ok(key.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_file_is_created_once_and_reused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let first = load_or_create_key_file(dir.path()).expect("created");
        let second = load_or_create_key_file(dir.path()).expect("read back");
        assert_eq!(first, second);
        assert_eq!(first.len(), 32);
    }
}
