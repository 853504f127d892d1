//! Batches of up to 100 keys: get, set (all or nothing, the quota checked for the batch as
//! a whole) and delete (all in one transaction).

use super::entries::Written;
use super::error::{CheckFields, StorageError};
use super::keys::{parse_key, parse_writable_key};
use super::values::{parse_metadata, parse_timestamp, parse_ttl, parse_value, ValueInput};
use super::{write_context, Caller, StorageSettings};
use crate::fields::FieldErrors;
use serde_json::Value;
use std::collections::{BTreeSet, HashMap};
use tmcp_domain::storage::value::checksum;
use tmcp_domain::storage::{StorageKey, MAX_BATCH_ITEMS};
use tmcp_domain::Clock;
use tmcp_repository::{
    Database, EntryDelete, EntryWrite, QuotaSnapshot, StoredEntry, WriteOp, WriteOutcome,
};

/// Validates a list of 1–100 distinct keys, reported under `field` (`field[i]` for one key).
fn parse_keys(field: &str, raw: &[String], errors: &mut FieldErrors) -> Vec<StorageKey> {
    if raw.is_empty() || raw.len() > MAX_BATCH_ITEMS {
        errors.add(field, format!("between 1 and {MAX_BATCH_ITEMS} keys"));
        return Vec::new();
    }
    let mut seen = BTreeSet::new();
    let mut keys = Vec::with_capacity(raw.len());
    for (i, text) in raw.iter().enumerate() {
        if let Some(key) = parse_key(text, &format!("{field}[{i}]"), errors) {
            if !seen.insert(key.clone()) {
                errors.add(field, "keys must be distinct");
            }
            keys.push(key);
        }
    }
    keys
}

/// The keys of a batch read that have a live entry and those that do not.
#[derive(Debug)]
pub struct BatchRead {
    /// Live entries, in request order.
    pub found: Vec<StoredEntry>,
    /// Keys with no live entry, in request order.
    pub missing: Vec<String>,
}

/// Reads up to 100 keys (given as the request's `keys`) at once.
pub async fn get_entries(
    db: &dyn Database,
    clock: &dyn Clock,
    caller: &Caller,
    raw_keys: &[String],
) -> Result<BatchRead, StorageError> {
    let mut errors = FieldErrors::default();
    let keys = parse_keys("keys", raw_keys, &mut errors);
    errors.check()?;
    let entries = db
        .get_entries(caller.user, &caller.app, &keys, clock.now())
        .await?;
    let mut by_key: HashMap<String, StoredEntry> =
        entries.into_iter().map(|e| (e.key.clone(), e)).collect();
    let mut read = BatchRead {
        found: Vec::new(),
        missing: Vec::new(),
    };
    for key in keys {
        match by_key.remove(key.as_str()) {
            Some(entry) => read.found.push(entry),
            None => read.missing.push(key.as_str().to_owned()),
        }
    }
    Ok(read)
}

/// One item of a batch write, as the request gives it.
pub struct BatchItem<'a> {
    pub key: &'a str,
    pub value: ValueInput<'a>,
    pub ttl: Option<i64>,
    pub metadata: Option<Value>,
    /// Unix seconds of the client's change: turns on last-write-wins for this item.
    pub client_timestamp: Option<&'a serde_json::Number>,
}

/// What a batch write did: one outcome per item in request order, and the quota after it.
#[derive(Debug)]
pub struct BatchWritten {
    pub results: Vec<Written>,
    pub quota: QuotaSnapshot,
}

