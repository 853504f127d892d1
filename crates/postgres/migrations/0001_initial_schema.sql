-- =============================================================================
-- TMCP Server - initial PostgreSQL schema (migration 0001)
--
-- Implements docs "Database_Schema_Design.md" (sections 3-7 and 10.1) with the
-- corrections agreed for this project:
--   * all timestamps are TIMESTAMPTZ (UTC); defaulted columns are NOT NULL;
--   * enumerated VARCHAR columns carry CHECK constraints;
--   * storage_entries is hash partitioned with all four partitions;
--   * payment_transactions and the three analytics tables are range
--     partitioned by month, maintained by the tmcp_* partition functions
--     below (no DEFAULT partitions);
--   * storage quota usage is maintained by a trigger and bounded by a CHECK
--     constraint, so concurrent writers can never exceed a quota;
--   * row level security keyed on the transaction-local setting tmcp.user_id
--     for the request role tmcp_app; tmcp_system bypasses RLS;
--   * payment_ledger is append-only (triggers refuse UPDATE and DELETE);
--   * summary views aggregate every measure independently (no join fan-out).
--
-- Runs inside one transaction (sqlx migrate). Roles are cluster-wide, so role
-- creation tolerates roles that already exist (e.g. from another database).
-- Partition boundaries are UTC month boundaries.
-- =============================================================================


-- -----------------------------------------------------------------------------
-- Roles
-- -----------------------------------------------------------------------------
-- tmcp_app    : request pool (SET ROLE tmcp_app), subject to RLS.
-- tmcp_system : background/system jobs (SET ROLE tmcp_system), bypasses RLS.
-- Creating a BYPASSRLS role requires superuser; where the migrating owner is
-- not a superuser, a DBA must create the two roles beforehand.
DO $roles$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'tmcp_app') THEN
        BEGIN
            CREATE ROLE tmcp_app NOLOGIN NOBYPASSRLS;
        EXCEPTION
            -- another session created it concurrently
            WHEN duplicate_object OR unique_violation THEN NULL;
        END;
    END IF;

    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'tmcp_system') THEN
        BEGIN
            CREATE ROLE tmcp_system NOLOGIN BYPASSRLS;
        EXCEPTION
            WHEN duplicate_object OR unique_violation THEN NULL;
        END;
    END IF;

    -- Refuse to continue with roles whose attributes would silently defeat
    -- (tmcp_app) or break (tmcp_system) row level security.
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_roles
                WHERE rolname = 'tmcp_app' AND (rolsuper OR rolbypassrls)) THEN
        RAISE EXCEPTION 'role tmcp_app exists but is SUPERUSER or BYPASSRLS; row level security would not apply to it';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles
                    WHERE rolname = 'tmcp_system' AND (rolsuper OR rolbypassrls)) THEN
        RAISE EXCEPTION 'role tmcp_system exists but lacks BYPASSRLS';
    END IF;
END
$roles$;

-- The migrating (and serving) login role must be able to SET ROLE to both.
-- A superuser can always SET ROLE, so nothing is granted in that case.
DO $membership$
DECLARE
    r text;
BEGIN
    IF (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user) THEN
        RETURN;
    END IF;
    FOREACH r IN ARRAY ARRAY['tmcp_app', 'tmcp_system'] LOOP
        IF NOT pg_catalog.pg_has_role(current_user, r, 'MEMBER') THEN
            BEGIN
                EXECUTE format('GRANT %I TO %I', r, current_user);
            EXCEPTION
                WHEN insufficient_privilege OR invalid_grant_operation
                     OR duplicate_object THEN
                    RAISE WARNING 'could not grant role % to %: %; grant it manually',
                        r, current_user, SQLERRM;
            END;
        END IF;
    END LOOP;
END
$membership$;


-- -----------------------------------------------------------------------------
-- Helper functions
-- -----------------------------------------------------------------------------

-- Id of the end user the current transaction acts for; NULL when unset.
-- Set per transaction with: SELECT set_config('tmcp.user_id', $1, true)
CREATE FUNCTION current_user_id() RETURNS uuid
    LANGUAGE sql STABLE PARALLEL SAFE
AS $fn$
    SELECT NULLIF(current_setting('tmcp.user_id', true), '')::uuid
$fn$;

-- Maintains updated_at, unless the UPDATE statement set it explicitly (the
-- application injects its own clock).
CREATE FUNCTION update_updated_at_column() RETURNS trigger
    LANGUAGE plpgsql
AS $fn$
BEGIN
    IF NEW.updated_at IS NOT DISTINCT FROM OLD.updated_at THEN
        NEW.updated_at := now();
    END IF;
    RETURN NEW;
END
$fn$;


-- -----------------------------------------------------------------------------
-- Migration bookkeeping
-- -----------------------------------------------------------------------------
CREATE TABLE schema_migrations (
    version     VARCHAR(255) PRIMARY KEY,
    applied_at  TIMESTAMPTZ  NOT NULL DEFAULT now(),
    description TEXT         NOT NULL
);


-- -----------------------------------------------------------------------------
-- 3.1 User management
-- -----------------------------------------------------------------------------
CREATE TABLE users (
    id             UUID         PRIMARY KEY DEFAULT gen_random_uuid(),
    username       VARCHAR(255) NOT NULL UNIQUE,
    email          VARCHAR(255) NOT NULL UNIQUE,
    password_hash  VARCHAR(255) NOT NULL,
    first_name     VARCHAR(100),
    last_name      VARCHAR(100),
    phone          BYTEA,
    avatar_url     VARCHAR(500),
    email_verified BOOLEAN      NOT NULL DEFAULT FALSE,
    phone_verified BOOLEAN      NOT NULL DEFAULT FALSE,
    mfa_enabled    BOOLEAN      NOT NULL DEFAULT FALSE,
    status         VARCHAR(50)  NOT NULL DEFAULT 'active'
                   CHECK (status IN ('active', 'suspended', 'deleted')),
    role           VARCHAR(20)  NOT NULL DEFAULT 'user'
                   CHECK (role IN ('user', 'developer', 'admin')),
    preferences    JSONB        NOT NULL DEFAULT '{}',
    created_at     TIMESTAMPTZ  NOT NULL DEFAULT now(),
    updated_at     TIMESTAMPTZ  NOT NULL DEFAULT now(),
    last_login_at  TIMESTAMPTZ,
    CONSTRAINT chk_users_email_format
        CHECK (email ~* '^[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}$')
);
COMMENT ON COLUMN users.phone IS
    'Application-layer AEAD ciphertext of the phone number; never plaintext.';

CREATE TABLE user_sessions (
    id               UUID         PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id          UUID         NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    session_token    VARCHAR(255) NOT NULL UNIQUE,
    refresh_token    VARCHAR(255) UNIQUE,
    device_id        VARCHAR(255),
    device_name      VARCHAR(255),
    user_agent       TEXT,
    ip_address       INET,
    expires_at       TIMESTAMPTZ  NOT NULL,
    created_at       TIMESTAMPTZ  NOT NULL DEFAULT now(),
    last_accessed_at TIMESTAMPTZ  NOT NULL DEFAULT now()
);

CREATE TABLE user_profiles (
    user_id        UUID         PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    display_name   VARCHAR(255),
    bio            TEXT,
    location       VARCHAR(255),
    website        VARCHAR(500),
    birth_date     DATE,
    language       VARCHAR(10)  NOT NULL DEFAULT 'en',
    timezone       VARCHAR(50)  NOT NULL DEFAULT 'UTC',
    public_profile BOOLEAN      NOT NULL DEFAULT FALSE,
    metadata       JSONB        NOT NULL DEFAULT '{}',
    updated_at     TIMESTAMPTZ  NOT NULL DEFAULT now()
);


