-- OAuth 2.0 authorization server: authorization codes, device authorizations, grant
-- families linking the access and refresh tokens of one authorization, and the webhook
-- outbox (events written in the same transaction as the change they describe).
-- Timestamps: TEXT 'YYYY-MM-DDTHH:MM:SS.ffffffZ'; UUIDs: BLOB(16); arrays: JSON text.

-- A grant is one authorization (a code redeemed, a device approved): every access and
-- refresh token it produced carries its id. Refresh tokens are rows of token_type
-- 'refresh'; rotated_at marks one that was exchanged for a new one.
ALTER TABLE oauth_tokens ADD COLUMN grant_id BLOB CHECK (grant_id IS NULL OR length(grant_id) = 16);
ALTER TABLE oauth_tokens ADD COLUMN rotated_at TEXT;
CREATE INDEX idx_oauth_tokens_grant_id ON oauth_tokens (grant_id) WHERE grant_id IS NOT NULL;
CREATE INDEX idx_oauth_tokens_user_client ON oauth_tokens (user_id, client_id);

CREATE TABLE oauth_authorization_codes (
    code_hash TEXT NOT NULL PRIMARY KEY
        CHECK (length(code_hash) = 64 AND code_hash NOT GLOB '*[^0-9a-f]*'),
    grant_id BLOB NOT NULL CHECK (length(grant_id) = 16),
    client_id TEXT NOT NULL REFERENCES oauth_clients(client_id) ON DELETE CASCADE,
    user_id BLOB NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    redirect_uri TEXT NOT NULL,
    scopes TEXT NOT NULL CHECK (CASE WHEN json_valid(scopes) THEN json_type(scopes) = 'array' ELSE 0 END),
    code_challenge TEXT CHECK (length(code_challenge) <= 128),
    code_challenge_method TEXT CHECK (code_challenge_method IN ('S256')),
    expires_at TEXT NOT NULL,
    used_at TEXT,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000Z'),
    CONSTRAINT chk_oauth_codes_pkce CHECK ((code_challenge IS NULL) = (code_challenge_method IS NULL))
) STRICT;
CREATE INDEX idx_oauth_authorization_codes_client_id ON oauth_authorization_codes (client_id);
CREATE INDEX idx_oauth_authorization_codes_user_id ON oauth_authorization_codes (user_id);
CREATE INDEX idx_oauth_authorization_codes_expires_at ON oauth_authorization_codes (expires_at);

CREATE TABLE oauth_device_codes (
    id BLOB NOT NULL PRIMARY KEY CHECK (length(id) = 16),
    device_code_hash TEXT NOT NULL UNIQUE
        CHECK (length(device_code_hash) = 64 AND device_code_hash NOT GLOB '*[^0-9a-f]*'),
    user_code TEXT NOT NULL UNIQUE
        CHECK (user_code GLOB '[BCDFGHJKLMNPQRSTVWXZ][BCDFGHJKLMNPQRSTVWXZ][BCDFGHJKLMNPQRSTVWXZ][BCDFGHJKLMNPQRSTVWXZ]-[BCDFGHJKLMNPQRSTVWXZ][BCDFGHJKLMNPQRSTVWXZ][BCDFGHJKLMNPQRSTVWXZ][BCDFGHJKLMNPQRSTVWXZ]'),
    client_id TEXT NOT NULL REFERENCES oauth_clients(client_id) ON DELETE CASCADE,
    scopes TEXT NOT NULL CHECK (CASE WHEN json_valid(scopes) THEN json_type(scopes) = 'array' ELSE 0 END),
    status TEXT NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'approved', 'denied', 'consumed')),
    user_id BLOB REFERENCES users(id) ON DELETE CASCADE,
    interval_secs INTEGER NOT NULL DEFAULT 5 CHECK (interval_secs BETWEEN 1 AND 3600),
    last_polled_at TEXT,
    expires_at TEXT NOT NULL,
    decided_at TEXT,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000Z'),
    CONSTRAINT chk_oauth_device_codes_decision CHECK ((status = 'pending') = (user_id IS NULL))
) STRICT;
CREATE INDEX idx_oauth_device_codes_client_id ON oauth_device_codes (client_id);
CREATE INDEX idx_oauth_device_codes_user_id ON oauth_device_codes (user_id);
CREATE INDEX idx_oauth_device_codes_expires_at ON oauth_device_codes (expires_at);

CREATE TABLE webhook_outbox (
    id BLOB NOT NULL PRIMARY KEY CHECK (length(id) = 16),
    app_id TEXT NOT NULL CHECK (length(app_id) <= 255),
    event TEXT NOT NULL CHECK (length(event) <= 100),
    payload TEXT NOT NULL CHECK (json_valid(payload)),
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000Z'),
    delivered_at TEXT
) STRICT;
CREATE INDEX idx_webhook_outbox_pending ON webhook_outbox (created_at) WHERE delivered_at IS NULL;
CREATE INDEX idx_webhook_outbox_app_id ON webhook_outbox (app_id);

INSERT INTO schema_migrations (version, description)
VALUES ('0005', 'OAuth: authorization codes, device codes, token grants, webhook outbox');
