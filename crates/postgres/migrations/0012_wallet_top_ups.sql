-- Payment methods and top-ups of the wallet API (docs/wallet.md).

-- At most one default method per user. Removing a method deactivates it (top-ups keep
-- pointing at it) and clears its default flag.
CREATE UNIQUE INDEX uq_payment_methods_default ON payment_methods (user_id)
    WHERE is_default;
ALTER TABLE payment_methods
    ADD CONSTRAINT chk_payment_methods_default_active CHECK (NOT is_default OR is_active);

-- A top-up: money entering a user's wallet from a payment method through a processor.
-- processing -> completed (movement_id names the ledger movement clearing -> wallet, posted
-- in the same transaction) | failed (failure_reason). Settled once: updates say
-- WHERE state = 'processing'.
CREATE TABLE wallet_top_ups (
    id                       UUID         PRIMARY KEY,
    user_id                  UUID         NOT NULL REFERENCES users(id),
    payment_method_id        UUID         NOT NULL REFERENCES payment_methods(id),
    amount                   BIGINT       NOT NULL CHECK (amount > 0),
    currency                 VARCHAR(3)   NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    state                    VARCHAR(10)  NOT NULL
                             CHECK (state IN ('processing', 'completed', 'failed')),
    processor                VARCHAR(50)  NOT NULL,
    -- The token charged, kept so the recovery job can ask the processor again.
    provider_method_id       VARCHAR(255) NOT NULL,
    -- The request's idempotency key (a top-up is made with a session: scope '-').
    idempotency_key          VARCHAR(255) NOT NULL,
    processor_transaction_id VARCHAR(255),
    failure_reason           VARCHAR(255),
    movement_id              UUID,
    created_at               TIMESTAMPTZ  NOT NULL,
    updated_at               TIMESTAMPTZ  NOT NULL,
    settled_at               TIMESTAMPTZ,
    CONSTRAINT chk_wallet_top_ups_completed CHECK (
        (state = 'completed') = (movement_id IS NOT NULL AND processor_transaction_id IS NOT NULL)),
    CONSTRAINT chk_wallet_top_ups_failed CHECK ((state = 'failed') = (failure_reason IS NOT NULL)),
    CONSTRAINT chk_wallet_top_ups_settled CHECK ((state = 'processing') = (settled_at IS NULL))
);
CREATE INDEX idx_wallet_top_ups_user_id ON wallet_top_ups (user_id, created_at);
-- The recovery job's scan: top-ups still processing, oldest first.
CREATE INDEX idx_wallet_top_ups_processing ON wallet_top_ups (created_at)
    WHERE state = 'processing';

-- Money work (the system role) writes top-ups; the request role reads its own user's.
REVOKE ALL ON wallet_top_ups FROM PUBLIC, tmcp_app;
GRANT SELECT ON wallet_top_ups TO tmcp_app;
GRANT SELECT, INSERT, UPDATE ON wallet_top_ups TO tmcp_system;

ALTER TABLE wallet_top_ups ENABLE ROW LEVEL SECURITY;
ALTER TABLE wallet_top_ups FORCE ROW LEVEL SECURITY;
CREATE POLICY wallet_top_ups_owner_policy ON wallet_top_ups
    FOR SELECT TO tmcp_app
    USING (user_id = current_user_id());

INSERT INTO schema_migrations (version, description)
VALUES ('0012', 'Wallet API: one default payment method per user, top-ups');