-- -----------------------------------------------------------------------------
-- 3.2 Authentication and authorization
-- -----------------------------------------------------------------------------
CREATE TABLE oauth_clients (
    id                 UUID         PRIMARY KEY DEFAULT gen_random_uuid(),
    client_id          VARCHAR(255) NOT NULL UNIQUE,
    client_secret_hash VARCHAR(255),
    app_id             VARCHAR(255),
    name               VARCHAR(255) NOT NULL,
    description        TEXT,
    redirect_uris      TEXT[]       NOT NULL,
    grant_types        TEXT[]       NOT NULL DEFAULT ARRAY['authorization_code']::TEXT[],
    scopes             TEXT[]       NOT NULL DEFAULT ARRAY['profile']::TEXT[],
    is_official        BOOLEAN      NOT NULL DEFAULT FALSE,
    is_active          BOOLEAN      NOT NULL DEFAULT TRUE,
    created_at         TIMESTAMPTZ  NOT NULL DEFAULT now(),
    updated_at         TIMESTAMPTZ  NOT NULL DEFAULT now()
);

CREATE TABLE oauth_tokens (
    id         UUID         PRIMARY KEY DEFAULT gen_random_uuid(),
    client_id  VARCHAR(255) NOT NULL,
    user_id    UUID         REFERENCES users(id) ON DELETE CASCADE,
    token_type VARCHAR(50)  NOT NULL CHECK (token_type IN ('access', 'refresh')),
    token_hash VARCHAR(255) NOT NULL UNIQUE,
    scopes     TEXT[]       NOT NULL,
    expires_at TIMESTAMPTZ  NOT NULL,
    created_at TIMESTAMPTZ  NOT NULL DEFAULT now(),
    revoked_at TIMESTAMPTZ,
    CONSTRAINT fk_oauth_tokens_client_id
        FOREIGN KEY (client_id) REFERENCES oauth_clients(client_id)
);

