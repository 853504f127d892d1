-- Wallets and their double-entry ledger (docs/ledger.md). payment_ledger (0001) cannot be
-- reused: it is keyed by user only, so the platform's fee account, a mini-app's merchant
-- wallet and the clearing account have no place in it, and it has no movement to group
-- the legs of one posting or an account to chain balance_after on (docs/schema.md).

-- One row per account. balance and held are integer minor units; available = balance - held.
-- version counts changes and numbers the account's entries (wallet_entries.seq).
CREATE TABLE wallet_accounts (
    id          VARCHAR(35)  PRIMARY KEY CHECK (id ~ '^tw_[0-9a-f]{32}$'),
    kind        VARCHAR(10)  NOT NULL CHECK (kind IN ('user', 'platform', 'merchant', 'clearing')),
    user_id     UUID         REFERENCES users(id),
    app_id      VARCHAR(255) REFERENCES apps(app_id),
    currency    VARCHAR(3)   NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    balance     BIGINT       NOT NULL DEFAULT 0,
    held        BIGINT       NOT NULL DEFAULT 0,
    version     BIGINT       NOT NULL DEFAULT 0 CHECK (version >= 0),
    created_at  TIMESTAMPTZ  NOT NULL,
    updated_at  TIMESTAMPTZ  NOT NULL,
    CONSTRAINT chk_wallet_accounts_owner CHECK (
        (kind = 'user' AND user_id IS NOT NULL AND app_id IS NULL)
        OR (kind = 'merchant' AND app_id IS NOT NULL AND user_id IS NULL)
        OR (kind IN ('platform', 'clearing') AND user_id IS NULL AND app_id IS NULL)),
    CONSTRAINT chk_wallet_accounts_user_not_negative CHECK (kind <> 'user' OR balance >= 0),
    CONSTRAINT chk_wallet_accounts_held_covered CHECK (held >= 0 AND (held = 0 OR held <= balance))
);
CREATE UNIQUE INDEX uq_wallet_accounts_user ON wallet_accounts (user_id, currency)
    WHERE kind = 'user';
CREATE UNIQUE INDEX uq_wallet_accounts_merchant ON wallet_accounts (app_id, currency)
    WHERE kind = 'merchant';
CREATE UNIQUE INDEX uq_wallet_accounts_platform ON wallet_accounts (currency)
    WHERE kind = 'platform';
CREATE UNIQUE INDEX uq_wallet_accounts_clearing ON wallet_accounts (currency)
    WHERE kind = 'clearing';

-- Money set aside on an account for a payment. Resolved (captured or released) at most
-- once: the trigger below refuses any change to a resolved hold.
CREATE TABLE wallet_holds (
    id                  UUID         PRIMARY KEY,
    account_id          VARCHAR(35)  NOT NULL REFERENCES wallet_accounts(id),
    amount              BIGINT       NOT NULL CHECK (amount > 0),
    payment_id          UUID,
    state               VARCHAR(10)  NOT NULL DEFAULT 'held'
                        CHECK (state IN ('held', 'captured', 'released')),
    capture_movement_id UUID,
    created_at          TIMESTAMPTZ  NOT NULL,
    resolved_at         TIMESTAMPTZ,
    CONSTRAINT chk_wallet_holds_resolution CHECK ((state = 'held') = (resolved_at IS NULL)),
    CONSTRAINT chk_wallet_holds_capture CHECK ((state = 'captured') = (capture_movement_id IS NOT NULL))
);
CREATE INDEX idx_wallet_holds_account_id ON wallet_holds (account_id);
CREATE INDEX idx_wallet_holds_payment_id ON wallet_holds (payment_id) WHERE payment_id IS NOT NULL;

-- The ledger: one row per leg of a movement, append-only. seq is the account's version
-- after the leg, so an account's entries ordered by seq form its balance_after chain.
CREATE TABLE wallet_entries (
    account_id    VARCHAR(35)  NOT NULL REFERENCES wallet_accounts(id),
    seq           BIGINT       NOT NULL CHECK (seq > 0),
    movement_id   UUID         NOT NULL,
    amount        BIGINT       NOT NULL CHECK (amount <> 0),
    balance_after BIGINT       NOT NULL,
    type          VARCHAR(20)  NOT NULL
                  CHECK (type IN ('top_up', 'withdrawal', 'transfer', 'payment', 'refund', 'adjustment')),
    payment_id    UUID,
    refund_id     UUID,
    hold_id       UUID         REFERENCES wallet_holds(id),
    created_at    TIMESTAMPTZ  NOT NULL,
    PRIMARY KEY (account_id, seq)
);
CREATE INDEX idx_wallet_entries_movement_id ON wallet_entries (movement_id);
CREATE INDEX idx_wallet_entries_payment_id ON wallet_entries (payment_id) WHERE payment_id IS NOT NULL;
CREATE INDEX idx_wallet_entries_hold_id ON wallet_entries (hold_id) WHERE hold_id IS NOT NULL;

