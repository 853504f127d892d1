//! Offline sync: push a queue of operations (idempotent per `op_id`), pull the changes since
//! a cursor (sets and deletions), and the sync status.

use super::error::{CheckFields, StorageError};
use super::keys::{parse_key, parse_writable_key};
use super::list::page_limit;
use super::values::{parse_metadata, parse_timestamp, parse_ttl, parse_value, ValueInput};
use super::{write_context, Caller, StorageSettings};
use crate::fields::FieldErrors;
use serde_json::value::RawValue;
use serde_json::Value;
use tmcp_domain::storage::cursor::ChangeCursor;
use tmcp_domain::storage::sync::SyncStrategy;
use tmcp_domain::storage::value::checksum;
use tmcp_domain::storage::{DEFAULT_LIST_LIMIT, MAX_BATCH_ITEMS, MAX_OP_ID_BYTES, MAX_PULL_LIMIT};
use tmcp_domain::Clock;
use tmcp_repository::{ChangePage, Database, EntryWrite, SyncApplied, SyncOp, SyncStatus};

/// One operation of a client's offline queue, as the request gives it.
#[derive(Debug, Default)]
pub struct PushOperation {
    pub op_id: String,
    /// `set` or `delete`.
    pub kind: String,
    pub key: String,
    pub value: Option<Box<RawValue>>,
    pub value_base64: Option<String>,
    pub content_type: Option<String>,
    pub ttl: Option<i64>,
    pub metadata: Option<Value>,
    /// Unix seconds when the client made the change (required).
    pub client_timestamp: Option<serde_json::Number>,
    /// The version the client last saw (0: the key did not exist).
    pub base_version: Option<i64>,
}

/// What became of one pushed operation.
#[derive(Debug)]
pub enum Pushed {
    /// Applied, in conflict or refused by the repository (quota), as recorded; `replayed`
    /// when the op id had been pushed before.
    Recorded(SyncApplied),
    /// The operation itself breaks the rules; it was not applied and is not recorded.
    Rejected {
        op_id: String,
        key: String,
        error: StorageError,
    },
}

fn valid_op_id(op_id: &str) -> bool {
    !op_id.is_empty() && op_id.len() <= MAX_OP_ID_BYTES && !op_id.chars().any(char::is_control)
}

/// Validates one operation; `Err` is that operation's rejection.
fn sync_op(op: PushOperation, strategy: SyncStrategy) -> Result<SyncOp, StorageError> {
    let mut errors = FieldErrors::default();
    // A set must not create a key under a reserved segment; a delete may remove one stored
    // before that rule existed.
    let key = if op.kind == "set" {
        parse_writable_key(&op.key, "key", &mut errors)
    } else {
        parse_key(&op.key, "key", &mut errors)
    };
    let client_timestamp = match op.client_timestamp.as_ref() {
        None => {
            errors.add("client_timestamp", "client_timestamp is required");
            None
        }
        some => parse_timestamp(some, "client_timestamp", &mut errors),
    };
    if op.base_version.is_some_and(|v| v < 0) {
        errors.add("base_version", "base_version must be 0 or more");
    }
    let write = match op.kind.as_str() {
        "set" => {
            let input = ValueInput {
                value: op.value.as_deref(),
                value_base64: op.value_base64.as_deref(),
                content_type: op.content_type.as_deref(),
            };
            let value = parse_value(&input, "", &mut errors)?;
            let ttl = parse_ttl(op.ttl, "ttl", &mut errors);
            let metadata = parse_metadata(op.metadata, "metadata", &mut errors);
            match (key.clone(), value) {
                (Some(key), Some(value)) => Some(EntryWrite {
                    key,
                    checksum: checksum(&value.bytes),
                    value: value.bytes,
                    encoding: value.encoding,
                    content_type: value.content_type,
                    ttl_seconds: ttl,
                    metadata,
                    client_timestamp,
                    last_write_wins: false,
                    expected: None,
                }),
                _ => None,
            }
        }
        "delete" => {
            if op.value.is_some() || op.value_base64.is_some() || op.ttl.is_some() {
                errors.add("value", "a delete carries no value or ttl");
            }
            None
        }
        _ => {
            errors.add("type", "type must be set or delete");
            None
        }
    };
    errors.check()?;
    match (key, client_timestamp) {
        (Some(key), Some(client_timestamp)) => Ok(SyncOp {
            op_id: op.op_id,
            key,
            write,
            client_timestamp,
            base_version: op.base_version,
            strategy,
        }),
        _ => Err(StorageError::Internal(
            "validated operation lost a field".into(),
        )),
    }
}