CREATE TABLE mfa_methods (
    id          UUID        PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id     UUID        NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    method_type VARCHAR(50) NOT NULL
                CHECK (method_type IN ('transaction_pin', 'biometric', 'totp')),
    method_data JSONB       NOT NULL,
    is_primary  BOOLEAN     NOT NULL DEFAULT FALSE,
    is_active   BOOLEAN     NOT NULL DEFAULT TRUE,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
COMMENT ON COLUMN mfa_methods.method_data IS
    'Encrypted envelope produced by the application; secrets are never stored in clear.';

CREATE TABLE device_registrations (
    id               UUID         PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id          UUID         NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    device_id        VARCHAR(255) NOT NULL,
    device_name      VARCHAR(255),
    device_type      VARCHAR(50)
                     CHECK (device_type IN ('mobile', 'desktop', 'tablet')),
    platform         VARCHAR(50),
    biometric_key_id VARCHAR(255),
    attestation_data JSONB,
    is_trusted       BOOLEAN      NOT NULL DEFAULT FALSE,
    created_at       TIMESTAMPTZ  NOT NULL DEFAULT now(),
    last_used_at     TIMESTAMPTZ,
    last_seen_at     TIMESTAMPTZ  NOT NULL DEFAULT now()
);


-- -----------------------------------------------------------------------------
-- 3.3 Mini-app store
-- -----------------------------------------------------------------------------
CREATE TABLE apps (
    app_id               VARCHAR(255) PRIMARY KEY,
    name                 VARCHAR(255) NOT NULL,
    description          TEXT,
    short_description    VARCHAR(500),
    version              VARCHAR(50)  NOT NULL,
    category             VARCHAR(100),
    classification       VARCHAR(50)  NOT NULL
                         CHECK (classification IN ('official', 'verified', 'community', 'beta')),
    developer_id         UUID         NOT NULL,
    developer_name       VARCHAR(255) NOT NULL,
    website              VARCHAR(500),
    support_email        VARCHAR(255),
    privacy_policy_url   VARCHAR(500),
    terms_of_service_url VARCHAR(500),
    metadata             JSONB        NOT NULL DEFAULT '{}',
    stats                JSONB        NOT NULL DEFAULT '{}',
    permissions          JSONB        NOT NULL DEFAULT '[]',
    urls                 JSONB        NOT NULL DEFAULT '{}',
    status               VARCHAR(50)  NOT NULL DEFAULT 'active'
                         CHECK (status IN ('active', 'deprecated', 'removed', 'pending', 'rejected')),
    featured             BOOLEAN      NOT NULL DEFAULT FALSE,
    created_at           TIMESTAMPTZ  NOT NULL DEFAULT now(),
    updated_at           TIMESTAMPTZ  NOT NULL DEFAULT now()
);

CREATE TABLE app_versions (
    id             UUID         PRIMARY KEY DEFAULT gen_random_uuid(),
    app_id         VARCHAR(255) NOT NULL REFERENCES apps(app_id) ON DELETE CASCADE,
    version        VARCHAR(50)  NOT NULL,
    changelog      TEXT,
    download_url   VARCHAR(500),
    package_size   BIGINT,
    checksum       VARCHAR(255),
    min_os_version VARCHAR(50),
    max_os_version VARCHAR(50),
    permissions    JSONB        NOT NULL DEFAULT '[]',
    status         VARCHAR(50)  NOT NULL DEFAULT 'active'
                   CHECK (status IN ('active', 'deprecated', 'removed', 'pending')),
    created_at     TIMESTAMPTZ  NOT NULL DEFAULT now()
);

CREATE TABLE app_reviews (
    review_id     UUID         PRIMARY KEY DEFAULT gen_random_uuid(),
    app_id        VARCHAR(255) NOT NULL REFERENCES apps(app_id) ON DELETE CASCADE,
    user_id       UUID         NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    version       VARCHAR(50),
    rating        INTEGER,
    title         VARCHAR(255),
    comment       TEXT,
    helpful_count INTEGER      NOT NULL DEFAULT 0,
    verified      BOOLEAN      NOT NULL DEFAULT FALSE,
    status        VARCHAR(50)  NOT NULL DEFAULT 'active'
                  CHECK (status IN ('active', 'hidden', 'removed')),
    created_at    TIMESTAMPTZ  NOT NULL DEFAULT now(),
    updated_at    TIMESTAMPTZ  NOT NULL DEFAULT now(),
    CONSTRAINT chk_review_rating CHECK (rating >= 1 AND rating <= 5)
);

CREATE TABLE app_installations (
    installation_id UUID         PRIMARY KEY DEFAULT gen_random_uuid(),
    app_id          VARCHAR(255) NOT NULL REFERENCES apps(app_id) ON DELETE CASCADE,
    user_id         UUID         NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    version         VARCHAR(50)  NOT NULL,
    source          VARCHAR(100)
                    CHECK (source IN ('store', 'preinstalled', 'sideload')),
    device_id       VARCHAR(255),
    auto_update     BOOLEAN      NOT NULL DEFAULT TRUE,
    status          VARCHAR(50)  NOT NULL DEFAULT 'installed'
                    CHECK (status IN ('installed', 'uninstalled', 'updating')),
    installed_at    TIMESTAMPTZ  NOT NULL DEFAULT now(),
    last_used_at    TIMESTAMPTZ,
    updated_at      TIMESTAMPTZ  NOT NULL DEFAULT now()
);

CREATE TABLE app_categories (
    id           UUID         PRIMARY KEY DEFAULT gen_random_uuid(),
    name         VARCHAR(100) NOT NULL UNIQUE,
    display_name VARCHAR(255) NOT NULL,
    description  TEXT,
    icon_url     VARCHAR(500),
    parent_id    UUID         REFERENCES app_categories(id),
    sort_order   INTEGER      NOT NULL DEFAULT 0,
    is_active    BOOLEAN      NOT NULL DEFAULT TRUE,
    created_at   TIMESTAMPTZ  NOT NULL DEFAULT now()
);

CREATE TABLE app_category_mappings (
    app_id      VARCHAR(255) NOT NULL REFERENCES apps(app_id) ON DELETE CASCADE,
    category_id UUID         NOT NULL REFERENCES app_categories(id) ON DELETE CASCADE,
    is_primary  BOOLEAN      NOT NULL DEFAULT FALSE,
    PRIMARY KEY (app_id, category_id)
);


-- -----------------------------------------------------------------------------
-- 3.4 Payment system
-- -----------------------------------------------------------------------------
CREATE TABLE payment_methods (
    id                 UUID         PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id            UUID         NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    type               VARCHAR(50)  NOT NULL
                       CHECK (type IN ('card', 'bank_account', 'digital_wallet')),
    provider           VARCHAR(50)  NOT NULL,
    provider_method_id VARCHAR(255) NOT NULL,
    method_data        JSONB        NOT NULL,
    is_default         BOOLEAN      NOT NULL DEFAULT FALSE,
    is_active          BOOLEAN      NOT NULL DEFAULT TRUE,
    metadata           JSONB        NOT NULL DEFAULT '{}',
    created_at         TIMESTAMPTZ  NOT NULL DEFAULT now(),
    updated_at         TIMESTAMPTZ  NOT NULL DEFAULT now()
);

-- Range partitioned by month on created_at; the primary key must contain the
-- partition key, hence (payment_id, created_at).
CREATE TABLE payment_transactions (
    payment_id               UUID         NOT NULL DEFAULT gen_random_uuid(),
    user_id                  UUID         NOT NULL REFERENCES users(id),
    app_id                   VARCHAR(255) REFERENCES apps(app_id),
    amount                   BIGINT       NOT NULL,
    currency                 VARCHAR(3)   NOT NULL DEFAULT 'USD'
                             CHECK (currency ~ '^[A-Z]{3}$'),
    payment_method_id        UUID,
    description              TEXT,
    metadata                 JSONB        NOT NULL DEFAULT '{}',
    status                   VARCHAR(50)  NOT NULL
                             CHECK (status IN ('pending_authorization', 'mfa_required', 'processing',
                                               'completed', 'failed', 'cancelled', 'expired',
                                               'refunded', 'partially_refunded')),
    state                    VARCHAR(50)  NOT NULL
                             CHECK (state IN ('Initiated', 'Validating', 'MFA_Required', 'Authorized',
                                              'Processing', 'Completed', 'Failed', 'Cancelled',
                                              'Expired', 'Refunded')),
    mfa_required             BOOLEAN      NOT NULL DEFAULT FALSE,
    mfa_method               VARCHAR(50),
    mfa_verified             BOOLEAN      NOT NULL DEFAULT FALSE,
    processor_id             VARCHAR(255),
    processor_transaction_id VARCHAR(255),
    failure_reason           TEXT,
    created_at               TIMESTAMPTZ  NOT NULL DEFAULT now(),
    updated_at               TIMESTAMPTZ  NOT NULL DEFAULT now(),
    completed_at             TIMESTAMPTZ,
    PRIMARY KEY (payment_id, created_at),
    CONSTRAINT chk_payment_amount CHECK (amount > 0),
    CONSTRAINT fk_payment_transactions_payment_method
        FOREIGN KEY (payment_method_id) REFERENCES payment_methods(id)
) PARTITION BY RANGE (created_at);

-- Append-only money history (UPDATE and DELETE are refused by the triggers
-- in section 6.3 and revoked from the roles); not partitioned. A row either
-- references a payment completely (payment_id + payment_created_at) or not at
-- all (top-ups, adjustments).
CREATE TABLE payment_ledger (
    id                 UUID        PRIMARY KEY DEFAULT gen_random_uuid(),
    payment_id         UUID,
    payment_created_at TIMESTAMPTZ,
    user_id            UUID        NOT NULL REFERENCES users(id),
    amount             BIGINT      NOT NULL CHECK (amount <> 0),
    currency           VARCHAR(3)  NOT NULL DEFAULT 'USD'
                       CHECK (currency ~ '^[A-Z]{3}$'),
    type               VARCHAR(20) NOT NULL
                       CHECK (type IN ('payment', 'refund', 'fee', 'adjustment', 'top_up')),
    balance_after      BIGINT,
    description        TEXT,
    metadata           JSONB       NOT NULL DEFAULT '{}',
    created_at         TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT fk_payment_ledger_payment
        FOREIGN KEY (payment_id, payment_created_at)
        REFERENCES payment_transactions(payment_id, created_at) MATCH FULL
);

CREATE TABLE payment_mfa_challenges (
    challenge_id       UUID        PRIMARY KEY DEFAULT gen_random_uuid(),
    payment_id         UUID        NOT NULL,
    payment_created_at TIMESTAMPTZ NOT NULL,
    user_id            UUID        NOT NULL REFERENCES users(id),
    method_type        VARCHAR(50) NOT NULL
                       CHECK (method_type IN ('transaction_pin', 'biometric', 'totp')),
    challenge_data     JSONB       NOT NULL,
    status             VARCHAR(50) NOT NULL DEFAULT 'pending'
                       CHECK (status IN ('pending', 'verified', 'failed', 'expired')),
    attempts           INTEGER     NOT NULL DEFAULT 0,
    max_attempts       INTEGER     NOT NULL DEFAULT 3,
    expires_at         TIMESTAMPTZ NOT NULL,
    created_at         TIMESTAMPTZ NOT NULL DEFAULT now(),
    verified_at        TIMESTAMPTZ,
    CONSTRAINT fk_payment_mfa_challenges_payment
        FOREIGN KEY (payment_id, payment_created_at)
        REFERENCES payment_transactions(payment_id, created_at)
);


-- -----------------------------------------------------------------------------
-- 3.5 Storage system
-- -----------------------------------------------------------------------------
CREATE TABLE storage_entries (
    user_id      UUID         NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    app_id       VARCHAR(255) NOT NULL,
    key          VARCHAR(256) NOT NULL CHECK (octet_length(key) BETWEEN 1 AND 256),
    value        BYTEA        NOT NULL,
    content_type VARCHAR(100) NOT NULL DEFAULT 'application/octet-stream',
    version      INTEGER      NOT NULL DEFAULT 1 CHECK (version >= 1),
    created_at   TIMESTAMPTZ  NOT NULL DEFAULT now(),
    updated_at   TIMESTAMPTZ  NOT NULL DEFAULT now(),
    ttl          INTEGER      CHECK (ttl IS NULL OR ttl BETWEEN 60 AND 2592000),
    expires_at   TIMESTAMPTZ,
    size         INTEGER      NOT NULL,
    checksum     VARCHAR(64)  NOT NULL,
    metadata     JSONB        NOT NULL DEFAULT '{}',
    PRIMARY KEY (user_id, app_id, key),
    CONSTRAINT chk_storage_size CHECK (size > 0 AND size <= 1048576)
) PARTITION BY HASH (user_id);
COMMENT ON COLUMN storage_entries.ttl IS 'Requested time to live in seconds (60..2592000).';
COMMENT ON COLUMN storage_entries.expires_at IS
    'Absolute expiry computed by the application from ttl; NULL = never expires.';

CREATE TABLE storage_entries_p0 PARTITION OF storage_entries
    FOR VALUES WITH (MODULUS 4, REMAINDER 0);
CREATE TABLE storage_entries_p1 PARTITION OF storage_entries
    FOR VALUES WITH (MODULUS 4, REMAINDER 1);
CREATE TABLE storage_entries_p2 PARTITION OF storage_entries
    FOR VALUES WITH (MODULUS 4, REMAINDER 2);
CREATE TABLE storage_entries_p3 PARTITION OF storage_entries
    FOR VALUES WITH (MODULUS 4, REMAINDER 3);

CREATE TABLE storage_quotas (
    user_id      UUID         NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    app_id       VARCHAR(255) NOT NULL,
    total_bytes  BIGINT       NOT NULL DEFAULT 10485760,
    used_bytes   BIGINT       NOT NULL DEFAULT 0,
    total_keys   INTEGER      NOT NULL DEFAULT 1000,
    used_keys    INTEGER      NOT NULL DEFAULT 0,
    last_updated TIMESTAMPTZ  NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, app_id),
    CONSTRAINT chk_storage_quota_within_limits
        CHECK (used_bytes >= 0 AND used_keys >= 0
               AND used_bytes <= total_bytes AND used_keys <= total_keys)
);

