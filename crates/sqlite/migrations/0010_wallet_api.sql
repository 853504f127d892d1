-- Idempotency keys of money-moving requests (docs/wallet.md); same table, columns and
-- constraint names as PostgreSQL's 0010. scope is the calling app's id, or '-' for a call
-- made with a session. Timestamps: TEXT 'YYYY-MM-DDTHH:MM:SS.ffffffZ'; UUIDs: BLOB(16).
CREATE TABLE idempotency_keys (
    scope        TEXT    NOT NULL CHECK (length(scope) BETWEEN 1 AND 255),
    user_id      BLOB    NOT NULL CHECK (length(user_id) = 16)
                 REFERENCES users (id) ON DELETE CASCADE,
    -- 1 to 255 visible ASCII characters.
    idem_key     TEXT    NOT NULL
                 CHECK (length(idem_key) BETWEEN 1 AND 255 AND idem_key NOT GLOB '*[^!-~]*'),
    operation    TEXT    NOT NULL
                 CHECK (length(operation) BETWEEN 1 AND 50 AND operation NOT GLOB '*[^a-z_]*'),
    fingerprint  BLOB    NOT NULL CHECK (length(fingerprint) = 32),
    resource_id  TEXT    NOT NULL CHECK (length(resource_id) BETWEEN 1 AND 255),
    reply_status INTEGER CHECK (reply_status BETWEEN 100 AND 599),
    reply_body   TEXT,
    created_at   TEXT    NOT NULL CHECK (created_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'),
    expires_at   TEXT    NOT NULL CHECK (expires_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'),
    PRIMARY KEY (scope, user_id, idem_key),
    CONSTRAINT chk_idempotency_keys_reply CHECK ((reply_status IS NULL) = (reply_body IS NULL)),
    CONSTRAINT chk_idempotency_keys_expiry CHECK (expires_at > created_at)
) STRICT;
CREATE INDEX idx_idempotency_keys_expires_at ON idempotency_keys (expires_at);

INSERT INTO schema_migrations (version, description)
VALUES ('0010', 'Idempotency keys of money-moving requests');