/// Stores up to 100 values atomically: every item is validated first (field errors are
/// reported as `items[i].<field>`), then all are written or none.
pub async fn set_entries(
    db: &dyn Database,
    clock: &dyn Clock,
    settings: &StorageSettings,
    caller: &Caller,
    items: Vec<BatchItem<'_>>,
) -> Result<BatchWritten, StorageError> {
    if items.is_empty() || items.len() > MAX_BATCH_ITEMS {
        let mut errors = FieldErrors::default();
        errors.add("items", format!("between 1 and {MAX_BATCH_ITEMS} items"));
        errors.check()?;
    }
    let mut errors = FieldErrors::default();
    let mut seen = BTreeSet::new();
    let mut ops = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        let prefix = format!("items[{i}].");
        let key = parse_writable_key(item.key, &format!("{prefix}key"), &mut errors);
        if let Some(key) = &key {
            if !seen.insert(key.clone()) {
                errors.add("items", "keys must be distinct");
            }
        }
        let value = parse_value(&item.value, &prefix, &mut errors)?;
        let ttl = parse_ttl(item.ttl, &format!("{prefix}ttl"), &mut errors);
        let metadata = parse_metadata(item.metadata, &format!("{prefix}metadata"), &mut errors);
        let client_timestamp = parse_timestamp(
            item.client_timestamp,
            &format!("{prefix}client_timestamp"),
            &mut errors,
        );
        if let (Some(key), Some(value)) = (key, value) {
            ops.push(WriteOp::Put(EntryWrite {
                key,
                checksum: checksum(&value.bytes),
                value: value.bytes,
                encoding: value.encoding,
                content_type: value.content_type,
                ttl_seconds: ttl,
                metadata,
                client_timestamp,
                last_write_wins: client_timestamp.is_some(),
                expected: None,
            }));
        }
    }
    errors.check()?;
    let context = write_context(clock.now(), settings, &caller.app);
    let outcomes = db
        .write_entries(caller.user, &caller.app, ops, &context)
        .await?;
    let mut results = Vec::with_capacity(outcomes.len());
    for outcome in outcomes {
        results.push(match outcome {
            WriteOutcome::Stored { entry, created } => Written::Stored { entry, created },
            WriteOutcome::Stale { current } => Written::ServerWins { current },
            _ => {
                return Err(StorageError::Internal(
                    "unexpected batch set outcome".into(),
                ))
            }
        });
    }
    let context = write_context(clock.now(), settings, &caller.app);
    let quota = db.quota(caller.user, &caller.app, &context).await?;
    Ok(BatchWritten { results, quota })
}

/// Deletes up to 100 keys in one transaction. Returns each key with whether a live entry
/// was removed, in request order.
pub async fn delete_entries(
    db: &dyn Database,
    clock: &dyn Clock,
    settings: &StorageSettings,
    caller: &Caller,
    raw_keys: &[String],
) -> Result<Vec<(String, bool)>, StorageError> {
    let mut errors = FieldErrors::default();
    let keys = parse_keys("keys", raw_keys, &mut errors);
    errors.check()?;
    let ops = keys
        .iter()
        .map(|key| {
            WriteOp::Delete(EntryDelete {
                key: key.clone(),
                expected: None,
            })
        })
        .collect();
    let context = write_context(clock.now(), settings, &caller.app);
    let outcomes = db
        .write_entries(caller.user, &caller.app, ops, &context)
        .await?;
    Ok(keys
        .iter()
        .zip(outcomes)
        .map(|(key, outcome)| {
            let deleted = matches!(outcome, WriteOutcome::Deleted { existed: true });
            (key.as_str().to_owned(), deleted)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(raw: &[&str]) -> (Vec<StorageKey>, FieldErrors) {
        let raw: Vec<String> = raw.iter().map(|k| (*k).to_owned()).collect();
        let mut errors = FieldErrors::default();
        (parse_keys("keys", &raw, &mut errors), errors)
    }

    #[test]
    fn batch_keys_are_one_to_a_hundred_distinct_keys() {
        let (parsed, errors) = keys(&["a", "b/c"]);
        assert_eq!(parsed.len(), 2);
        assert!(errors.is_empty());
        let (_, errors) = keys(&[]);
        assert_eq!(
            errors.iter().collect::<Vec<_>>(),
            [("keys", "between 1 and 100 keys")]
        );
        let (_, errors) = keys(&["a", "a"]);
        assert_eq!(
            errors.iter().collect::<Vec<_>>(),
            [("keys", "keys must be distinct")]
        );
        let (_, errors) = keys(&["a", ""]);
        assert_eq!(
            errors.iter().map(|(f, _)| f).collect::<Vec<_>>(),
            ["keys[1]"]
        );
    }
}