CREATE TABLE storage_sync_operations (
    id             UUID         PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id        UUID         NOT NULL,
    app_id         VARCHAR(255) NOT NULL,
    operation_type VARCHAR(20)  NOT NULL CHECK (operation_type IN ('set', 'delete')),
    key            VARCHAR(256) NOT NULL CHECK (octet_length(key) BETWEEN 1 AND 256),
    value          BYTEA,
    version        INTEGER,
    status         VARCHAR(20)  NOT NULL DEFAULT 'pending'
                   CHECK (status IN ('pending', 'completed', 'failed')),
    conflict_data  JSONB,
    created_at     TIMESTAMPTZ  NOT NULL DEFAULT now(),
    processed_at   TIMESTAMPTZ,
    error_message  TEXT,
    CONSTRAINT fk_sync_operations_user_app
        FOREIGN KEY (user_id, app_id) REFERENCES storage_quotas(user_id, app_id)
        ON DELETE CASCADE
);

CREATE TABLE storage_conflicts (
    id                  UUID         PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id             UUID         NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    app_id              VARCHAR(255) NOT NULL,
    key                 VARCHAR(256) NOT NULL CHECK (octet_length(key) BETWEEN 1 AND 256),
    local_value         BYTEA,
    remote_value        BYTEA,
    resolution_strategy VARCHAR(50)
                        CHECK (resolution_strategy IN ('local_wins', 'remote_wins', 'manual',
                                                       'last_write_wins')),
    resolved_value      BYTEA,
    status              VARCHAR(20)  NOT NULL DEFAULT 'pending'
                        CHECK (status IN ('pending', 'resolved', 'ignored')),
    created_at          TIMESTAMPTZ  NOT NULL DEFAULT now(),
    resolved_at         TIMESTAMPTZ
);


-- -----------------------------------------------------------------------------
-- 3.6 App lifecycle management (monthly range partitions on "timestamp")
-- -----------------------------------------------------------------------------
CREATE TABLE app_lifecycle_events (
    event_id    UUID         NOT NULL DEFAULT gen_random_uuid(),
    app_id      VARCHAR(255) NOT NULL REFERENCES apps(app_id),
    user_id     UUID         REFERENCES users(id),
    device_id   VARCHAR(255),
    event_type  VARCHAR(50)  NOT NULL
                CHECK (event_type IN ('installed', 'updated', 'uninstalled', 'launched', 'closed')),
    event_data  JSONB        NOT NULL DEFAULT '{}',
    "timestamp" TIMESTAMPTZ  NOT NULL DEFAULT now(),
    PRIMARY KEY (event_id, "timestamp")
) PARTITION BY RANGE ("timestamp");

CREATE TABLE app_usage_analytics (
    id               UUID         NOT NULL DEFAULT gen_random_uuid(),
    app_id           VARCHAR(255) NOT NULL REFERENCES apps(app_id),
    user_id          UUID         REFERENCES users(id),
    device_id        VARCHAR(255),
    session_id       VARCHAR(255),
    event_type       VARCHAR(50)  NOT NULL
                     CHECK (event_type IN ('session_start', 'session_end', 'feature_used')),
    event_data       JSONB        NOT NULL DEFAULT '{}',
    duration_seconds INTEGER,
    "timestamp"      TIMESTAMPTZ  NOT NULL DEFAULT now(),
    PRIMARY KEY (id, "timestamp")
) PARTITION BY RANGE ("timestamp");

CREATE TABLE app_performance_metrics (
    id           UUID         NOT NULL DEFAULT gen_random_uuid(),
    app_id       VARCHAR(255) NOT NULL REFERENCES apps(app_id),
    version      VARCHAR(50)  NOT NULL,
    metric_type  VARCHAR(50)  NOT NULL
                 CHECK (metric_type IN ('crash_rate', 'load_time', 'memory_usage', 'cpu_usage')),
    metric_value NUMERIC      NOT NULL,
    device_info  JSONB,
    "timestamp"  TIMESTAMPTZ  NOT NULL DEFAULT now(),
    PRIMARY KEY (id, "timestamp")
) PARTITION BY RANGE ("timestamp");


-- -----------------------------------------------------------------------------
-- 4.1 Indexes (design names; on partitioned tables created on the parent and
-- propagated to every present and future partition)
-- -----------------------------------------------------------------------------
CREATE INDEX idx_users_email ON users(email);
CREATE INDEX idx_users_username ON users(username);
CREATE INDEX idx_users_status ON users(status);
CREATE INDEX idx_users_created_at ON users(created_at);

CREATE INDEX idx_user_sessions_user_id ON user_sessions(user_id);
CREATE INDEX idx_user_sessions_token ON user_sessions(session_token);
CREATE INDEX idx_user_sessions_expires_at ON user_sessions(expires_at);

CREATE INDEX idx_mfa_methods_user_id ON mfa_methods(user_id);
CREATE INDEX idx_mfa_methods_type ON mfa_methods(method_type);

CREATE INDEX idx_device_registrations_user_id ON device_registrations(user_id);
CREATE INDEX idx_device_registrations_device_id ON device_registrations(device_id);

CREATE INDEX idx_apps_category ON apps(category);
CREATE INDEX idx_apps_classification ON apps(classification);
CREATE INDEX idx_apps_developer_id ON apps(developer_id);
CREATE INDEX idx_apps_status ON apps(status);
CREATE INDEX idx_apps_featured ON apps(featured);
CREATE INDEX idx_apps_created_at ON apps(created_at);

CREATE INDEX idx_app_versions_app_id ON app_versions(app_id);
CREATE UNIQUE INDEX idx_app_versions_unique ON app_versions(app_id, version);

CREATE INDEX idx_app_reviews_app_id ON app_reviews(app_id);
CREATE INDEX idx_app_reviews_user_id ON app_reviews(user_id);
CREATE INDEX idx_app_reviews_rating ON app_reviews(rating);
CREATE INDEX idx_app_reviews_created_at ON app_reviews(created_at);
-- at most one active review per user and app
CREATE UNIQUE INDEX idx_app_reviews_one_active ON app_reviews(app_id, user_id)
    WHERE status = 'active';

