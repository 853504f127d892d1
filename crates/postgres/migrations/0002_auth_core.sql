-- Auth core: session revocation, TEP signing keys (private halves encrypted by the
-- application), and the record of what each user consented to for each client.

ALTER TABLE user_sessions ADD COLUMN revoked_at TIMESTAMPTZ;
CREATE INDEX idx_user_sessions_user_live ON user_sessions (user_id) WHERE revoked_at IS NULL;

CREATE TABLE oauth_signing_keys (
    kid VARCHAR(64) PRIMARY KEY CHECK (kid ~ '^[A-Za-z0-9_-]{8,64}$'),
    algorithm VARCHAR(10) NOT NULL CHECK (algorithm IN ('RS256', 'ES256', 'EdDSA')),
    -- AEAD ciphertext of the PKCS#8 DER private key, bound to 'oauth_signing_keys:<kid>'.
    private_key_ciphertext BYTEA NOT NULL,
    public_jwk JSONB NOT NULL,
    status VARCHAR(20) NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'retiring', 'retired')),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- After this instant no token signed by the key can still be valid; it leaves the JWKS.
    retire_after TIMESTAMPTZ
);

CREATE TABLE oauth_consents (
    id UUID PRIMARY KEY,
    user_id UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    client_id VARCHAR(255) NOT NULL REFERENCES oauth_clients(client_id) ON DELETE CASCADE,
    scopes TEXT[] NOT NULL DEFAULT ARRAY[]::TEXT[],
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- Tokens issued at or before this instant for (user, client) are dead.
    revoked_at TIMESTAMPTZ,
    CONSTRAINT uq_oauth_consents_user_client UNIQUE (user_id, client_id)
);
CREATE INDEX idx_oauth_consents_client_id ON oauth_consents (client_id);
CREATE TRIGGER update_oauth_consents_updated_at BEFORE UPDATE ON oauth_consents
    FOR EACH ROW EXECUTE FUNCTION update_updated_at_column();

-- Key material and consents are read on every token check by the request role; only the
-- system role creates or rotates keys.
GRANT SELECT ON oauth_signing_keys TO tmcp_app;
GRANT SELECT, INSERT, UPDATE ON oauth_signing_keys TO tmcp_system;
GRANT SELECT, INSERT, UPDATE, DELETE ON oauth_consents TO tmcp_app, tmcp_system;

INSERT INTO schema_migrations (version, description)
VALUES ('0002', 'Auth core: session revocation, TEP signing keys, OAuth consents');