/// Replays a client's offline queue in order. The request as a whole is refused (422) for
/// an unknown strategy, 0 or more than 100 operations, or a bad op id; an operation that
/// breaks the other rules is rejected on its own and the others still run.
pub async fn push(
    db: &dyn Database,
    clock: &dyn Clock,
    settings: &StorageSettings,
    caller: &Caller,
    strategy: Option<&str>,
    operations: Vec<PushOperation>,
) -> Result<Vec<Pushed>, StorageError> {
    let mut errors = FieldErrors::default();
    let strategy = match strategy {
        None => SyncStrategy::default(),
        Some(raw) => SyncStrategy::parse(raw).unwrap_or_else(|| {
            errors.add(
                "strategy",
                "strategy must be last_write_wins, local_wins, remote_wins or manual",
            );
            SyncStrategy::default()
        }),
    };
    if operations.is_empty() || operations.len() > MAX_BATCH_ITEMS {
        errors.add(
            "operations",
            format!("between 1 and {MAX_BATCH_ITEMS} operations"),
        );
    }
    for (i, op) in operations.iter().enumerate() {
        if !valid_op_id(&op.op_id) {
            errors.add(
                format!("operations[{i}].op_id"),
                format!("op_id must be 1 to {MAX_OP_ID_BYTES} bytes without control characters"),
            );
        }
    }
    errors.check()?;
    let mut results = Vec::with_capacity(operations.len());
    for op in operations {
        let (op_id, key) = (op.op_id.clone(), op.key.clone());
        let op = match sync_op(op, strategy) {
            Ok(op) => op,
            Err(error) => {
                results.push(Pushed::Rejected { op_id, key, error });
                continue;
            }
        };
        // Each operation is its own unit of work, at its own time.
        let context = write_context(clock.now(), settings, &caller.app);
        let applied = db
            .sync_apply(caller.user, &caller.app, op, &context)
            .await?;
        results.push(Pushed::Recorded(applied));
    }
    Ok(results)
}

/// The changes after `cursor` (`None` or empty: from the start, a full resync), at most
/// `limit` (1–1000, default 100). A bad limit is reported before a bad cursor.
pub async fn pull(
    db: &dyn Database,
    clock: &dyn Clock,
    settings: &StorageSettings,
    caller: &Caller,
    cursor: Option<&str>,
    limit: Option<i64>,
) -> Result<ChangePage, StorageError> {
    let mut errors = FieldErrors::default();
    let limit_text = limit.map(|l| l.to_string());
    let limit = page_limit(
        limit_text.as_deref(),
        DEFAULT_LIST_LIMIT,
        MAX_PULL_LIMIT,
        &mut errors,
    );
    errors.check()?;
    let cursor = match cursor.filter(|c| !c.is_empty()) {
        None => None,
        Some(text) => Some(ChangeCursor::decode(text).ok_or(StorageError::InvalidCursor)?),
    };
    let context = write_context(clock.now(), settings, &caller.app);
    Ok(db
        .pull_changes(caller.user, &caller.app, cursor, limit, &context)
        .await?)
}

/// Operation counts, open conflicts and the last push of the caller's (user, app).
pub async fn status(db: &dyn Database, caller: &Caller) -> Result<SyncStatus, StorageError> {
    Ok(db.sync_status(caller.user, &caller.app).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(kind: &str, key: &str) -> PushOperation {
        PushOperation {
            op_id: "op-1".into(),
            kind: kind.into(),
            key: key.into(),
            client_timestamp: Some(serde_json::Number::from(1_764_064_800_i64)),
            ..PushOperation::default()
        }
    }

    fn field_names(error: StorageError) -> Vec<String> {
        match error {
            StorageError::InvalidFields(errors) => {
                errors.iter().map(|(f, _)| f.to_owned()).collect()
            }
            other => panic!("expected field errors, got {other:?}"),
        }
    }

    #[test]
    fn a_delete_may_name_a_reserved_key_but_a_set_may_not() {
        let delete = sync_op(op("delete", "quota"), SyncStrategy::default()).expect("valid");
        assert!(delete.write.is_none());
        let mut set = op("set", "quota");
        set.value = Some(RawValue::from_string("1".into()).expect("json"));
        let error = sync_op(set, SyncStrategy::default()).expect_err("reserved");
        assert_eq!(field_names(error), ["key"]);
    }

    #[test]
    fn operations_need_a_client_timestamp_and_a_known_type() {
        let mut bare = op("rename", "a");
        bare.client_timestamp = None;
        let error = sync_op(bare, SyncStrategy::default()).expect_err("invalid");
        assert_eq!(field_names(error), ["client_timestamp", "type"]);
        let mut delete = op("delete", "a");
        delete.ttl = Some(60);
        let error = sync_op(delete, SyncStrategy::default()).expect_err("invalid");
        assert_eq!(field_names(error), ["value"]);
    }

    #[test]
    fn op_ids_are_short_printable_text() {
        assert!(valid_op_id("a"));
        assert!(!valid_op_id(""));
        assert!(!valid_op_id("a\tb"));
        assert!(!valid_op_id(&"x".repeat(MAX_OP_ID_BYTES + 1)));
    }
}
