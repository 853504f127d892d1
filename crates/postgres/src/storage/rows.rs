//! Row shapes of the storage tables and their conversion to repository types.

use time::OffsetDateTime;
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
    i32,
    i32,
    String,
    serde_json::Value,
    OffsetDateTime,
    OffsetDateTime,
    Option<OffsetDateTime>,
    Option<OffsetDateTime>,
    i64,
);

pub(super) fn encoding(raw: &str) -> RepoResult<ValueEncoding> {
    ValueEncoding::parse(raw)
        .ok_or_else(|| RepoError::Internal(format!("unknown stored value encoding {raw:?}")))
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
        created_at,
        updated_at,
        expires_at,
        client_timestamp,
        change_seq,
    ) = row;
    Ok(StoredEntry {
        key,
        value,
        encoding: encoding(&value_encoding)?,
        content_type,
        version: i64::from(version),
        size: i64::from(size),
        checksum,
        metadata,
        created_at,
        updated_at,
        expires_at,
        last_write_at: client_timestamp.unwrap_or(updated_at),
        change_seq,
    })
}

pub(super) const SUMMARY_COLUMNS: &str = "key, size, version, content_type, updated_at, expires_at";

pub(super) type SummaryRow = (
    String,
    i32,
    i32,
    String,
    OffsetDateTime,
    Option<OffsetDateTime>,
);

pub(super) fn summary(row: SummaryRow) -> EntrySummary {
    let (key, size, version, content_type, updated_at, expires_at) = row;
    EntrySummary {
        key,
        size: i64::from(size),
        version: i64::from(version),
        content_type,
        updated_at,
        expires_at,
    }
}

pub(super) type TombstoneRow = (i32, Option<OffsetDateTime>, OffsetDateTime);

pub(super) fn tombstone(row: TombstoneRow) -> Tombstone {
    let (version, client_timestamp, deleted_at) = row;
    Tombstone {
        version: i64::from(version),
        client_timestamp,
        deleted_at,
    }
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
    serde_json::Value,
    OffsetDateTime,
    Option<OffsetDateTime>,
);

pub(super) fn conflict(row: ConflictRowTuple) -> RepoResult<ConflictRow> {
    let (id, key, status, strategy, local, remote, resolved, data, created_at, resolved_at) = row;
    let data: ConflictData = serde_json::from_value(data)
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
        created_at,
        resolved_at,
    })
}
