-- The payment flow (docs/payments.md): what payment_transactions (0001) lacks for the
-- request / authorize / MFA / refund protocol, the refunds (one row per refund, each with
-- its own ledger movement) and what the MFA challenges need. Money itself stays in the
-- wallet tables of 0009; these rows say what the money was for.

-- Added columns reach every monthly partition (they are declared on the parent).
ALTER TABLE payment_transactions
    ADD COLUMN merchant_order_id VARCHAR(255),
    ADD COLUMN items             JSONB       NOT NULL DEFAULT '[]',
    ADD COLUMN callback_url      TEXT,
    -- A request not authorized by then expires (lazily and by the payment_expiry job).
    ADD COLUMN expires_at        TIMESTAMPTZ,
    -- The wallet hold reserving the amount while MFA is pending (wallet_holds.id).
    ADD COLUMN hold_id           UUID,
    -- Minor units refunded so far; never above the captured amount.
    ADD COLUMN refunded_amount   BIGINT      NOT NULL DEFAULT 0,
    -- The platform's share of the captured amount (payments.fee_basis_points).
    ADD COLUMN fee_amount        BIGINT      NOT NULL DEFAULT 0,
    -- Failed MFA verifications over all of the payment's challenges (3 lock it).
    ADD COLUMN mfa_attempts      INTEGER     NOT NULL DEFAULT 0,
    ADD CONSTRAINT chk_payment_refunded_covered
        CHECK (refunded_amount >= 0 AND refunded_amount <= amount),
    ADD CONSTRAINT chk_payment_fee_covered CHECK (fee_amount >= 0 AND fee_amount <= amount),
    ADD CONSTRAINT chk_payment_mfa_attempts CHECK (mfa_attempts >= 0);

-- Listings newest first per owner, and the expiry sweep over live requests only.
CREATE INDEX idx_payment_transactions_user_created
    ON payment_transactions (user_id, created_at DESC, payment_id DESC);
CREATE INDEX idx_payment_transactions_app_created
    ON payment_transactions (app_id, created_at DESC, payment_id DESC);
CREATE INDEX idx_payment_transactions_due
    ON payment_transactions (expires_at) WHERE state IN ('Initiated', 'MFA_Required');

-- One row per refund; the sum of a payment's refunds equals its refunded_amount (both
-- written in one transaction under the payment row's lock) and never exceeds its amount.
CREATE TABLE payment_refunds (
    refund_id          UUID         PRIMARY KEY,
    payment_id         UUID         NOT NULL,
    payment_created_at TIMESTAMPTZ  NOT NULL,
    user_id            UUID         NOT NULL REFERENCES users(id),
    app_id             VARCHAR(255) REFERENCES apps(app_id),
    amount             BIGINT       NOT NULL CHECK (amount > 0),
    -- The part of the refund taken back from the platform fee account (pro rata).
    fee_amount         BIGINT       NOT NULL DEFAULT 0 CHECK (fee_amount >= 0 AND fee_amount <= amount),
    currency           VARCHAR(3)   NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    reason             TEXT         NOT NULL,
    -- The wallet movement (wallet_entries.movement_id) that moved the money back.
    movement_id        UUID         NOT NULL,
    created_at         TIMESTAMPTZ  NOT NULL,
    CONSTRAINT fk_payment_refunds_payment
        FOREIGN KEY (payment_id, payment_created_at)
        REFERENCES payment_transactions(payment_id, created_at)
);
CREATE INDEX idx_payment_refunds_payment ON payment_refunds (payment_id);
CREATE INDEX idx_payment_refunds_user ON payment_refunds (user_id);

-- A challenge offers several methods (the user's enrolled ones): `methods`. method_type
-- (NOT NULL since 0001) holds the first offered method and, once verified, the one used.
ALTER TABLE payment_mfa_challenges
    ADD COLUMN methods JSONB NOT NULL DEFAULT '[]';
CREATE INDEX idx_payment_mfa_challenges_pending
    ON payment_mfa_challenges (payment_id) WHERE status = 'pending';

-- Privileges. Payments move money, so (as for the wallet tables of 0009) only the system
-- role writes them; the request role may read its own user's rows and nothing else.
REVOKE INSERT, UPDATE, DELETE ON payment_transactions, payment_mfa_challenges FROM tmcp_app;
GRANT SELECT ON payment_refunds TO tmcp_app;
GRANT SELECT, INSERT ON payment_refunds TO tmcp_system;
REVOKE UPDATE, DELETE, TRUNCATE ON payment_refunds FROM PUBLIC, tmcp_app, tmcp_system;

DROP POLICY payment_transactions_owner_policy ON payment_transactions;
CREATE POLICY payment_transactions_owner_policy ON payment_transactions
    FOR SELECT TO tmcp_app
    USING (user_id = current_user_id());

DROP POLICY payment_mfa_challenges_owner_policy ON payment_mfa_challenges;
CREATE POLICY payment_mfa_challenges_owner_policy ON payment_mfa_challenges
    FOR SELECT TO tmcp_app
    USING (user_id = current_user_id());

ALTER TABLE payment_refunds ENABLE ROW LEVEL SECURITY;
ALTER TABLE payment_refunds FORCE ROW LEVEL SECURITY;
CREATE POLICY payment_refunds_owner_policy ON payment_refunds
    FOR SELECT TO tmcp_app
    USING (user_id = current_user_id());

-- Refund rows are history: never changed or removed (the owner role included).
CREATE FUNCTION payment_refunds_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'payment_refunds is append-only: % refused', TG_OP
        USING ERRCODE = 'restrict_violation';
END;
$$;
CREATE TRIGGER payment_refunds_no_update BEFORE UPDATE OR DELETE ON payment_refunds
    FOR EACH ROW EXECUTE FUNCTION payment_refunds_append_only();
