-- Webhook delivery (API.md §7): one endpoint per mini-app, the outbox's delivery state
-- (attempts, next attempt, a lease so only one worker sends an event at a time) and a log of
-- every attempt for the app's developer.

-- Keyed by the outbox's app_id (the client's mini-app, or the client id itself). Secrets
-- are sealed with the column cipher (they must be readable to sign); during a rotation the
-- previous secret keeps signing until previous_secret_expires_at.
CREATE TABLE webhook_endpoints (
    app_id VARCHAR(255) PRIMARY KEY,
    url TEXT NOT NULL CHECK (length(url) <= 2048),
    secret_sealed BYTEA NOT NULL,
    previous_secret_sealed BYTEA,
    previous_secret_expires_at TIMESTAMPTZ,
    -- Set when the receiver answered 410 Gone; nothing is sent until it is cleared.
    disabled_at TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    CONSTRAINT chk_webhook_endpoints_previous
        CHECK ((previous_secret_sealed IS NULL) = (previous_secret_expires_at IS NULL))
);

-- status: pending (to send), delivered, failed (the receiver refused it: 400/401/410),
-- dead (retries exhausted or no endpoint; can be redelivered). next_attempt_at NULL means
-- due since created_at. A worker claims a due row by setting lease_owner/lease_until; a
-- worker that dies leaves the lease to expire and the row is claimed again.
ALTER TABLE webhook_outbox
    ADD COLUMN status VARCHAR(20) NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'delivered', 'failed', 'dead')),
    ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    ADD COLUMN next_attempt_at TIMESTAMPTZ,
    ADD COLUMN lease_owner UUID,
    ADD COLUMN lease_until TIMESTAMPTZ,
    ADD COLUMN last_error TEXT;
CREATE INDEX idx_webhook_outbox_due ON webhook_outbox ((COALESCE(next_attempt_at, created_at)), id)
    WHERE status = 'pending';

CREATE TABLE webhook_attempts (
    id UUID PRIMARY KEY,
    event_id UUID NOT NULL REFERENCES webhook_outbox(id) ON DELETE CASCADE,
    app_id VARCHAR(255) NOT NULL,
    attempt INTEGER NOT NULL CHECK (attempt >= 1),
    -- The HTTP status, NULL when no answer came (network error, timeout, refused target).
    status_code INTEGER,
    duration_ms BIGINT NOT NULL CHECK (duration_ms >= 0),
    error TEXT,
    attempted_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX idx_webhook_attempts_event ON webhook_attempts (event_id, attempt);
CREATE INDEX idx_webhook_attempts_app ON webhook_attempts (app_id, attempted_at);

GRANT SELECT, INSERT, UPDATE, DELETE ON webhook_endpoints TO tmcp_app, tmcp_system;
GRANT SELECT, INSERT, UPDATE, DELETE ON webhook_attempts TO tmcp_app, tmcp_system;

INSERT INTO schema_migrations (version, description)
VALUES ('0008', 'Webhooks: endpoints, delivery state with leases, attempt log');