CREATE INDEX idx_app_installations_app_id ON app_installations(app_id);
CREATE INDEX idx_app_installations_user_id ON app_installations(user_id);
CREATE INDEX idx_app_installations_status ON app_installations(status);
-- at most one live (installed / updating) installation per user and app
CREATE UNIQUE INDEX idx_app_installations_live ON app_installations(user_id, app_id)
    WHERE status <> 'uninstalled';

CREATE INDEX idx_payment_transactions_user_id ON payment_transactions(user_id);
CREATE INDEX idx_payment_transactions_app_id ON payment_transactions(app_id);
CREATE INDEX idx_payment_transactions_status ON payment_transactions(status);
CREATE INDEX idx_payment_transactions_state ON payment_transactions(state);
CREATE INDEX idx_payment_transactions_created_at ON payment_transactions(created_at);

CREATE INDEX idx_payment_methods_user_id ON payment_methods(user_id);
CREATE INDEX idx_payment_methods_type ON payment_methods(type);
CREATE UNIQUE INDEX idx_payment_methods_provider ON payment_methods(provider, provider_method_id);

CREATE INDEX idx_payment_ledger_user_id ON payment_ledger(user_id);
CREATE INDEX idx_payment_ledger_payment_id ON payment_ledger(payment_id);
CREATE INDEX idx_payment_ledger_type ON payment_ledger(type);
CREATE INDEX idx_payment_ledger_created_at ON payment_ledger(created_at);

CREATE INDEX idx_storage_entries_updated_at ON storage_entries(updated_at);
CREATE INDEX idx_storage_entries_ttl ON storage_entries(ttl) WHERE ttl IS NOT NULL;
CREATE INDEX idx_storage_entries_expires_at ON storage_entries(expires_at)
    WHERE expires_at IS NOT NULL;

CREATE INDEX idx_storage_sync_operations_user_app ON storage_sync_operations(user_id, app_id);
CREATE INDEX idx_storage_sync_operations_status ON storage_sync_operations(status);
CREATE INDEX idx_storage_sync_operations_created_at ON storage_sync_operations(created_at);

CREATE INDEX idx_app_lifecycle_events_app_id ON app_lifecycle_events(app_id);
CREATE INDEX idx_app_lifecycle_events_user_id ON app_lifecycle_events(user_id);
CREATE INDEX idx_app_lifecycle_events_type ON app_lifecycle_events(event_type);
CREATE INDEX idx_app_lifecycle_events_timestamp ON app_lifecycle_events("timestamp");

CREATE INDEX idx_app_usage_analytics_app_id ON app_usage_analytics(app_id);
CREATE INDEX idx_app_usage_analytics_user_id ON app_usage_analytics(user_id);
CREATE INDEX idx_app_usage_analytics_type ON app_usage_analytics(event_type);
CREATE INDEX idx_app_usage_analytics_timestamp ON app_usage_analytics("timestamp");

-- Additional indexes (not in the design) supporting foreign-key lookups,
-- cascades and per-user access paths used under row level security.
CREATE INDEX idx_oauth_tokens_client_id ON oauth_tokens(client_id);
CREATE INDEX idx_oauth_tokens_user_id ON oauth_tokens(user_id);
CREATE INDEX idx_payment_mfa_challenges_payment_id
    ON payment_mfa_challenges(payment_id, payment_created_at);
CREATE INDEX idx_payment_mfa_challenges_user_id ON payment_mfa_challenges(user_id);
CREATE INDEX idx_app_categories_parent_id ON app_categories(parent_id);
CREATE INDEX idx_app_category_mappings_category_id ON app_category_mappings(category_id);
CREATE INDEX idx_payment_transactions_payment_method_id
    ON payment_transactions(payment_method_id);
CREATE INDEX idx_storage_conflicts_user_app ON storage_conflicts(user_id, app_id);
CREATE INDEX idx_app_performance_metrics_app_id
    ON app_performance_metrics(app_id, metric_type, "timestamp");


-- -----------------------------------------------------------------------------
-- 6.1 updated_at triggers (every table with an updated_at column; on a
-- partitioned parent the trigger is cloned to all partitions)
-- -----------------------------------------------------------------------------
CREATE TRIGGER update_users_updated_at BEFORE UPDATE ON users
    FOR EACH ROW EXECUTE FUNCTION update_updated_at_column();
CREATE TRIGGER update_user_profiles_updated_at BEFORE UPDATE ON user_profiles
    FOR EACH ROW EXECUTE FUNCTION update_updated_at_column();
CREATE TRIGGER update_oauth_clients_updated_at BEFORE UPDATE ON oauth_clients
    FOR EACH ROW EXECUTE FUNCTION update_updated_at_column();
CREATE TRIGGER update_mfa_methods_updated_at BEFORE UPDATE ON mfa_methods
    FOR EACH ROW EXECUTE FUNCTION update_updated_at_column();
CREATE TRIGGER update_apps_updated_at BEFORE UPDATE ON apps
    FOR EACH ROW EXECUTE FUNCTION update_updated_at_column();
CREATE TRIGGER update_app_reviews_updated_at BEFORE UPDATE ON app_reviews
    FOR EACH ROW EXECUTE FUNCTION update_updated_at_column();
CREATE TRIGGER update_app_installations_updated_at BEFORE UPDATE ON app_installations
    FOR EACH ROW EXECUTE FUNCTION update_updated_at_column();
CREATE TRIGGER update_payment_methods_updated_at BEFORE UPDATE ON payment_methods
    FOR EACH ROW EXECUTE FUNCTION update_updated_at_column();
CREATE TRIGGER update_payment_transactions_updated_at BEFORE UPDATE ON payment_transactions
    FOR EACH ROW EXECUTE FUNCTION update_updated_at_column();
CREATE TRIGGER update_storage_entries_updated_at BEFORE UPDATE ON storage_entries
    FOR EACH ROW EXECUTE FUNCTION update_updated_at_column();


-- -----------------------------------------------------------------------------
-- 6.2 Storage quota accounting
-- -----------------------------------------------------------------------------
-- Every change to storage_entries adjusts the owning (user_id, app_id) row of
-- storage_quotas. The UPDATE of that row takes its row lock, and
-- chk_storage_quota_within_limits is evaluated on the resulting row version,
-- so concurrent writers are serialised per quota row and none of them can
-- push usage past the limits: the offending statement fails with SQLSTATE
-- 23514 (check_violation) naming chk_storage_quota_within_limits.
-- A row that moves to another hash partition (user_id change) is executed by
-- PostgreSQL as DELETE + INSERT, which fire the corresponding branches.
-- Runs with the caller's privileges (deliberately not SECURITY DEFINER), so
-- under tmcp_app the quota row is subject to the same RLS policy.
CREATE FUNCTION update_storage_quota_usage() RETURNS trigger
    LANGUAGE plpgsql
