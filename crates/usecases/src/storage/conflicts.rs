//! Conflicts opened by the `manual` sync strategy: list them, resolve one.

use super::error::{CheckFields, StorageError};
use super::list::{page_limit, Page};
use super::values::{parse_metadata, parse_ttl, parse_value, ValueInput};
use super::{write_context, Caller, StorageSettings};
use crate::fields::FieldErrors;
use serde_json::Value;
use tmcp_domain::storage::cursor::IdCursor;
use tmcp_domain::storage::DEFAULT_LIST_LIMIT;
use tmcp_domain::Clock;
use tmcp_repository::{ConflictRecord, ConflictResolution, Database, ResolveOutcome, StoredEntry};
use uuid::Uuid;

/// Conflicts per page at most.
const MAX_CONFLICT_PAGE: i64 = 100;

/// A conflict listing as the client asked for it.
#[derive(Debug, Default)]
pub struct ConflictListInput<'a> {
    /// `pending` (the default), `resolved`, `ignored` or `all`.
    pub status: Option<&'a str>,
    pub limit: Option<&'a str>,
    /// `next_cursor` of the previous page (empty: the first page).
    pub cursor: Option<&'a str>,
}

/// The caller's conflicts in the order they were opened, one page at a time. Field
/// problems are reported before a bad cursor.
pub async fn list_conflicts(
    db: &dyn Database,
    caller: &Caller,
    input: ConflictListInput<'_>,
) -> Result<Page<ConflictRecord>, StorageError> {
    let mut errors = FieldErrors::default();
    let limit = page_limit(
        input.limit,
        DEFAULT_LIST_LIMIT,
        MAX_CONFLICT_PAGE,
        &mut errors,
    );
    let status = match input.status {
        None | Some("pending") => Some("pending"),
        Some("resolved") => Some("resolved"),
        Some("ignored") => Some("ignored"),
        Some("all") => None,
        Some(_) => {
            errors.add("status", "status must be pending, resolved, ignored or all");
            None
        }
    };
    errors.check()?;
    let after = match input.cursor.filter(|c| !c.is_empty()) {
        None => None,
        Some(text) => Some(IdCursor::decode(text).ok_or(StorageError::InvalidCursor)?.0),
    };
    let found = db
        .list_conflicts(caller.user, &caller.app, status, after, limit + 1)
        .await?;
    Ok(Page::from_overfetch(found, limit, |c| {
        IdCursor(c.id).encode()
    }))
}

/// A conflict id from the URL: the id, and the text as the caller wrote it (a "no such
/// conflict" answer names that text).
#[derive(Debug, Clone)]
pub struct ConflictRef {
    pub id: Uuid,
    pub raw: String,
}

impl ConflictRef {
    /// Text that is not a UUID names no conflict.
    pub fn parse(raw: &str) -> Result<Self, StorageError> {
        match Uuid::parse_str(raw) {
            Ok(id) => Ok(Self {
                id,
                raw: raw.to_owned(),
            }),
            Err(_) => Err(not_found(raw)),
        }
    }
}

fn not_found(raw: &str) -> StorageError {
    StorageError::ConflictNotFound {
        conflict_id: raw.to_owned(),
    }
}

/// A resolution as the request gives it.
pub struct ResolveInput<'a> {
    /// `local` (apply the client's operation), `remote` (keep the server's state) or
    /// `value` (store the value given here).
    pub resolution: &'a str,
    pub value: ValueInput<'a>,
    pub ttl: Option<i64>,
    pub metadata: Option<Value>,
}

/// A resolved conflict and the key afterwards (`None`: it does not exist).
#[derive(Debug)]
pub struct Resolved {
    pub conflict: Box<ConflictRecord>,
    pub entry: Option<Box<StoredEntry>>,
}

fn parse_resolution(
    input: ResolveInput<'_>,
    errors: &mut FieldErrors,
) -> Result<Option<ConflictResolution>, StorageError> {
    let has_value = input.value.value.is_some() || input.value.value_base64.is_some();
    Ok(match input.resolution {
        "local" | "remote" => {
            if has_value || input.ttl.is_some() || input.metadata.is_some() {
                errors.add("value", "a value is only given with resolution \"value\"");
            }
            if input.resolution == "local" {
                Some(ConflictResolution::Local)
            } else {
                Some(ConflictResolution::Remote)
            }
        }
        "value" => {
            let value = parse_value(&input.value, "", errors)?;
            let ttl = parse_ttl(input.ttl, "ttl", errors);
            let metadata = parse_metadata(input.metadata, "metadata", errors);
            value.map(|v| ConflictResolution::Value {
                value: v.bytes,
                encoding: v.encoding,
                content_type: v.content_type,
                ttl_seconds: ttl,
                metadata,
            })
        }
        _ => {
            errors.add("resolution", "resolution must be local, remote or value");
            None
        }
    })
}

/// Resolves a pending conflict and completes the operation that opened it.
pub async fn resolve_conflict(
    db: &dyn Database,
    clock: &dyn Clock,
    settings: &StorageSettings,
    caller: &Caller,
    conflict: &ConflictRef,
    input: ResolveInput<'_>,
) -> Result<Resolved, StorageError> {
    let mut errors = FieldErrors::default();
    let resolution = parse_resolution(input, &mut errors)?;
    errors.check()?;
    let resolution = resolution.ok_or_else(|| StorageError::Internal("resolution lost".into()))?;
    let context = write_context(clock.now(), settings, &caller.app);
    let outcome = db
        .resolve_conflict(caller.user, &caller.app, conflict.id, resolution, &context)
        .await?;
    match outcome {
        ResolveOutcome::NotFound => Err(not_found(&conflict.raw)),
        ResolveOutcome::NotPending { status } => Err(StorageError::ConflictNotPending { status }),
        ResolveOutcome::Resolved { conflict, entry } => Ok(Resolved { conflict, entry }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::value::RawValue;

    fn resolution(
        kind: &str,
        value: Option<&RawValue>,
    ) -> (
        Result<Option<ConflictResolution>, StorageError>,
        FieldErrors,
    ) {
        let mut errors = FieldErrors::default();
        let input = ResolveInput {
            resolution: kind,
            value: ValueInput {
                value,
                value_base64: None,
                content_type: None,
            },
            ttl: None,
            metadata: None,
        };
        (parse_resolution(input, &mut errors), errors)
    }

    #[test]
    fn only_a_value_resolution_carries_a_value() {
        let one = RawValue::from_string("1".into()).expect("json");
        let (parsed, errors) = resolution("value", Some(&one));
        assert!(matches!(
            parsed.expect("ok"),
            Some(ConflictResolution::Value { .. })
        ));
        assert!(errors.is_empty());
        let (_, errors) = resolution("local", Some(&one));
        assert_eq!(errors.iter().map(|(f, _)| f).collect::<Vec<_>>(), ["value"]);
        let (parsed, errors) = resolution("merge", None);
        assert!(parsed.expect("ok").is_none());
        assert_eq!(
            errors.iter().map(|(f, _)| f).collect::<Vec<_>>(),
            ["resolution"]
        );
    }

    #[test]
    fn a_conflict_id_that_is_no_uuid_names_no_conflict() {
        let error = ConflictRef::parse("nope").expect_err("not a uuid");
        assert!(matches!(
            error,
            StorageError::ConflictNotFound { conflict_id } if conflict_id == "nope"
        ));
        let id = Uuid::from_u128(7);
        let parsed = ConflictRef::parse(&id.to_string()).expect("uuid");
        assert_eq!(parsed.id, id);
    }
}
