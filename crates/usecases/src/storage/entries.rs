//! Single-key operations: read, write (insert or replace, with preconditions and
//! last-write-wins by client timestamp) and delete.

use super::error::{key_not_found, version_conflict, CheckFields, StorageError};
use super::keys::{parse_writable_key, path_key};
use super::values::{parse_metadata, parse_timestamp, parse_ttl, parse_value, ValueInput};
use super::{write_context, Caller, StorageSettings};
use crate::fields::FieldErrors;
use serde_json::Value;
use tmcp_domain::storage::value::{checksum, ExpectedVersion};
use tmcp_domain::Clock;
use tmcp_repository::{Database, EntryDelete, EntryWrite, StoredEntry, WriteOp, WriteOutcome};

/// The caller's live entry under `raw_key`.
pub async fn read_entry(
    db: &dyn Database,
    clock: &dyn Clock,
    caller: &Caller,
    raw_key: &str,
) -> Result<StoredEntry, StorageError> {
    let key = path_key(raw_key)?;
    db.get_entry(caller.user, &caller.app, &key, clock.now())
        .await?
        .ok_or_else(|| key_not_found(key.as_str()))
}

/// A write as the request gives it.
pub struct EntryInput<'a> {
    pub value: ValueInput<'a>,
    pub ttl: Option<i64>,
    pub metadata: Option<Value>,
    /// Unix seconds of the client's change: turns on last-write-wins.
    pub client_timestamp: Option<&'a serde_json::Number>,
    pub expected: Option<ExpectedVersion>,
}

/// What a write did.
#[derive(Debug)]
pub enum Written {
    Stored {
        entry: StoredEntry,
        created: bool,
    },
    /// The client's timestamp was older than the stored write; nothing changed.
    ServerWins {
        current: StoredEntry,
    },
}

/// Stores a value under `raw_key` (insert or replace; each write bumps the version).
pub async fn write_entry(
    db: &dyn Database,
    clock: &dyn Clock,
    settings: &StorageSettings,
    caller: &Caller,
    raw_key: &str,
    input: EntryInput<'_>,
) -> Result<Written, StorageError> {
    let mut errors = FieldErrors::default();
    let key = parse_writable_key(raw_key, "key", &mut errors);
    let value = parse_value(&input.value, "", &mut errors)?;
    let ttl = parse_ttl(input.ttl, "ttl", &mut errors);
    let metadata = parse_metadata(input.metadata, "metadata", &mut errors);
    let client_timestamp = parse_timestamp(input.client_timestamp, "client_timestamp", &mut errors);
    errors.check()?;
    let (Some(key), Some(value)) = (key, value) else {
        return Err(StorageError::Internal(
            "validated request lost its key or value".into(),
        ));
    };
    let write = EntryWrite {
        checksum: checksum(&value.bytes),
        key: key.clone(),
        value: value.bytes,
        encoding: value.encoding,
        content_type: value.content_type,
        ttl_seconds: ttl,
        metadata,
        client_timestamp,
        last_write_wins: client_timestamp.is_some(),
        expected: input.expected,
    };
    let context = write_context(clock.now(), settings, &caller.app);
    match db
        .put_entry(caller.user, &caller.app, write, &context)
        .await?
    {
        WriteOutcome::Stored { entry, created } => Ok(Written::Stored { entry, created }),
        WriteOutcome::Stale { current } => Ok(Written::ServerWins { current }),
        WriteOutcome::VersionMismatch { current_version } => {
            Err(version_conflict(key.as_str(), current_version))
        }
        WriteOutcome::Deleted { .. } => {
            Err(StorageError::Internal("a put reported a deletion".into()))
        }
    }
}

/// Deletes `raw_key` (only `expected` when given). Returns the key and whether a live
/// entry was removed.
pub async fn delete_entry(
    db: &dyn Database,
    clock: &dyn Clock,
    settings: &StorageSettings,
    caller: &Caller,
    raw_key: &str,
    expected: Option<ExpectedVersion>,
) -> Result<(String, bool), StorageError> {
    let key = path_key(raw_key)?;
    let context = write_context(clock.now(), settings, &caller.app);
    let op = WriteOp::Delete(EntryDelete {
        key: key.clone(),
        expected,
    });
    let outcome = db
        .write_entries(caller.user, &caller.app, vec![op], &context)
        .await?;
    match outcome.into_iter().next() {
        Some(WriteOutcome::Deleted { existed }) => Ok((key.as_str().to_owned(), existed)),
        Some(WriteOutcome::VersionMismatch { current_version }) => {
            Err(version_conflict(key.as_str(), current_version))
        }
        _ => Err(StorageError::Internal(
            "a delete produced no deletion outcome".into(),
        )),
    }
}
