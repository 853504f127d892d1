-- Accounts: refresh-token lifetime and rotation history (reuse of a rotated refresh token
-- revokes its session), device public keys, and the MFA columns for replay protection and
-- biometric device binding.

-- Session and refresh tokens are stored only as lowercase hex SHA-256 (session_token,
-- refresh_token). The session token expires at expires_at, the refresh token at
-- refresh_expires_at.
ALTER TABLE user_sessions
    ADD COLUMN refresh_expires_at TIMESTAMPTZ,
    ADD COLUMN revoke_reason VARCHAR(32)
        CHECK (revoke_reason IN ('logout', 'user', 'refresh_reuse', 'account_deleted', 'admin'));

-- Every refresh token that was rotated away. Presenting one again means it was copied:
-- the whole session is revoked.
CREATE TABLE user_session_refresh_history (
    token_hash VARCHAR(64) PRIMARY KEY CHECK (token_hash ~ '^[0-9a-f]{64}$'),
    session_id UUID        NOT NULL REFERENCES user_sessions(id) ON DELETE CASCADE,
    user_id    UUID        NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    rotated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX idx_user_session_refresh_history_session_id
    ON user_session_refresh_history (session_id);
CREATE INDEX idx_user_session_refresh_history_user_id
    ON user_session_refresh_history (user_id);

ALTER TABLE user_session_refresh_history ENABLE ROW LEVEL SECURITY;
ALTER TABLE user_session_refresh_history FORCE ROW LEVEL SECURITY;
CREATE POLICY user_session_refresh_history_owner_policy ON user_session_refresh_history
    FOR ALL TO tmcp_app
    USING (user_id = current_user_id()) WITH CHECK (user_id = current_user_id());
GRANT SELECT, INSERT, UPDATE, DELETE ON user_session_refresh_history TO tmcp_app, tmcp_system;

-- Device public keys: DER SubjectPublicKeyInfo, its algorithm and 'sha256:<hex>' fingerprint.
ALTER TABLE device_registrations
    ADD COLUMN public_key_alg VARCHAR(10) CHECK (public_key_alg IN ('ES256', 'EdDSA')),
    ADD COLUMN public_key_spki BYTEA CHECK (octet_length(public_key_spki) BETWEEN 1 AND 512),
    ADD COLUMN public_key_hash VARCHAR(71) CHECK (public_key_hash ~ '^sha256:[0-9a-f]{64}$'),
    ADD CONSTRAINT chk_device_registrations_public_key_complete CHECK (
        (public_key_alg IS NULL) = (public_key_spki IS NULL)
        AND (public_key_spki IS NULL) = (public_key_hash IS NULL)),
    -- Same name as SQLite's translated unique-violation name.
    ADD CONSTRAINT device_registrations_user_id_device_id_key UNIQUE (user_id, device_id);

-- last_used_step: TOTP step (or biometric timestamp) of the last accepted proof; a proof at
-- or before it is a replay. device_id: the registered device a biometric method is bound to.
ALTER TABLE mfa_methods
    ADD COLUMN device_id VARCHAR(255),
    ADD COLUMN last_used_step BIGINT,
    ADD CONSTRAINT chk_mfa_methods_biometric_device
        CHECK ((method_type = 'biometric') = (device_id IS NOT NULL));
-- One active PIN and one active TOTP per user; one biometric method per device.
CREATE UNIQUE INDEX uq_mfa_methods_active_type ON mfa_methods (user_id, method_type)
    WHERE is_active AND method_type <> 'biometric';
CREATE UNIQUE INDEX uq_mfa_methods_biometric_device ON mfa_methods (user_id, device_id)
    WHERE method_type = 'biometric';

INSERT INTO schema_migrations (version, description)
VALUES ('0003', 'Accounts: refresh rotation history, device public keys, MFA replay state');
