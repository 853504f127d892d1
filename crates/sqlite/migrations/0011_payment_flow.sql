-- The payment flow (docs/payments.md); same columns, tables and meaning as PostgreSQL's
-- 0011. Timestamps: TEXT 'YYYY-MM-DDTHH:MM:SS.ffffffZ'; UUIDs: BLOB(16).

ALTER TABLE payment_transactions ADD COLUMN merchant_order_id TEXT
    CHECK (length(merchant_order_id) <= 255);
ALTER TABLE payment_transactions ADD COLUMN items TEXT NOT NULL DEFAULT '[]'
    CHECK (json_valid(items));
ALTER TABLE payment_transactions ADD COLUMN callback_url TEXT;
-- A request not authorized by then expires (lazily and by the payment_expiry job).
ALTER TABLE payment_transactions ADD COLUMN expires_at TEXT CHECK (expires_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z');
-- The wallet hold reserving the amount while MFA is pending (wallet_holds.id).
ALTER TABLE payment_transactions ADD COLUMN hold_id BLOB CHECK (length(hold_id) = 16);
-- Minor units refunded so far; never above the captured amount.
ALTER TABLE payment_transactions ADD COLUMN refunded_amount INTEGER NOT NULL DEFAULT 0
    CONSTRAINT chk_payment_refunded_covered CHECK (refunded_amount >= 0 AND refunded_amount <= amount);
-- The platform's share of the captured amount (payments.fee_basis_points).
ALTER TABLE payment_transactions ADD COLUMN fee_amount INTEGER NOT NULL DEFAULT 0
    CONSTRAINT chk_payment_fee_covered CHECK (fee_amount >= 0 AND fee_amount <= amount);
-- Failed MFA verifications over all of the payment's challenges (3 lock it).
ALTER TABLE payment_transactions ADD COLUMN mfa_attempts INTEGER NOT NULL DEFAULT 0
    CONSTRAINT chk_payment_mfa_attempts CHECK (mfa_attempts >= 0);

CREATE INDEX idx_payment_transactions_user_created
    ON payment_transactions (user_id, created_at DESC, payment_id DESC);
CREATE INDEX idx_payment_transactions_app_created
    ON payment_transactions (app_id, created_at DESC, payment_id DESC);
CREATE INDEX idx_payment_transactions_due
    ON payment_transactions (expires_at) WHERE state IN ('Initiated', 'MFA_Required');

-- One row per refund; the sum of a payment's refunds equals its refunded_amount.
CREATE TABLE payment_refunds (
    refund_id          BLOB    NOT NULL PRIMARY KEY CHECK (length(refund_id) = 16),
    payment_id         BLOB    NOT NULL CHECK (length(payment_id) = 16),
    payment_created_at TEXT    NOT NULL CHECK (payment_created_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'),
    user_id            BLOB    NOT NULL CHECK (length(user_id) = 16) REFERENCES users (id),
    app_id             TEXT    REFERENCES apps (app_id),
    amount             INTEGER NOT NULL CHECK (amount > 0),
    fee_amount         INTEGER NOT NULL DEFAULT 0 CHECK (fee_amount >= 0 AND fee_amount <= amount),
    currency           TEXT    NOT NULL CHECK (length(currency) = 3 AND currency NOT GLOB '*[^A-Z]*'),
    reason             TEXT    NOT NULL,
    movement_id        BLOB    NOT NULL CHECK (length(movement_id) = 16),
    created_at         TEXT    NOT NULL CHECK (created_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'),
    CONSTRAINT fk_payment_refunds_payment
        FOREIGN KEY (payment_id, payment_created_at)
        REFERENCES payment_transactions (payment_id, created_at)
) STRICT;
CREATE INDEX idx_payment_refunds_payment ON payment_refunds (payment_id);
CREATE INDEX idx_payment_refunds_user ON payment_refunds (user_id);

CREATE TRIGGER payment_refunds_no_update
BEFORE UPDATE ON payment_refunds
FOR EACH ROW
BEGIN
    SELECT RAISE(ABORT, 'payment_refunds is append-only');
END;
CREATE TRIGGER payment_refunds_no_delete
BEFORE DELETE ON payment_refunds
FOR EACH ROW
BEGIN
    SELECT RAISE(ABORT, 'payment_refunds is append-only');
END;

-- A challenge offers several methods: `methods` (JSON array). method_type holds the first
-- offered method and, once verified, the one used.
ALTER TABLE payment_mfa_challenges ADD COLUMN methods TEXT NOT NULL DEFAULT '[]'
    CHECK (json_valid(methods));
CREATE INDEX idx_payment_mfa_challenges_pending
    ON payment_mfa_challenges (payment_id) WHERE status = 'pending';
