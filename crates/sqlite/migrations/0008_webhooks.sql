-- Webhook delivery (API.md §7): one endpoint per mini-app, the outbox's delivery state
-- (attempts, next attempt, a lease) and a log of every attempt for the app's developer.
-- Timestamps: TEXT 'YYYY-MM-DDTHH:MM:SS.ffffffZ'; UUIDs: BLOB(16).

CREATE TABLE webhook_endpoints (
    app_id TEXT NOT NULL PRIMARY KEY CHECK (length(app_id) <= 255),
    url TEXT NOT NULL CHECK (length(url) <= 2048),
    secret_sealed BLOB NOT NULL,
    previous_secret_sealed BLOB,
    previous_secret_expires_at TEXT,
    disabled_at TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    CONSTRAINT chk_webhook_endpoints_previous
        CHECK ((previous_secret_sealed IS NULL) = (previous_secret_expires_at IS NULL))
) STRICT;

-- See the PostgreSQL migration for the meaning of the columns. SQLite has one writer, so
-- the lease only matters for a worker that died mid-delivery.
ALTER TABLE webhook_outbox ADD COLUMN status TEXT NOT NULL DEFAULT 'pending'
    CHECK (status IN ('pending', 'delivered', 'failed', 'dead'));
ALTER TABLE webhook_outbox ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0);
ALTER TABLE webhook_outbox ADD COLUMN next_attempt_at TEXT;
ALTER TABLE webhook_outbox ADD COLUMN lease_owner BLOB CHECK (lease_owner IS NULL OR length(lease_owner) = 16);
ALTER TABLE webhook_outbox ADD COLUMN lease_until TEXT;
ALTER TABLE webhook_outbox ADD COLUMN last_error TEXT;
CREATE INDEX idx_webhook_outbox_due ON webhook_outbox (coalesce(next_attempt_at, created_at), id)
    WHERE status = 'pending';

CREATE TABLE webhook_attempts (
    id BLOB NOT NULL PRIMARY KEY CHECK (length(id) = 16),
    event_id BLOB NOT NULL REFERENCES webhook_outbox(id) ON DELETE CASCADE,
    app_id TEXT NOT NULL CHECK (length(app_id) <= 255),
    attempt INTEGER NOT NULL CHECK (attempt >= 1),
    status_code INTEGER,
    duration_ms INTEGER NOT NULL CHECK (duration_ms >= 0),
    error TEXT,
    attempted_at TEXT NOT NULL
) STRICT;
CREATE INDEX idx_webhook_attempts_event ON webhook_attempts (event_id, attempt);
CREATE INDEX idx_webhook_attempts_app ON webhook_attempts (app_id, attempted_at);

INSERT INTO schema_migrations (version, description)
VALUES ('0008', 'Webhooks: endpoints, delivery state with leases, attempt log');
