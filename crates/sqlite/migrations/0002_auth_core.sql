-- Auth core: session revocation, TEP signing keys (private halves encrypted by the
-- application), and the record of what each user consented to for each client.
-- Timestamps: TEXT 'YYYY-MM-DDTHH:MM:SS.ffffffZ' (see docs/schema.md).

ALTER TABLE user_sessions ADD COLUMN revoked_at TEXT;
CREATE INDEX idx_user_sessions_user_live ON user_sessions (user_id) WHERE revoked_at IS NULL;

CREATE TABLE oauth_signing_keys (
    kid TEXT NOT NULL PRIMARY KEY CHECK (length(kid) BETWEEN 8 AND 64 AND kid NOT GLOB '*[^A-Za-z0-9_-]*'),
    algorithm TEXT NOT NULL CHECK (algorithm IN ('RS256', 'ES256', 'EdDSA')),
    private_key_ciphertext BLOB NOT NULL,
    public_jwk TEXT NOT NULL CHECK (json_valid(public_jwk)),
    status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'retiring', 'retired')),
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000Z'),
    retire_after TEXT
) STRICT;

CREATE TABLE oauth_consents (
    id BLOB NOT NULL PRIMARY KEY CHECK (length(id) = 16),
    user_id BLOB NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    client_id TEXT NOT NULL REFERENCES oauth_clients(client_id) ON DELETE CASCADE,
    scopes TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(scopes) AND json_type(scopes) = 'array'),
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000Z'),
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000Z'),
    revoked_at TEXT,
    CONSTRAINT uq_oauth_consents_user_client UNIQUE (user_id, client_id)
) STRICT;
CREATE INDEX idx_oauth_consents_client_id ON oauth_consents (client_id);
CREATE TRIGGER update_oauth_consents_updated_at AFTER UPDATE ON oauth_consents
    FOR EACH ROW
    WHEN NEW.updated_at IS OLD.updated_at
     AND NEW.updated_at IS NOT (strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000Z')
BEGIN
    UPDATE oauth_consents SET updated_at = strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000Z'
    WHERE id = NEW.id;
END;

INSERT INTO schema_migrations (version, description)
VALUES ('0002', 'Auth core: session revocation, TEP signing keys, OAuth consents');
