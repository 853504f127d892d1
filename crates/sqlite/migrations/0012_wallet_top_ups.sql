-- Payment methods and top-ups of the wallet API (docs/wallet.md); same index, table and
-- constraint names as PostgreSQL's 0012. SQLite cannot add a CHECK to an existing table;
-- "a default method is active" is kept by the code (a removal clears the flag).

CREATE UNIQUE INDEX uq_payment_methods_default ON payment_methods (user_id)
    WHERE is_default = 1;

CREATE TABLE wallet_top_ups (
    id                       BLOB    NOT NULL PRIMARY KEY CHECK (length(id) = 16),
    user_id                  BLOB    NOT NULL CHECK (length(user_id) = 16) REFERENCES users (id),
    payment_method_id        BLOB    NOT NULL CHECK (length(payment_method_id) = 16)
                             REFERENCES payment_methods (id),
    amount                   INTEGER NOT NULL CHECK (amount > 0),
    currency                 TEXT    NOT NULL CHECK (length(currency) = 3 AND currency NOT GLOB '*[^A-Z]*'),
    state                    TEXT    NOT NULL CHECK (state IN ('processing', 'completed', 'failed')),
    processor                TEXT    NOT NULL CHECK (length(processor) <= 50),
    provider_method_id       TEXT    NOT NULL CHECK (length(provider_method_id) <= 255),
    idempotency_key          TEXT    NOT NULL CHECK (length(idempotency_key) <= 255),
    processor_transaction_id TEXT    CHECK (length(processor_transaction_id) <= 255),
    failure_reason           TEXT    CHECK (length(failure_reason) <= 255),
    movement_id              BLOB    CHECK (movement_id IS NULL OR length(movement_id) = 16),
    created_at               TEXT    NOT NULL CHECK (created_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'),
    updated_at               TEXT    NOT NULL CHECK (updated_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'),
    settled_at               TEXT    CHECK (settled_at IS NULL OR settled_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'),
    CONSTRAINT chk_wallet_top_ups_completed CHECK (
        (state = 'completed') = (movement_id IS NOT NULL AND processor_transaction_id IS NOT NULL)),
    CONSTRAINT chk_wallet_top_ups_failed CHECK ((state = 'failed') = (failure_reason IS NOT NULL)),
    CONSTRAINT chk_wallet_top_ups_settled CHECK ((state = 'processing') = (settled_at IS NULL))
) STRICT;
CREATE INDEX idx_wallet_top_ups_user_id ON wallet_top_ups (user_id, created_at);
CREATE INDEX idx_wallet_top_ups_processing ON wallet_top_ups (created_at)
    WHERE state = 'processing';

INSERT INTO schema_migrations (version, description)
VALUES ('0012', 'Wallet API: one default payment method per user, top-ups');
