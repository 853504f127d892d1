-- Idempotency keys of money-moving requests (docs/wallet.md). One row per (scope, user, key):
-- scope is the calling app's id, or '-' for a call made with a session (no app). The row is
-- written in the same transaction as the resource it creates (resource_id), and the reply is
-- stored in the same transaction as that resource's final state change, so a replay finds
-- either nothing (nothing happened), a running request (reply NULL) or the final answer.
CREATE TABLE idempotency_keys (
    scope        VARCHAR(255) NOT NULL CHECK (length(scope) BETWEEN 1 AND 255),
    user_id      UUID         NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    -- 1 to 255 visible ASCII characters.
    idem_key     VARCHAR(255) NOT NULL CHECK (idem_key ~ '^[!-~]{1,255}$'),
    operation    VARCHAR(50)  NOT NULL CHECK (operation ~ '^[a-z_]{1,50}$'),
    -- SHA-256 of method + path + canonical JSON body.
    fingerprint  BYTEA        NOT NULL CHECK (octet_length(fingerprint) = 32),
    resource_id  TEXT         NOT NULL CHECK (length(resource_id) BETWEEN 1 AND 255),
    reply_status INTEGER      CHECK (reply_status BETWEEN 100 AND 599),
    reply_body   TEXT,
    created_at   TIMESTAMPTZ  NOT NULL,
    expires_at   TIMESTAMPTZ  NOT NULL,
    PRIMARY KEY (scope, user_id, idem_key),
    CONSTRAINT chk_idempotency_keys_reply CHECK ((reply_status IS NULL) = (reply_body IS NULL)),
    CONSTRAINT chk_idempotency_keys_expiry CHECK (expires_at > created_at)
);
CREATE INDEX idx_idempotency_keys_expires_at ON idempotency_keys (expires_at);

-- Money work runs on the system pool, which writes and purges the keys. The request role may
-- read its own user's keys only.
REVOKE ALL ON idempotency_keys FROM PUBLIC, tmcp_app;
GRANT SELECT ON idempotency_keys TO tmcp_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON idempotency_keys TO tmcp_system;

ALTER TABLE idempotency_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE idempotency_keys FORCE ROW LEVEL SECURITY;
CREATE POLICY idempotency_keys_owner_policy ON idempotency_keys
    FOR SELECT TO tmcp_app
    USING (user_id = current_user_id());

INSERT INTO schema_migrations (version, description)
VALUES ('0010', 'Idempotency keys of money-moving requests');