AS $fn$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO storage_quotas AS q (user_id, app_id, used_bytes, used_keys, last_updated)
        VALUES (NEW.user_id, NEW.app_id, NEW.size, 1, now())
        ON CONFLICT (user_id, app_id) DO UPDATE
            SET used_bytes   = q.used_bytes + EXCLUDED.used_bytes,
                used_keys    = q.used_keys + 1,
                last_updated = now();
        RETURN NULL;

    ELSIF TG_OP = 'UPDATE' THEN
        IF NEW.user_id = OLD.user_id AND NEW.app_id = OLD.app_id THEN
            IF NEW.size <> OLD.size THEN
                UPDATE storage_quotas
                   SET used_bytes   = used_bytes + (NEW.size - OLD.size),
                       last_updated = now()
                 WHERE user_id = NEW.user_id AND app_id = NEW.app_id;
            END IF;
        ELSE
            -- the entry changed owner: move its bytes and key
            UPDATE storage_quotas
               SET used_bytes   = used_bytes - OLD.size,
                   used_keys    = used_keys - 1,
                   last_updated = now()
             WHERE user_id = OLD.user_id AND app_id = OLD.app_id;

            INSERT INTO storage_quotas AS q (user_id, app_id, used_bytes, used_keys, last_updated)
            VALUES (NEW.user_id, NEW.app_id, NEW.size, 1, now())
            ON CONFLICT (user_id, app_id) DO UPDATE
                SET used_bytes   = q.used_bytes + EXCLUDED.used_bytes,
                    used_keys    = q.used_keys + 1,
                    last_updated = now();
        END IF;
        RETURN NULL;

    ELSIF TG_OP = 'DELETE' THEN
        UPDATE storage_quotas
           SET used_bytes   = used_bytes - OLD.size,
               used_keys    = used_keys - 1,
               last_updated = now()
         WHERE user_id = OLD.user_id AND app_id = OLD.app_id;
        RETURN NULL;
    END IF;

    RETURN NULL;
END
$fn$;

CREATE TRIGGER manage_storage_quota
    AFTER INSERT OR UPDATE OR DELETE ON storage_entries
    FOR EACH ROW EXECUTE FUNCTION update_storage_quota_usage();


-- -----------------------------------------------------------------------------
-- 6.3 Append-only payment ledger
-- -----------------------------------------------------------------------------
-- Ledger rows are never changed or removed. The triggers refuse every UPDATE
-- and DELETE, also for the owner and tmcp_system (BYPASSRLS does not skip
-- triggers); the roles additionally lack the UPDATE and DELETE privileges
-- (see Privileges), so for them the statement fails with 42501 before the
-- trigger runs. No foreign key cascades into payment_ledger (user_id and the
-- payment reference have no ON DELETE action), so no cascade needs to delete
-- ledger rows. Same trigger names as on SQLite.
CREATE FUNCTION payment_ledger_append_only() RETURNS trigger
    LANGUAGE plpgsql
AS $fn$
BEGIN
    RAISE EXCEPTION 'payment_ledger is append-only: % refused', TG_OP
        USING ERRCODE = 'P0001';
END
$fn$;

CREATE TRIGGER payment_ledger_no_update BEFORE UPDATE ON payment_ledger
    FOR EACH ROW EXECUTE FUNCTION payment_ledger_append_only();
CREATE TRIGGER payment_ledger_no_delete BEFORE DELETE ON payment_ledger
    FOR EACH ROW EXECUTE FUNCTION payment_ledger_append_only();


-- -----------------------------------------------------------------------------
-- 4.2 Monthly partition maintenance
-- -----------------------------------------------------------------------------
-- Monthly partitions are named <parent>_yYYYYmMM and cover
-- [first day of month 00:00 UTC, first day of next month 00:00 UTC).
-- There is deliberately no DEFAULT partition: rows in a default partition
-- would make the later creation of that month's partition fail. Inserting a
-- row for a month without partition fails instead, so the maintenance job
-- must keep partitions ahead of time (tmcp_ensure_all_partitions).
--
-- The functions are SECURITY DEFINER (creating/dropping partitions requires
-- ownership of the parent) so the system role can run maintenance; they only
-- accept the four monthly-partitioned TMCP tables, pin search_path, TimeZone
-- and DateStyle, and are executable by tmcp_system and the owner only.