CREATE FUNCTION wallet_entries_append_only() RETURNS trigger
    LANGUAGE plpgsql
AS $fn$
BEGIN
    RAISE EXCEPTION 'wallet_entries is append-only: % refused', TG_OP
        USING ERRCODE = 'restrict_violation';
END;
$fn$;
CREATE TRIGGER wallet_entries_no_update BEFORE UPDATE ON wallet_entries
    FOR EACH ROW EXECUTE FUNCTION wallet_entries_append_only();
CREATE TRIGGER wallet_entries_no_delete BEFORE DELETE ON wallet_entries
    FOR EACH ROW EXECUTE FUNCTION wallet_entries_append_only();
CREATE TRIGGER wallet_entries_no_truncate BEFORE TRUNCATE ON wallet_entries
    FOR EACH STATEMENT EXECUTE FUNCTION wallet_entries_append_only();

-- A hold changes once, from held to its resolution, and only its state columns change.
CREATE FUNCTION wallet_holds_resolve_once() RETURNS trigger
    LANGUAGE plpgsql
AS $fn$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'wallet_holds rows are never deleted'
            USING ERRCODE = 'restrict_violation';
    END IF;
    IF OLD.state <> 'held' OR NEW.state = 'held'
       OR NEW.id <> OLD.id OR NEW.account_id <> OLD.account_id OR NEW.amount <> OLD.amount
       OR NEW.payment_id IS DISTINCT FROM OLD.payment_id OR NEW.created_at <> OLD.created_at THEN
        RAISE EXCEPTION 'wallet hold % is resolved at most once', OLD.id
            USING ERRCODE = 'restrict_violation';
    END IF;
    RETURN NEW;
END;
$fn$;
CREATE TRIGGER wallet_holds_resolve_once BEFORE UPDATE OR DELETE ON wallet_holds
    FOR EACH ROW EXECUTE FUNCTION wallet_holds_resolve_once();

-- Money is moved by the system role (a movement touches accounts of several owners); the
-- request role may only read its own user's wallets and their entries and holds.
GRANT SELECT ON wallet_accounts, wallet_holds, wallet_entries TO tmcp_app;
GRANT SELECT, INSERT, UPDATE ON wallet_accounts, wallet_holds TO tmcp_system;
GRANT SELECT, INSERT ON wallet_entries TO tmcp_system;
REVOKE UPDATE, DELETE, TRUNCATE ON wallet_entries FROM PUBLIC, tmcp_app, tmcp_system;
REVOKE DELETE, TRUNCATE ON wallet_accounts, wallet_holds FROM PUBLIC, tmcp_app, tmcp_system;

ALTER TABLE wallet_accounts ENABLE ROW LEVEL SECURITY;
ALTER TABLE wallet_accounts FORCE ROW LEVEL SECURITY;
CREATE POLICY wallet_accounts_owner_policy ON wallet_accounts
    FOR SELECT TO tmcp_app
    USING (user_id = current_user_id());

ALTER TABLE wallet_holds ENABLE ROW LEVEL SECURITY;
ALTER TABLE wallet_holds FORCE ROW LEVEL SECURITY;
CREATE POLICY wallet_holds_owner_policy ON wallet_holds
    FOR SELECT TO tmcp_app
    USING (EXISTS (SELECT 1 FROM wallet_accounts a
                    WHERE a.id = wallet_holds.account_id AND a.user_id = current_user_id()));

ALTER TABLE wallet_entries ENABLE ROW LEVEL SECURITY;
ALTER TABLE wallet_entries FORCE ROW LEVEL SECURITY;
CREATE POLICY wallet_entries_owner_policy ON wallet_entries
    FOR SELECT TO tmcp_app
    USING (EXISTS (SELECT 1 FROM wallet_accounts a
                    WHERE a.id = wallet_entries.account_id AND a.user_id = current_user_id()));

INSERT INTO schema_migrations (version, description)
VALUES ('0009', 'Wallets: accounts, holds and the append-only double-entry ledger');
