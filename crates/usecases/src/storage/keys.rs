//! Storage keys from a URL or a body, with their field errors.

use super::error::{CheckFields, StorageError};
use crate::fields::FieldErrors;
use tmcp_domain::storage::{InvalidStorageKey, StorageKey};

/// A key from the URL or a body: 1–256 bytes of UTF-8 without control characters.
pub fn parse_key(raw: &str, field: &str, errors: &mut FieldErrors) -> Option<StorageKey> {
    collect_key(StorageKey::parse(raw), field, errors)
}

/// A key a write stores (PUT, batch set, sync push set): also refuses the reserved first
/// segments (`quota`, `batch`, `sync`, `conflicts`), naming them in the field error.
pub fn parse_writable_key(raw: &str, field: &str, errors: &mut FieldErrors) -> Option<StorageKey> {
    collect_key(StorageKey::parse_writable(raw), field, errors)
}

fn collect_key(
    parsed: Result<StorageKey, InvalidStorageKey>,
    field: &str,
    errors: &mut FieldErrors,
) -> Option<StorageKey> {
    match parsed {
        Ok(key) => Some(key),
        Err(e) => {
            errors.add(field, e.to_string());
            None
        }
    }
}

/// A key alone (URL path): 422 with `details.fields.key` when invalid.
pub fn path_key(raw: &str) -> Result<StorageKey, StorageError> {
    let mut errors = FieldErrors::default();
    let key = parse_key(raw, "key", &mut errors);
    errors.check()?;
    key.ok_or_else(|| StorageError::Internal("key parse produced nothing".into()))
}