-- Bounds of the range partitions of a parent, parsed from the partition bound
-- expression (rendered and re-read under the function's own TimeZone/DateStyle).
CREATE FUNCTION tmcp_range_partition_bounds(parent regclass)
    RETURNS TABLE (partition_rel regclass, lower_bound timestamptz, upper_bound timestamptz)
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, public, pg_temp
    SET "TimeZone" = 'UTC'
    SET "DateStyle" = 'ISO, YMD'
AS $fn$
DECLARE
    rec   record;
    parts text[];
BEGIN
    FOR rec IN
        SELECT c.oid::regclass AS part, pg_get_expr(c.relpartbound, c.oid) AS bound
          FROM pg_inherits i
          JOIN pg_class c ON c.oid = i.inhrelid
         WHERE i.inhparent = parent
    LOOP
        parts := regexp_match(rec.bound, '^FOR VALUES FROM \((.*)\) TO \((.*)\)$');
        CONTINUE WHEN parts IS NULL;          -- DEFAULT or non-range partition
        partition_rel := rec.part;
        lower_bound := CASE WHEN parts[1] = 'MINVALUE' THEN '-infinity'::timestamptz
                            ELSE btrim(parts[1], '''')::timestamptz END;
        upper_bound := CASE WHEN parts[2] = 'MAXVALUE' THEN 'infinity'::timestamptz
                            ELSE btrim(parts[2], '''')::timestamptz END;
        RETURN NEXT;
    END LOOP;
END
$fn$;

-- Accepts only the TMCP tables that are range partitioned by month.
CREATE FUNCTION tmcp_check_monthly_parent(parent regclass) RETURNS void
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, public, pg_temp
AS $fn$
BEGIN
    IF parent IS NULL OR NOT EXISTS (
        SELECT 1
          FROM pg_class c
          JOIN pg_partitioned_table p ON p.partrelid = c.oid
         WHERE c.oid = parent
           AND p.partstrat = 'r'
           AND c.relname IN ('payment_transactions', 'app_lifecycle_events',
                             'app_usage_analytics', 'app_performance_metrics'))
    THEN
        RAISE EXCEPTION '% is not a monthly partitioned TMCP table', parent
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
END
$fn$;

-- Creates the missing monthly partitions for [from_month, from_month + months)
-- (from_month is truncated to its month). Idempotent; returns the number of
-- partitions created. A month already covered by any existing partition is
-- skipped.
CREATE FUNCTION tmcp_ensure_monthly_partitions(parent regclass, from_month date, months int)
    RETURNS int
    LANGUAGE plpgsql
    SECURITY DEFINER
    SET search_path = pg_catalog, public, pg_temp
    SET "TimeZone" = 'UTC'
    SET "DateStyle" = 'ISO, YMD'
AS $fn$
DECLARE
    nsp      name;
    parent_name name;
    first_m  date;
    m        date;
    lo       timestamptz;
    hi       timestamptz;
    partname text;
    created  int := 0;
BEGIN
    PERFORM tmcp_check_monthly_parent(parent);
    IF from_month IS NULL OR months IS NULL OR months < 0 THEN
        RAISE EXCEPTION 'invalid arguments: from_month=%, months=%', from_month, months
            USING ERRCODE = 'invalid_parameter_value';
    END IF;

    SELECT n.nspname, c.relname INTO nsp, parent_name
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE c.oid = parent;

    first_m := date_trunc('month', from_month)::date;
    FOR i IN 0 .. months - 1 LOOP
        m  := (first_m + make_interval(months => i))::date;
        lo := m::timestamp AT TIME ZONE 'UTC';
        hi := (m + interval '1 month')::timestamp AT TIME ZONE 'UTC';
        partname := format('%s_y%sm%s', parent_name, to_char(m, 'YYYY'), to_char(m, 'MM'));

        CONTINUE WHEN to_regclass(format('%I.%I', nsp, partname)) IS NOT NULL;
        CONTINUE WHEN EXISTS (SELECT 1 FROM tmcp_range_partition_bounds(parent) b
                               WHERE b.lower_bound < hi AND b.upper_bound > lo);
        BEGIN
            EXECUTE format('CREATE TABLE %I.%I PARTITION OF %s FOR VALUES FROM (%L) TO (%L)',
                           nsp, partname, parent,
                           to_char(lo, 'YYYY-MM-DD HH24:MI:SS') || '+00',
                           to_char(hi, 'YYYY-MM-DD HH24:MI:SS') || '+00');
            created := created + 1;
        EXCEPTION
            -- created concurrently by another session
            WHEN duplicate_table OR invalid_object_definition THEN NULL;
        END;
    END LOOP;
    RETURN created;
END
$fn$;

-- Detaches and drops every range partition of parent whose upper bound is at
-- or before cutoff (00:00 UTC). Returns the number dropped. A partition whose
-- rows are still referenced by a foreign key (payment ledger / MFA challenges
-- referencing old payments) cannot be detached; it is kept and a WARNING is
-- raised.
CREATE FUNCTION tmcp_drop_partitions_before(parent regclass, cutoff date)
    RETURNS int
    LANGUAGE plpgsql
    SECURITY DEFINER
    SET search_path = pg_catalog, public, pg_temp
    SET "TimeZone" = 'UTC'
    SET "DateStyle" = 'ISO, YMD'
AS $fn$
DECLARE
    cutoff_ts timestamptz;
    rec       record;
    dropped   int := 0;
BEGIN
    PERFORM tmcp_check_monthly_parent(parent);
    IF cutoff IS NULL THEN
        RAISE EXCEPTION 'cutoff must not be NULL' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    cutoff_ts := cutoff::timestamp AT TIME ZONE 'UTC';

    FOR rec IN
        SELECT b.partition_rel
          FROM tmcp_range_partition_bounds(parent) b
         WHERE b.upper_bound <= cutoff_ts
         ORDER BY b.lower_bound
    LOOP
        BEGIN
            EXECUTE format('ALTER TABLE %s DETACH PARTITION %s', parent, rec.partition_rel);
            EXECUTE format('DROP TABLE %s', rec.partition_rel);
            dropped := dropped + 1;
        EXCEPTION
            WHEN foreign_key_violation THEN
                RAISE WARNING 'partition % of % is still referenced and was kept: %',
                    rec.partition_rel, parent, SQLERRM;
        END;
    END LOOP;
    RETURN dropped;
END
$fn$;

-- Ensures monthly partitions for the four monthly-partitioned tables from the
-- month before `at` through months_ahead months after it. Returns the number
-- of partitions created.
CREATE FUNCTION tmcp_ensure_all_partitions(at date, months_ahead int)
    RETURNS int
    LANGUAGE plpgsql
    SECURITY DEFINER
    SET search_path = pg_catalog, public, pg_temp
AS $fn$
DECLARE
    nsp     name;
    start_m date;
    t       text;
    total   int := 0;
BEGIN
    IF at IS NULL OR months_ahead IS NULL OR months_ahead < 0 THEN
        RAISE EXCEPTION 'invalid arguments: at=%, months_ahead=%', at, months_ahead
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- the partitioned tables live in the schema of this function
    SELECT n.nspname INTO nsp
      FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
     WHERE p.oid = 'tmcp_ensure_all_partitions(date, int)'::regprocedure;
    start_m := (date_trunc('month', at) - interval '1 month')::date;

    FOREACH t IN ARRAY ARRAY['payment_transactions', 'app_lifecycle_events',
                             'app_usage_analytics', 'app_performance_metrics'] LOOP
        total := total + tmcp_ensure_monthly_partitions(
            format('%I.%I', nsp, t)::regclass, start_m, months_ahead + 2);
    END LOOP;
    RETURN total;
END
$fn$;


-- -----------------------------------------------------------------------------
-- 7. Views
-- -----------------------------------------------------------------------------
-- Every measure is aggregated in its own subquery keyed by the row's id, so
-- joining several child tables cannot multiply sums, counts or averages.
-- security_invoker: the caller's privileges and RLS apply to the underlying
-- tables (otherwise the views would expose every user's payments to tmcp_app).
CREATE VIEW user_summary WITH (security_invoker = true) AS
SELECT
    u.id,
    u.username,
    u.email,
    u.first_name,
    u.last_name,
    u.status,
    u.mfa_enabled,
    u.created_at,
    u.last_login_at,
    COALESCE(inst.installed_apps_count, 0)::bigint AS installed_apps_count,
    COALESCE(pay.payment_count, 0)::bigint         AS payment_count,
    COALESCE(pay.total_spent, 0)::bigint           AS total_spent
FROM users u
LEFT JOIN (
    SELECT ai.user_id, count(DISTINCT ai.app_id) AS installed_apps_count
      FROM app_installations ai
     WHERE ai.status = 'installed'
     GROUP BY ai.user_id
) inst ON inst.user_id = u.id
LEFT JOIN (
    SELECT pt.user_id,
           count(DISTINCT pt.payment_id) AS payment_count,
           sum(pt.amount)                AS total_spent
      FROM payment_transactions pt
     WHERE pt.status = 'completed'
     GROUP BY pt.user_id
) pay ON pay.user_id = u.id;

CREATE VIEW app_summary WITH (security_invoker = true) AS
SELECT
    a.app_id,
    a.name,
    a.category,
    a.classification,
    a.developer_name,
    a.status,
    a.featured,
    a.created_at,
    a.updated_at,
    COALESCE(inst.install_count, 0)::bigint               AS install_count,
    COALESCE(rev.review_count, 0)::bigint                 AS review_count,
    COALESCE(rev.average_rating, 0)::double precision     AS average_rating,
    COALESCE(pay.purchase_count, 0)::bigint               AS purchase_count,
    COALESCE(pay.total_revenue, 0)::bigint                AS total_revenue
FROM apps a
LEFT JOIN (
    SELECT ai.app_id, count(DISTINCT ai.user_id) AS install_count
      FROM app_installations ai
     WHERE ai.status = 'installed'
     GROUP BY ai.app_id
) inst ON inst.app_id = a.app_id
LEFT JOIN (
    SELECT ar.app_id,
           count(DISTINCT ar.review_id)       AS review_count,
           avg(ar.rating)::double precision   AS average_rating
      FROM app_reviews ar
     WHERE ar.status = 'active'
     GROUP BY ar.app_id
) rev ON rev.app_id = a.app_id
LEFT JOIN (
    SELECT pt.app_id,
           count(DISTINCT pt.payment_id) AS purchase_count,
           sum(pt.amount)                AS total_revenue
      FROM payment_transactions pt
     WHERE pt.status = 'completed' AND pt.app_id IS NOT NULL
     GROUP BY pt.app_id
) pay ON pay.app_id = a.app_id;


-- -----------------------------------------------------------------------------
-- Initial partitions
-- -----------------------------------------------------------------------------
-- The partitions named in the design (December 2025) ...
SELECT tmcp_ensure_monthly_partitions('payment_transactions'::regclass, DATE '2025-12-01', 1);
SELECT tmcp_ensure_monthly_partitions('app_usage_analytics'::regclass, DATE '2025-12-01', 1);
-- ... and the rolling window: previous month through three months ahead.
SELECT tmcp_ensure_all_partitions(current_date, 3);


-- -----------------------------------------------------------------------------
-- 10.1 Row level security
-- -----------------------------------------------------------------------------
-- tmcp_app only sees and writes rows of the user set in tmcp.user_id for the
-- current transaction; with the setting absent it sees nothing. FORCE makes
-- the table owner subject to the policies as well (superusers and BYPASSRLS
-- roles such as tmcp_system are exempt). Policies on partitioned parents apply
-- to all access through the parent; direct access to partitions is revoked
-- below.
ALTER TABLE user_sessions ENABLE ROW LEVEL SECURITY;
ALTER TABLE user_sessions FORCE ROW LEVEL SECURITY;
CREATE POLICY user_sessions_owner_policy ON user_sessions
    FOR ALL TO tmcp_app
    USING (user_id = current_user_id()) WITH CHECK (user_id = current_user_id());

ALTER TABLE user_profiles ENABLE ROW LEVEL SECURITY;
ALTER TABLE user_profiles FORCE ROW LEVEL SECURITY;
CREATE POLICY user_profiles_owner_policy ON user_profiles
    FOR ALL TO tmcp_app
    USING (user_id = current_user_id()) WITH CHECK (user_id = current_user_id());

-- user_id is NULL for client-credentials tokens; such rows never match the
-- policy and are reachable only by tmcp_system.
ALTER TABLE oauth_tokens ENABLE ROW LEVEL SECURITY;
ALTER TABLE oauth_tokens FORCE ROW LEVEL SECURITY;
CREATE POLICY oauth_tokens_owner_policy ON oauth_tokens
    FOR ALL TO tmcp_app
    USING (user_id = current_user_id()) WITH CHECK (user_id = current_user_id());

ALTER TABLE storage_entries ENABLE ROW LEVEL SECURITY;
ALTER TABLE storage_entries FORCE ROW LEVEL SECURITY;
CREATE POLICY storage_entries_owner_policy ON storage_entries
    FOR ALL TO tmcp_app
    USING (user_id = current_user_id()) WITH CHECK (user_id = current_user_id());

ALTER TABLE storage_quotas ENABLE ROW LEVEL SECURITY;
ALTER TABLE storage_quotas FORCE ROW LEVEL SECURITY;
CREATE POLICY storage_quotas_owner_policy ON storage_quotas
    FOR ALL TO tmcp_app
    USING (user_id = current_user_id()) WITH CHECK (user_id = current_user_id());

ALTER TABLE storage_sync_operations ENABLE ROW LEVEL SECURITY;
ALTER TABLE storage_sync_operations FORCE ROW LEVEL SECURITY;
CREATE POLICY storage_sync_operations_owner_policy ON storage_sync_operations
    FOR ALL TO tmcp_app
    USING (user_id = current_user_id()) WITH CHECK (user_id = current_user_id());

ALTER TABLE storage_conflicts ENABLE ROW LEVEL SECURITY;
ALTER TABLE storage_conflicts FORCE ROW LEVEL SECURITY;
CREATE POLICY storage_conflicts_owner_policy ON storage_conflicts
    FOR ALL TO tmcp_app
    USING (user_id = current_user_id()) WITH CHECK (user_id = current_user_id());

ALTER TABLE payment_transactions ENABLE ROW LEVEL SECURITY;
ALTER TABLE payment_transactions FORCE ROW LEVEL SECURITY;
CREATE POLICY payment_transactions_owner_policy ON payment_transactions
    FOR ALL TO tmcp_app
    USING (user_id = current_user_id()) WITH CHECK (user_id = current_user_id());

ALTER TABLE payment_methods ENABLE ROW LEVEL SECURITY;
ALTER TABLE payment_methods FORCE ROW LEVEL SECURITY;
CREATE POLICY payment_methods_owner_policy ON payment_methods
    FOR ALL TO tmcp_app
    USING (user_id = current_user_id()) WITH CHECK (user_id = current_user_id());

ALTER TABLE payment_ledger ENABLE ROW LEVEL SECURITY;
ALTER TABLE payment_ledger FORCE ROW LEVEL SECURITY;
CREATE POLICY payment_ledger_owner_policy ON payment_ledger
    FOR ALL TO tmcp_app
    USING (user_id = current_user_id()) WITH CHECK (user_id = current_user_id());

ALTER TABLE payment_mfa_challenges ENABLE ROW LEVEL SECURITY;
ALTER TABLE payment_mfa_challenges FORCE ROW LEVEL SECURITY;
CREATE POLICY payment_mfa_challenges_owner_policy ON payment_mfa_challenges
    FOR ALL TO tmcp_app
    USING (user_id = current_user_id()) WITH CHECK (user_id = current_user_id());

ALTER TABLE mfa_methods ENABLE ROW LEVEL SECURITY;
ALTER TABLE mfa_methods FORCE ROW LEVEL SECURITY;
CREATE POLICY mfa_methods_owner_policy ON mfa_methods
    FOR ALL TO tmcp_app
    USING (user_id = current_user_id()) WITH CHECK (user_id = current_user_id());

ALTER TABLE device_registrations ENABLE ROW LEVEL SECURITY;
ALTER TABLE device_registrations FORCE ROW LEVEL SECURITY;
CREATE POLICY device_registrations_owner_policy ON device_registrations
    FOR ALL TO tmcp_app
    USING (user_id = current_user_id()) WITH CHECK (user_id = current_user_id());


-- -----------------------------------------------------------------------------
-- Privileges
-- -----------------------------------------------------------------------------
GRANT USAGE ON SCHEMA public TO tmcp_app, tmcp_system;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO tmcp_app, tmcp_system;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO tmcp_app, tmcp_system;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA public TO tmcp_app, tmcp_system;

-- The ledger is append-only (section 6.3): no role may change or remove rows.
REVOKE UPDATE, DELETE ON payment_ledger FROM tmcp_app, tmcp_system;

-- schema_migrations is written by the migrating owner only; the roles read it.
REVOKE INSERT, UPDATE, DELETE ON schema_migrations FROM tmcp_app, tmcp_system;

-- Partition maintenance (SECURITY DEFINER, DDL) is for the owner and the
-- system role only.
REVOKE EXECUTE ON FUNCTION
    tmcp_ensure_monthly_partitions(regclass, date, int),
    tmcp_drop_partitions_before(regclass, date),
    tmcp_ensure_all_partitions(date, int)
    FROM PUBLIC, tmcp_app;

-- Partitions are reached only through their parents: the parents carry the
-- RLS policies, and access to a partition by name would bypass them.
-- (Partitions created later by tmcp_ensure_monthly_partitions get no grants.)
DO $partition_privs$
DECLARE
    part regclass;
BEGIN
    FOR part IN
        SELECT c.oid::regclass
          FROM pg_class c
          JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = 'public' AND c.relispartition AND c.relkind IN ('r', 'p')
    LOOP
        EXECUTE format('REVOKE ALL ON TABLE %s FROM tmcp_app, tmcp_system', part);
    END LOOP;

    -- sqlx's own bookkeeping table (created before this script runs) is not
    -- application data.
    IF to_regclass('public._sqlx_migrations') IS NOT NULL THEN
        REVOKE ALL ON TABLE public._sqlx_migrations FROM tmcp_app, tmcp_system;
    END IF;
END
$partition_privs$;
-- No ALTER DEFAULT PRIVILEGES on purpose: it would also grant access to
-- partitions created later. Later migrations grant on new tables explicitly.


-- -----------------------------------------------------------------------------
INSERT INTO schema_migrations (version, description)
VALUES ('0001', 'Initial TMCP schema: accounts, OAuth, store, payments, storage, lifecycle analytics');
