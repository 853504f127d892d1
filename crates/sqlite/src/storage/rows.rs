//! Row shapes of the storage tables and their conversion to repository types.

use crate::time_text::{from_opt_text, from_text};
use tmcp_domain::storage::value::ValueEncoding;
use tmcp_repository::storage_tx::{ConflictRow, Tombstone};
use tmcp_repository::{ConflictData, EntrySummary, RepoError, RepoResult, StoredEntry};
use uuid::Uuid;

pub(super) const ENTRY_COLUMNS: &str = "key, value, value_encoding, content_type, version, size, \
    checksum, metadata, created_at, updated_at, expires_at, client_timestamp, change_seq";

pub(super) type EntryRow = (
    String,
    Vec<u8>,
    String,
    String,
    i64,
    i64,
    String,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    i64,
);

pub(super) fn encoding(raw: &str) -> RepoResult<ValueEncoding> {
    ValueEncoding::parse(raw)
        .ok_or_else(|| RepoError::Internal(format!("unknown stored value encoding {raw:?}")))
}

pub(super) fn json(raw: &str, what: &str) -> RepoResult<serde_json::Value> {
    serde_json::from_str(raw).map_err(|e| RepoError::Internal(format!("bad stored {what}: {e}")))
}

pub(super) fn entry(row: EntryRow) -> RepoResult<StoredEntry> {
    let (
        key,
        value,
        value_encoding,
        content_type,
        version,
        size,
        checksum,
        metadata,
        created,
        updated,
        expires,
        client_timestamp,
        change_seq,
    ) = row;
    let updated_at = from_text(&updated)?;
    Ok(StoredEntry {
        key,
        value,
        encoding: encoding(&value_encoding)?,
        content_type,
        version,
        size,
        checksum,
        metadata: json(&metadata, "metadata")?,
        created_at: from_text(&created)?,
        updated_at,
        expires_at: from_opt_text(expires)?,
        last_write_at: from_opt_text(client_timestamp)?.unwrap_or(updated_at),
        change_seq,
    })
}

pub(super) const SUMMARY_COLUMNS: &str = "key, size, version, content_type, updated_at, expires_at";

pub(super) type SummaryRow = (String, i64, i64, String, String, Option<String>);

pub(super) fn summary(row: SummaryRow) -> RepoResult<EntrySummary> {
    let (key, size, version, content_type, updated, expires) = row;
    Ok(EntrySummary {
        key,
        size,
        version,
        content_type,
        updated_at: from_text(&updated)?,
        expires_at: from_opt_text(expires)?,
    })
}

pub(super) type TombstoneRow = (i64, Option<String>, String);

pub(super) fn tombstone(row: TombstoneRow) -> RepoResult<Tombstone> {
    let (version, client_timestamp, deleted_at) = row;
    Ok(Tombstone {
        version,
        client_timestamp: from_opt_text(client_timestamp)?,
        deleted_at: from_text(&deleted_at)?,
    })
}

pub(super) const CONFLICT_COLUMNS: &str = "id, key, status, resolution_strategy, local_value, \
    remote_value, resolved_value, conflict_data, created_at, resolved_at";

pub(super) type ConflictRowTuple = (
    Uuid,
    String,
    String,
    Option<String>,
    Option<Vec<u8>>,
    Option<Vec<u8>>,
    Option<Vec<u8>>,
    String,
    String,
    Option<String>,
);

pub(super) fn conflict(row: ConflictRowTuple) -> RepoResult<ConflictRow> {
    let (id, key, status, strategy, local, remote, resolved, data, created, resolved_at) = row;
    let data: ConflictData = serde_json::from_str(&data)
        .map_err(|e| RepoError::Internal(format!("bad stored conflict data: {e}")))?;
    Ok(ConflictRow {
        id,
        key,
        status,
        strategy,
        local_value: local,
        remote_value: remote,
        resolved_value: resolved,
        data,
        created_at: from_text(&created)?,
        resolved_at: from_opt_text(resolved_at)?,
    })
}
