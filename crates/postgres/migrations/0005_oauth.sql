-- OAuth 2.0 authorization server: authorization codes, device authorizations, grant
-- families linking the access and refresh tokens of one authorization, and the webhook
-- outbox (events written in the same transaction as the change they describe).

-- A grant is one authorization (a code redeemed, a device approved): every access and
-- refresh token it produced carries its id, so a replayed code or refresh token kills
-- them all at once. Refresh tokens are rows of token_type 'refresh'; rotated_at marks a
-- refresh token that has been exchanged for a new one (presenting it again is theft).
ALTER TABLE oauth_tokens ADD COLUMN grant_id UUID;
ALTER TABLE oauth_tokens ADD COLUMN rotated_at TIMESTAMPTZ;
CREATE INDEX idx_oauth_tokens_grant_id ON oauth_tokens (grant_id) WHERE grant_id IS NOT NULL;
CREATE INDEX idx_oauth_tokens_user_client ON oauth_tokens (user_id, client_id);

CREATE TABLE oauth_authorization_codes (
    -- SHA-256 hex of the code; the code itself is never stored.
    code_hash VARCHAR(64) PRIMARY KEY CHECK (code_hash ~ '^[0-9a-f]{64}$'),
    grant_id UUID NOT NULL,
    client_id VARCHAR(255) NOT NULL REFERENCES oauth_clients(client_id) ON DELETE CASCADE,
    user_id UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    redirect_uri TEXT NOT NULL,
    scopes TEXT[] NOT NULL,
    code_challenge VARCHAR(128),
    code_challenge_method VARCHAR(10) CHECK (code_challenge_method IN ('S256')),
    expires_at TIMESTAMPTZ NOT NULL,
    used_at TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT chk_oauth_codes_pkce CHECK ((code_challenge IS NULL) = (code_challenge_method IS NULL))
);
CREATE INDEX idx_oauth_authorization_codes_client_id ON oauth_authorization_codes (client_id);
CREATE INDEX idx_oauth_authorization_codes_user_id ON oauth_authorization_codes (user_id);
CREATE INDEX idx_oauth_authorization_codes_expires_at ON oauth_authorization_codes (expires_at);

CREATE TABLE oauth_device_codes (
    id UUID PRIMARY KEY,
    -- SHA-256 hex of the device code.
    device_code_hash VARCHAR(64) NOT NULL UNIQUE CHECK (device_code_hash ~ '^[0-9a-f]{64}$'),
    user_code VARCHAR(9) NOT NULL UNIQUE CHECK (user_code ~ '^[B-DF-HJ-NP-TV-XZ]{4}-[B-DF-HJ-NP-TV-XZ]{4}$'),
    client_id VARCHAR(255) NOT NULL REFERENCES oauth_clients(client_id) ON DELETE CASCADE,
    scopes TEXT[] NOT NULL,
    status VARCHAR(20) NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'approved', 'denied', 'consumed')),
    -- Set when the user decides.
    user_id UUID REFERENCES users(id) ON DELETE CASCADE,
    interval_secs INTEGER NOT NULL DEFAULT 5 CHECK (interval_secs BETWEEN 1 AND 3600),
    last_polled_at TIMESTAMPTZ,
    expires_at TIMESTAMPTZ NOT NULL,
    decided_at TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT chk_oauth_device_codes_decision CHECK ((status = 'pending') = (user_id IS NULL))
);
CREATE INDEX idx_oauth_device_codes_client_id ON oauth_device_codes (client_id);
CREATE INDEX idx_oauth_device_codes_user_id ON oauth_device_codes (user_id);
CREATE INDEX idx_oauth_device_codes_expires_at ON oauth_device_codes (expires_at);

-- Events for mini-app backends (API.md §7), written in the transaction of the change.
-- Delivery (signing, retries, marking delivered_at) is done by the webhook worker.
CREATE TABLE webhook_outbox (
    id UUID PRIMARY KEY,
    app_id VARCHAR(255) NOT NULL,
    event VARCHAR(100) NOT NULL,
    payload JSONB NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    delivered_at TIMESTAMPTZ
);
CREATE INDEX idx_webhook_outbox_pending ON webhook_outbox (created_at) WHERE delivered_at IS NULL;
CREATE INDEX idx_webhook_outbox_app_id ON webhook_outbox (app_id);

GRANT SELECT, INSERT, UPDATE, DELETE ON oauth_authorization_codes TO tmcp_app, tmcp_system;
GRANT SELECT, INSERT, UPDATE, DELETE ON oauth_device_codes TO tmcp_app, tmcp_system;
GRANT SELECT, INSERT, UPDATE, DELETE ON webhook_outbox TO tmcp_app, tmcp_system;

-- Codes belong to a user. Token-endpoint work has no user yet and runs as tmcp_system;
-- the request role only ever sees its own user's rows.
ALTER TABLE oauth_authorization_codes ENABLE ROW LEVEL SECURITY;
ALTER TABLE oauth_authorization_codes FORCE ROW LEVEL SECURITY;
CREATE POLICY oauth_authorization_codes_owner_policy ON oauth_authorization_codes
    FOR ALL TO tmcp_app
    USING (user_id = current_user_id()) WITH CHECK (user_id = current_user_id());

-- Pending device codes have no user yet and are visible to tmcp_system only.
ALTER TABLE oauth_device_codes ENABLE ROW LEVEL SECURITY;
ALTER TABLE oauth_device_codes FORCE ROW LEVEL SECURITY;
CREATE POLICY oauth_device_codes_owner_policy ON oauth_device_codes
    FOR ALL TO tmcp_app
    USING (user_id = current_user_id()) WITH CHECK (user_id = current_user_id());

INSERT INTO schema_migrations (version, description)
VALUES ('0005', 'OAuth: authorization codes, device codes, token grants, webhook outbox');
