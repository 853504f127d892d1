-- Storage: value encodings, last-write-wins timestamps, a per-(user, app) change feed with
-- tombstones for offline sync, idempotent sync operations and conflict details.
-- See docs/storage.md for how the application uses these columns.

-- How the stored bytes are rendered on the wire: 'text' (a JSON string, stored as UTF-8),
-- 'json' (any other JSON value, stored as its JSON text) or 'binary' (value_base64).
ALTER TABLE storage_entries ADD COLUMN value_encoding VARCHAR(10) NOT NULL DEFAULT 'binary'
    CHECK (value_encoding IN ('text', 'json', 'binary'));
-- Time of the last write for last-write-wins: the client's client_timestamp, or the server
-- clock when the write carried none.
ALTER TABLE storage_entries ADD COLUMN client_timestamp TIMESTAMPTZ;
-- Position of the entry's last change in its (user, app) change feed.
ALTER TABLE storage_entries ADD COLUMN change_seq BIGINT NOT NULL DEFAULT 0
    CHECK (change_seq >= 0);
CREATE INDEX idx_storage_entries_user_app_change_seq
    ON storage_entries (user_id, app_id, change_seq);
CREATE INDEX idx_storage_entries_user_app_expires_at
    ON storage_entries (user_id, app_id, expires_at) WHERE expires_at IS NOT NULL;

-- change_seq: last sequence number handed out for this (user, app); every change takes the
-- next one while holding the quota row lock, so the feed order is the commit order.
-- resync_floor_seq: a sync cursor below this may have missed deletions (tombstones purged,
-- or all data deleted) and must start over.
ALTER TABLE storage_quotas ADD COLUMN change_seq BIGINT NOT NULL DEFAULT 0
    CHECK (change_seq >= 0);
ALTER TABLE storage_quotas ADD COLUMN resync_floor_seq BIGINT NOT NULL DEFAULT 0
    CHECK (resync_floor_seq >= 0);

-- The last deletion (or expiry) of each key, kept for the tombstone retention period so
-- sync pull can report deletions. Removed when the key is written again.
CREATE TABLE storage_tombstones (
    user_id          UUID         NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    app_id           VARCHAR(255) NOT NULL,
    key              VARCHAR(256) NOT NULL CHECK (octet_length(key) BETWEEN 1 AND 256),
    version          INTEGER      NOT NULL CHECK (version >= 1),
    change_seq       BIGINT       NOT NULL CHECK (change_seq >= 1),
    client_timestamp TIMESTAMPTZ,
    deleted_at       TIMESTAMPTZ  NOT NULL,
    PRIMARY KEY (user_id, app_id, key)
);
CREATE INDEX idx_storage_tombstones_user_app_change_seq
    ON storage_tombstones (user_id, app_id, change_seq);
CREATE INDEX idx_storage_tombstones_deleted_at ON storage_tombstones (deleted_at);

-- Sync push: the client's operation id (idempotency key), its timestamp and base version,
-- the first result (replayed verbatim) and the conflict a manual-strategy op opened.
ALTER TABLE storage_sync_operations
    ADD COLUMN op_id VARCHAR(128) CHECK (op_id IS NULL OR length(op_id) BETWEEN 1 AND 128),
    ADD COLUMN client_timestamp TIMESTAMPTZ,
    ADD COLUMN base_version INTEGER,
    ADD COLUMN result JSONB,
    ADD COLUMN conflict_id UUID REFERENCES storage_conflicts(id) ON DELETE SET NULL;
-- Same name as SQLite's translated unique-constraint name.
CREATE UNIQUE INDEX storage_sync_operations_user_id_app_id_op_id_key
    ON storage_sync_operations (user_id, app_id, op_id);
CREATE INDEX idx_storage_sync_operations_conflict_id
    ON storage_sync_operations (conflict_id);

-- What the stored BYTEA values of a conflict mean (encodings, content types, the operation,
-- the versions involved), so a resolution can apply them faithfully.
ALTER TABLE storage_conflicts ADD COLUMN conflict_data JSONB NOT NULL DEFAULT '{}';

ALTER TABLE storage_tombstones ENABLE ROW LEVEL SECURITY;
ALTER TABLE storage_tombstones FORCE ROW LEVEL SECURITY;
CREATE POLICY storage_tombstones_owner_policy ON storage_tombstones
    FOR ALL TO tmcp_app
    USING (user_id = current_user_id()) WITH CHECK (user_id = current_user_id());
GRANT SELECT, INSERT, UPDATE, DELETE ON storage_tombstones TO tmcp_app, tmcp_system;

INSERT INTO schema_migrations (version, description)
VALUES ('0004', 'Storage sync: value encodings, change feed and tombstones, idempotent sync operations');
