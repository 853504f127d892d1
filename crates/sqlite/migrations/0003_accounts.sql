-- Accounts: refresh-token lifetime and rotation history (reuse of a rotated refresh token
-- revokes its session), device public keys, and the MFA columns for replay protection and
-- biometric device binding. Timestamps: TEXT 'YYYY-MM-DDTHH:MM:SS.ffffffZ' (docs/schema.md).

ALTER TABLE user_sessions ADD COLUMN refresh_expires_at TEXT
    CHECK (refresh_expires_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z');
ALTER TABLE user_sessions ADD COLUMN revoke_reason TEXT
    CHECK (revoke_reason IN ('logout', 'user', 'refresh_reuse', 'account_deleted', 'admin'));

CREATE TABLE user_session_refresh_history (
    token_hash TEXT NOT NULL PRIMARY KEY
               CHECK (length(token_hash) = 64 AND token_hash NOT GLOB '*[^0-9a-f]*'),
    session_id BLOB NOT NULL CHECK (length(session_id) = 16)
               REFERENCES user_sessions (id) ON DELETE CASCADE,
    user_id    BLOB NOT NULL CHECK (length(user_id) = 16)
               REFERENCES users (id) ON DELETE CASCADE,
    rotated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000Z')
               CHECK (rotated_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z')
) STRICT;
CREATE INDEX idx_user_session_refresh_history_session_id
    ON user_session_refresh_history (session_id);
CREATE INDEX idx_user_session_refresh_history_user_id
    ON user_session_refresh_history (user_id);

ALTER TABLE device_registrations ADD COLUMN public_key_alg TEXT
    CHECK (public_key_alg IN ('ES256', 'EdDSA'));
ALTER TABLE device_registrations ADD COLUMN public_key_spki BLOB
    CHECK (length(public_key_spki) BETWEEN 1 AND 512);
ALTER TABLE device_registrations ADD COLUMN public_key_hash TEXT
    CHECK (length(public_key_hash) = 71 AND public_key_hash GLOB 'sha256:*'
           AND substr(public_key_hash, 8) NOT GLOB '*[^0-9a-f]*');
-- The violation message names the columns, which the backend translates to this name.
CREATE UNIQUE INDEX device_registrations_user_id_device_id_key
    ON device_registrations (user_id, device_id);

ALTER TABLE mfa_methods ADD COLUMN device_id TEXT CHECK (length(device_id) <= 255);
ALTER TABLE mfa_methods ADD COLUMN last_used_step INTEGER;
CREATE UNIQUE INDEX uq_mfa_methods_active_type ON mfa_methods (user_id, method_type)
    WHERE is_active = 1 AND method_type <> 'biometric';
CREATE UNIQUE INDEX uq_mfa_methods_biometric_device ON mfa_methods (user_id, device_id)
    WHERE method_type = 'biometric';

INSERT INTO schema_migrations (version, description)
VALUES ('0003', 'Accounts: refresh rotation history, device public keys, MFA replay state');
