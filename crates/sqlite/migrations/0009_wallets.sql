-- Wallets and their double-entry ledger (docs/ledger.md); same tables, constraints and
-- trigger names as PostgreSQL's 0009. payment_ledger is not reused (docs/schema.md).
-- Timestamps: TEXT 'YYYY-MM-DDTHH:MM:SS.ffffffZ'; UUIDs: BLOB(16).

CREATE TABLE wallet_accounts (
    id          TEXT    NOT NULL PRIMARY KEY
                CHECK (length(id) = 35 AND substr(id, 1, 3) = 'tw_'
                       AND substr(id, 4) NOT GLOB '*[^0-9a-f]*'),
    kind        TEXT    NOT NULL CHECK (kind IN ('user', 'platform', 'merchant', 'clearing')),
    user_id     BLOB    REFERENCES users(id),
    app_id      TEXT    REFERENCES apps(app_id),
    currency    TEXT    NOT NULL CHECK (length(currency) = 3 AND currency NOT GLOB '*[^A-Z]*'),
    balance     INTEGER NOT NULL DEFAULT 0,
    held        INTEGER NOT NULL DEFAULT 0,
    version     INTEGER NOT NULL DEFAULT 0 CHECK (version >= 0),
    created_at  TEXT    NOT NULL CHECK (created_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'),
    updated_at  TEXT    NOT NULL CHECK (updated_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'),
    CONSTRAINT chk_wallet_accounts_owner CHECK (
        (kind = 'user' AND user_id IS NOT NULL AND app_id IS NULL)
        OR (kind = 'merchant' AND app_id IS NOT NULL AND user_id IS NULL)
        OR (kind IN ('platform', 'clearing') AND user_id IS NULL AND app_id IS NULL)),
    CONSTRAINT chk_wallet_accounts_user_not_negative CHECK (kind <> 'user' OR balance >= 0),
    CONSTRAINT chk_wallet_accounts_held_covered CHECK (held >= 0 AND (held = 0 OR held <= balance))
) STRICT;
CREATE UNIQUE INDEX uq_wallet_accounts_user ON wallet_accounts (user_id, currency)
    WHERE kind = 'user';
CREATE UNIQUE INDEX uq_wallet_accounts_merchant ON wallet_accounts (app_id, currency)
    WHERE kind = 'merchant';
CREATE UNIQUE INDEX uq_wallet_accounts_platform ON wallet_accounts (currency)
    WHERE kind = 'platform';
CREATE UNIQUE INDEX uq_wallet_accounts_clearing ON wallet_accounts (currency)
    WHERE kind = 'clearing';

CREATE TABLE wallet_holds (
    id                  BLOB    NOT NULL PRIMARY KEY CHECK (length(id) = 16),
    account_id          TEXT    NOT NULL REFERENCES wallet_accounts(id),
    amount              INTEGER NOT NULL CHECK (amount > 0),
    payment_id          BLOB    CHECK (payment_id IS NULL OR length(payment_id) = 16),
    state               TEXT    NOT NULL DEFAULT 'held'
                        CHECK (state IN ('held', 'captured', 'released')),
    capture_movement_id BLOB    CHECK (capture_movement_id IS NULL OR length(capture_movement_id) = 16),
    created_at          TEXT    NOT NULL CHECK (created_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'),
    resolved_at         TEXT    CHECK (resolved_at IS NULL OR resolved_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'),
    CONSTRAINT chk_wallet_holds_resolution CHECK ((state = 'held') = (resolved_at IS NULL)),
    CONSTRAINT chk_wallet_holds_capture CHECK ((state = 'captured') = (capture_movement_id IS NOT NULL))
) STRICT;
CREATE INDEX idx_wallet_holds_account_id ON wallet_holds (account_id);
CREATE INDEX idx_wallet_holds_payment_id ON wallet_holds (payment_id) WHERE payment_id IS NOT NULL;

CREATE TABLE wallet_entries (
    account_id    TEXT    NOT NULL REFERENCES wallet_accounts(id),
    seq           INTEGER NOT NULL CHECK (seq > 0),
    movement_id   BLOB    NOT NULL CHECK (length(movement_id) = 16),
    amount        INTEGER NOT NULL CHECK (amount <> 0),
    balance_after INTEGER NOT NULL,
    type          TEXT    NOT NULL
                  CHECK (type IN ('top_up', 'withdrawal', 'transfer', 'payment', 'refund', 'adjustment')),
    payment_id    BLOB    CHECK (payment_id IS NULL OR length(payment_id) = 16),
    refund_id     BLOB    CHECK (refund_id IS NULL OR length(refund_id) = 16),
    hold_id       BLOB    REFERENCES wallet_holds(id),
    created_at    TEXT    NOT NULL CHECK (created_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'),
    PRIMARY KEY (account_id, seq)
) STRICT;
CREATE INDEX idx_wallet_entries_movement_id ON wallet_entries (movement_id);
CREATE INDEX idx_wallet_entries_payment_id ON wallet_entries (payment_id) WHERE payment_id IS NOT NULL;
CREATE INDEX idx_wallet_entries_hold_id ON wallet_entries (hold_id) WHERE hold_id IS NOT NULL;

-- Ledger rows are never changed or removed. Insert them with plain INSERT only (INSERT OR
-- REPLACE would delete a clashing row without firing the delete trigger).
CREATE TRIGGER wallet_entries_no_update
BEFORE UPDATE ON wallet_entries
FOR EACH ROW
BEGIN
    SELECT RAISE(ABORT, 'wallet_entries is append-only');
END;

CREATE TRIGGER wallet_entries_no_delete
BEFORE DELETE ON wallet_entries
FOR EACH ROW
BEGIN
    SELECT RAISE(ABORT, 'wallet_entries is append-only');
END;

-- A hold changes once, from held to its resolution, and only its state columns change.
CREATE TRIGGER wallet_holds_resolve_once
BEFORE UPDATE ON wallet_holds
FOR EACH ROW
WHEN OLD.state <> 'held' OR NEW.state = 'held'
     OR NEW.id IS NOT OLD.id OR NEW.account_id IS NOT OLD.account_id
     OR NEW.amount IS NOT OLD.amount OR NEW.payment_id IS NOT OLD.payment_id
     OR NEW.created_at IS NOT OLD.created_at
BEGIN
    SELECT RAISE(ABORT, 'wallet hold is resolved at most once');
END;

CREATE TRIGGER wallet_holds_no_delete
BEFORE DELETE ON wallet_holds
FOR EACH ROW
BEGIN
    SELECT RAISE(ABORT, 'wallet_holds rows are never deleted');
END;

INSERT INTO schema_migrations (version, description)
VALUES ('0009', 'Wallets: accounts, holds and the append-only double-entry ledger');
