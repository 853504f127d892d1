-- TMCP Server: initial SQLite schema (twin of the PostgreSQL migration 0001).
--
-- Source: docs Database_Schema_Design.md, translated as described in docs/schema.md:
--   UUID        -> BLOB, exactly 16 raw bytes (CHECK length(x) = 16)
--   TIMESTAMP   -> TEXT 'YYYY-MM-DDTHH:MM:SS.ffffffZ' (UTC, 6 fraction digits, always 'Z');
--                  the format is CHECKed so that text order == time order.
--                  Default "now": (strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000Z')
--   DATE        -> TEXT 'YYYY-MM-DD'
--   BOOLEAN     -> INTEGER NOT NULL 0/1
--   JSONB       -> TEXT CHECK (json_valid(x))
--   TEXT[]      -> TEXT holding a JSON array
--   INET        -> TEXT
--   BYTEA       -> BLOB
--   NUMERIC     -> REAL
--   VARCHAR(n)  -> TEXT CHECK (length(x) <= n)   (characters, like PostgreSQL)
--
-- All tables are STRICT, so a value of the wrong storage class (e.g. a UUID bound
-- as text, a number bound as text) is rejected instead of silently stored.
--
-- Runs inside the sqlx migration transaction with foreign_keys = ON.
-- No PRAGMAs here; recursive_triggers is NOT required (and the triggers below are
-- written so that enabling it would not cause runaway recursion either).
--
-- Application notes (SQLite specifics):
--   * Write storage_entries with plain INSERT / UPDATE / DELETE or
--     INSERT ... ON CONFLICT (user_id, app_id, key) DO UPDATE. Do NOT use
--     INSERT OR IGNORE / INSERT OR REPLACE / UPDATE OR IGNORE on storage_entries:
--     an outer OR-clause overrides the conflict handling inside the quota triggers
--     (OR IGNORE would silently skip the quota CHECK, OR REPLACE deletes the old row
--     without firing the delete trigger unless recursive_triggers is on).
--   * Partitioning and row-level security of the design do not exist here; the
--     application scopes every query by user_id / app_id.


-- ===========================================================================
-- 0. Migration bookkeeping
-- ===========================================================================

CREATE TABLE schema_migrations (
    version     TEXT NOT NULL PRIMARY KEY CHECK (length(version) <= 255),
    applied_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000Z')
                CHECK (applied_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'),
    description TEXT NOT NULL
) STRICT;


-- ===========================================================================
-- 1. User management
-- ===========================================================================

CREATE TABLE users (
    id              BLOB NOT NULL DEFAULT (randomblob(16)) CHECK (length(id) = 16),
    username        TEXT NOT NULL CHECK (length(username) <= 255),
    email           TEXT NOT NULL CHECK (length(email) <= 255),
    password_hash   TEXT NOT NULL CHECK (length(password_hash) <= 255),
    first_name      TEXT CHECK (length(first_name) <= 100),
    last_name       TEXT CHECK (length(last_name) <= 100),
    -- AEAD ciphertext produced by the application (never plaintext).
    phone           BLOB,
    avatar_url      TEXT CHECK (length(avatar_url) <= 500),
    email_verified  INTEGER NOT NULL DEFAULT 0 CHECK (email_verified IN (0, 1)),
    phone_verified  INTEGER NOT NULL DEFAULT 0 CHECK (phone_verified IN (0, 1)),
    mfa_enabled     INTEGER NOT NULL DEFAULT 0 CHECK (mfa_enabled IN (0, 1)),
    status          TEXT NOT NULL DEFAULT 'active'
                    CHECK (status IN ('active', 'suspended', 'deleted')),
    role            TEXT NOT NULL DEFAULT 'user'
                    CHECK (role IN ('user', 'developer', 'admin')),
    preferences     TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(preferences)),
    created_at      TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000Z')
                    CHECK (created_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'),
    updated_at      TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000Z')
                    CHECK (updated_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'),
    last_login_at   TEXT
                    CHECK (last_login_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'),
    PRIMARY KEY (id),
    UNIQUE (username),
    UNIQUE (email),
    -- Emulates  email ~* '^[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}$'
    --   local  = text before the first '@': non-empty, only [A-Za-z0-9._%+-]
    --   domain = text after it: only [A-Za-z0-9.-] (so no second '@'),
    --            t = domain without its trailing run of letters;
    --            t ends in '.', the letter run has >= 2 letters and
    --            at least one character precedes that '.'.
    CONSTRAINT chk_users_email_format CHECK (
        instr(email, '@') > 1
        AND substr(email, 1, instr(email, '@') - 1) NOT GLOB '*[^A-Za-z0-9._%+-]*'
        AND substr(email, instr(email, '@') + 1) NOT GLOB '*[^A-Za-z0-9.-]*'
        AND substr(rtrim(substr(email, instr(email, '@') + 1),
                         'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'), -1) = '.'
        AND length(substr(email, instr(email, '@') + 1))
            - length(rtrim(substr(email, instr(email, '@') + 1),
                           'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz')) >= 2
        AND length(rtrim(substr(email, instr(email, '@') + 1),
                         'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz')) >= 2
    )
) STRICT;

CREATE TABLE user_sessions (
    id               BLOB NOT NULL DEFAULT (randomblob(16)) CHECK (length(id) = 16),
    user_id          BLOB NOT NULL CHECK (length(user_id) = 16)
                     REFERENCES users (id) ON DELETE CASCADE,
    session_token    TEXT NOT NULL CHECK (length(session_token) <= 255),
    refresh_token    TEXT CHECK (length(refresh_token) <= 255),
    device_id        TEXT CHECK (length(device_id) <= 255),
    device_name      TEXT CHECK (length(device_name) <= 255),
    user_agent       TEXT,
    ip_address       TEXT,
    expires_at       TEXT NOT NULL
                     CHECK (expires_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'),
    created_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000Z')
                     CHECK (created_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'),
    last_accessed_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000Z')
                     CHECK (last_accessed_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'),
    PRIMARY KEY (id),
    UNIQUE (session_token),
    UNIQUE (refresh_token)
) STRICT;

CREATE TABLE user_profiles (
    user_id        BLOB NOT NULL CHECK (length(user_id) = 16)
                   REFERENCES users (id) ON DELETE CASCADE,
    display_name   TEXT CHECK (length(display_name) <= 255),
    bio            TEXT,
    location       TEXT CHECK (length(location) <= 255),
    website        TEXT CHECK (length(website) <= 500),
    birth_date     TEXT
                   CHECK (birth_date GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]'
                          AND date(birth_date) IS birth_date),
    language       TEXT NOT NULL DEFAULT 'en' CHECK (length(language) <= 10),
    timezone       TEXT NOT NULL DEFAULT 'UTC' CHECK (length(timezone) <= 50),
    public_profile INTEGER NOT NULL DEFAULT 0 CHECK (public_profile IN (0, 1)),
    metadata       TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(metadata)),
    updated_at     TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000Z')
                   CHECK (updated_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'),
    PRIMARY KEY (user_id)
) STRICT;


-- ===========================================================================
-- 2. Authentication and authorization
-- ===========================================================================

CREATE TABLE oauth_clients (
    id                 BLOB NOT NULL DEFAULT (randomblob(16)) CHECK (length(id) = 16),
    client_id          TEXT NOT NULL CHECK (length(client_id) <= 255),
    client_secret_hash TEXT CHECK (length(client_secret_hash) <= 255),
    app_id             TEXT CHECK (length(app_id) <= 255),
    name               TEXT NOT NULL CHECK (length(name) <= 255),
    description        TEXT,
    redirect_uris      TEXT NOT NULL
                       CHECK (CASE WHEN json_valid(redirect_uris)
                                   THEN json_type(redirect_uris) = 'array' ELSE 0 END),
    grant_types        TEXT NOT NULL DEFAULT '["authorization_code"]'
                       CHECK (CASE WHEN json_valid(grant_types)
                                   THEN json_type(grant_types) = 'array' ELSE 0 END),
    scopes             TEXT NOT NULL DEFAULT '["profile"]'
                       CHECK (CASE WHEN json_valid(scopes)
                                   THEN json_type(scopes) = 'array' ELSE 0 END),
    is_official        INTEGER NOT NULL DEFAULT 0 CHECK (is_official IN (0, 1)),
    is_active          INTEGER NOT NULL DEFAULT 1 CHECK (is_active IN (0, 1)),
    created_at         TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000Z')
                       CHECK (created_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'),
    updated_at         TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000Z')
                       CHECK (updated_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'),
    PRIMARY KEY (id),
    UNIQUE (client_id)
) STRICT;

CREATE TABLE oauth_tokens (
    id         BLOB NOT NULL DEFAULT (randomblob(16)) CHECK (length(id) = 16),
    client_id  TEXT NOT NULL CHECK (length(client_id) <= 255),
    user_id    BLOB CHECK (length(user_id) = 16)
               REFERENCES users (id) ON DELETE CASCADE,
    token_type TEXT NOT NULL CHECK (token_type IN ('access', 'refresh')),
    token_hash TEXT NOT NULL CHECK (length(token_hash) <= 255),
    scopes     TEXT NOT NULL
               CHECK (CASE WHEN json_valid(scopes)
                           THEN json_type(scopes) = 'array' ELSE 0 END),
    expires_at TEXT NOT NULL
               CHECK (expires_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'),
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000Z')
               CHECK (created_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'),
    revoked_at TEXT
               CHECK (revoked_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'),
    PRIMARY KEY (id),
    UNIQUE (token_hash),
    CONSTRAINT fk_oauth_tokens_client_id
        FOREIGN KEY (client_id) REFERENCES oauth_clients (client_id)
) STRICT;

CREATE TABLE mfa_methods (
    id          BLOB NOT NULL DEFAULT (randomblob(16)) CHECK (length(id) = 16),
    user_id     BLOB NOT NULL CHECK (length(user_id) = 16)
                REFERENCES users (id) ON DELETE CASCADE,
    method_type TEXT NOT NULL
                CHECK (method_type IN ('transaction_pin', 'biometric', 'totp')),
    method_data TEXT NOT NULL CHECK (json_valid(method_data)),
    is_primary  INTEGER NOT NULL DEFAULT 0 CHECK (is_primary IN (0, 1)),
    is_active   INTEGER NOT NULL DEFAULT 1 CHECK (is_active IN (0, 1)),
    created_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000Z')
                CHECK (created_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'),
    updated_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000Z')
                CHECK (updated_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'),
    PRIMARY KEY (id)
) STRICT;

CREATE TABLE device_registrations (
    id               BLOB NOT NULL DEFAULT (randomblob(16)) CHECK (length(id) = 16),
    user_id          BLOB NOT NULL CHECK (length(user_id) = 16)
                     REFERENCES users (id) ON DELETE CASCADE,
    device_id        TEXT NOT NULL CHECK (length(device_id) <= 255),
    device_name      TEXT CHECK (length(device_name) <= 255),
    device_type      TEXT CHECK (device_type IN ('mobile', 'desktop', 'tablet')),
    platform         TEXT CHECK (length(platform) <= 50),
    biometric_key_id TEXT CHECK (length(biometric_key_id) <= 255),
    attestation_data TEXT CHECK (attestation_data IS NULL OR json_valid(attestation_data)),
    is_trusted       INTEGER NOT NULL DEFAULT 0 CHECK (is_trusted IN (0, 1)),
    created_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000Z')
                     CHECK (created_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'),
    last_used_at     TEXT
                     CHECK (last_used_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'),
    last_seen_at     TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000Z')
                     CHECK (last_seen_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'),
    PRIMARY KEY (id)
) STRICT;


-- ===========================================================================
-- 3. Mini-app store
-- ===========================================================================

CREATE TABLE apps (
    app_id               TEXT NOT NULL CHECK (length(app_id) <= 255),
    name                 TEXT NOT NULL CHECK (length(name) <= 255),
    description          TEXT,
    short_description    TEXT CHECK (length(short_description) <= 500),
    version              TEXT NOT NULL CHECK (length(version) <= 50),
    category             TEXT CHECK (length(category) <= 100),
    classification       TEXT NOT NULL
                         CHECK (classification IN ('official', 'verified', 'community', 'beta')),
    developer_id         BLOB NOT NULL CHECK (length(developer_id) = 16),
    developer_name       TEXT NOT NULL CHECK (length(developer_name) <= 255),
    website              TEXT CHECK (length(website) <= 500),
    support_email        TEXT CHECK (length(support_email) <= 255),
    privacy_policy_url   TEXT CHECK (length(privacy_policy_url) <= 500),
    terms_of_service_url TEXT CHECK (length(terms_of_service_url) <= 500),
    metadata             TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(metadata)),
    stats                TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(stats)),
    permissions          TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(permissions)),
    urls                 TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(urls)),
    status               TEXT NOT NULL DEFAULT 'active'
                         CHECK (status IN ('active', 'deprecated', 'removed', 'pending', 'rejected')),
    featured             INTEGER NOT NULL DEFAULT 0 CHECK (featured IN (0, 1)),
    created_at           TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000Z')
                         CHECK (created_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'),
    updated_at           TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000Z')
                         CHECK (updated_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'),
    PRIMARY KEY (app_id)
) STRICT;

CREATE TABLE app_versions (
    id             BLOB NOT NULL DEFAULT (randomblob(16)) CHECK (length(id) = 16),
    app_id         TEXT NOT NULL CHECK (length(app_id) <= 255)
                   REFERENCES apps (app_id) ON DELETE CASCADE,
    version        TEXT NOT NULL CHECK (length(version) <= 50),
    changelog      TEXT,
    download_url   TEXT CHECK (length(download_url) <= 500),
    package_size   INTEGER,
    checksum       TEXT CHECK (length(checksum) <= 255),
    min_os_version TEXT CHECK (length(min_os_version) <= 50),
    max_os_version TEXT CHECK (length(max_os_version) <= 50),
    permissions    TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(permissions)),
    status         TEXT NOT NULL DEFAULT 'active'
                   CHECK (status IN ('active', 'deprecated', 'removed', 'pending')),
    created_at     TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000Z')
                   CHECK (created_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'),
    PRIMARY KEY (id)
) STRICT;

CREATE TABLE app_reviews (
    review_id     BLOB NOT NULL DEFAULT (randomblob(16)) CHECK (length(review_id) = 16),
    app_id        TEXT NOT NULL CHECK (length(app_id) <= 255)
                  REFERENCES apps (app_id) ON DELETE CASCADE,
    user_id       BLOB NOT NULL CHECK (length(user_id) = 16)
                  REFERENCES users (id) ON DELETE CASCADE,
    version       TEXT CHECK (length(version) <= 50),
    rating        INTEGER,
    title         TEXT CHECK (length(title) <= 255),
    comment       TEXT,
    helpful_count INTEGER NOT NULL DEFAULT 0,
    verified      INTEGER NOT NULL DEFAULT 0 CHECK (verified IN (0, 1)),
    status        TEXT NOT NULL DEFAULT 'active'
                  CHECK (status IN ('active', 'hidden', 'removed')),
    created_at    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000Z')
                  CHECK (created_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'),
    updated_at    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000Z')
                  CHECK (updated_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'),
    PRIMARY KEY (review_id),
    CONSTRAINT chk_review_rating CHECK (rating >= 1 AND rating <= 5)
) STRICT;

CREATE TABLE app_installations (
    installation_id BLOB NOT NULL DEFAULT (randomblob(16)) CHECK (length(installation_id) = 16),
    app_id          TEXT NOT NULL CHECK (length(app_id) <= 255)
                    REFERENCES apps (app_id) ON DELETE CASCADE,
    user_id         BLOB NOT NULL CHECK (length(user_id) = 16)
                    REFERENCES users (id) ON DELETE CASCADE,
    version         TEXT NOT NULL CHECK (length(version) <= 50),
    source          TEXT CHECK (source IN ('store', 'preinstalled', 'sideload')),
    device_id       TEXT CHECK (length(device_id) <= 255),
    auto_update     INTEGER NOT NULL DEFAULT 1 CHECK (auto_update IN (0, 1)),
    status          TEXT NOT NULL DEFAULT 'installed'
                    CHECK (status IN ('installed', 'uninstalled', 'updating')),
    installed_at    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000Z')
                    CHECK (installed_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'),
    last_used_at    TEXT
                    CHECK (last_used_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'),
    updated_at      TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000Z')
                    CHECK (updated_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'),
    PRIMARY KEY (installation_id)
) STRICT;

CREATE TABLE app_categories (
    id           BLOB NOT NULL DEFAULT (randomblob(16)) CHECK (length(id) = 16),
    name         TEXT NOT NULL CHECK (length(name) <= 100),
    display_name TEXT NOT NULL CHECK (length(display_name) <= 255),
    description  TEXT,
    icon_url     TEXT CHECK (length(icon_url) <= 500),
    parent_id    BLOB CHECK (length(parent_id) = 16)
                 REFERENCES app_categories (id),
    sort_order   INTEGER NOT NULL DEFAULT 0,
    is_active    INTEGER NOT NULL DEFAULT 1 CHECK (is_active IN (0, 1)),
    created_at   TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000Z')
                 CHECK (created_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'),
    PRIMARY KEY (id),
    UNIQUE (name)
) STRICT;

CREATE TABLE app_category_mappings (
    app_id      TEXT NOT NULL CHECK (length(app_id) <= 255)
                REFERENCES apps (app_id) ON DELETE CASCADE,
    category_id BLOB NOT NULL CHECK (length(category_id) = 16)
                REFERENCES app_categories (id) ON DELETE CASCADE,
    is_primary  INTEGER NOT NULL DEFAULT 0 CHECK (is_primary IN (0, 1)),
    PRIMARY KEY (app_id, category_id)
) STRICT;


-- ===========================================================================
-- 4. Payment system
-- ===========================================================================

CREATE TABLE payment_methods (
    id                 BLOB NOT NULL DEFAULT (randomblob(16)) CHECK (length(id) = 16),
    user_id            BLOB NOT NULL CHECK (length(user_id) = 16)
                       REFERENCES users (id) ON DELETE CASCADE,
    type               TEXT NOT NULL
                       CHECK (type IN ('card', 'bank_account', 'digital_wallet')),
    provider           TEXT NOT NULL CHECK (length(provider) <= 50),
    provider_method_id TEXT NOT NULL CHECK (length(provider_method_id) <= 255),
    method_data        TEXT NOT NULL CHECK (json_valid(method_data)),
    is_default         INTEGER NOT NULL DEFAULT 0 CHECK (is_default IN (0, 1)),
    is_active          INTEGER NOT NULL DEFAULT 1 CHECK (is_active IN (0, 1)),
    metadata           TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(metadata)),
    created_at         TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000Z')
                       CHECK (created_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'),
    updated_at         TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000Z')
                       CHECK (updated_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'),
    PRIMARY KEY (id)
) STRICT;

-- PostgreSQL partitions this table by month (PK (payment_id, created_at)).
-- SQLite keeps payment_id as the key and adds the (payment_id, created_at)
-- unique key so children use the same composite foreign key on both engines.
CREATE TABLE payment_transactions (
    payment_id               BLOB NOT NULL DEFAULT (randomblob(16)) CHECK (length(payment_id) = 16),
    user_id                  BLOB NOT NULL CHECK (length(user_id) = 16)
                             REFERENCES users (id),
    app_id                   TEXT CHECK (length(app_id) <= 255)
                             REFERENCES apps (app_id),
    amount                   INTEGER NOT NULL, -- smallest currency unit
    currency                 TEXT NOT NULL DEFAULT 'USD'
                             CHECK (currency GLOB '[A-Z][A-Z][A-Z]'),
    payment_method_id        BLOB CHECK (length(payment_method_id) = 16),
    description              TEXT,
    metadata                 TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(metadata)),
    status                   TEXT NOT NULL
                             CHECK (status IN ('pending_authorization', 'mfa_required', 'processing',
                                               'completed', 'failed', 'cancelled', 'expired',
                                               'refunded', 'partially_refunded')),
    state                    TEXT NOT NULL
                             CHECK (state IN ('Initiated', 'Validating', 'MFA_Required', 'Authorized',
                                              'Processing', 'Completed', 'Failed', 'Cancelled',
                                              'Expired', 'Refunded')),
    mfa_required             INTEGER NOT NULL DEFAULT 0 CHECK (mfa_required IN (0, 1)),
    mfa_method               TEXT CHECK (length(mfa_method) <= 50),
    mfa_verified             INTEGER NOT NULL DEFAULT 0 CHECK (mfa_verified IN (0, 1)),
    processor_id             TEXT CHECK (length(processor_id) <= 255),
    processor_transaction_id TEXT CHECK (length(processor_transaction_id) <= 255),
    failure_reason           TEXT,
    created_at               TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000Z')
                             CHECK (created_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'),
    updated_at               TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000Z')
                             CHECK (updated_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'),
    completed_at             TEXT
                             CHECK (completed_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'),
    PRIMARY KEY (payment_id),
    CONSTRAINT uq_payment_transactions_id_created UNIQUE (payment_id, created_at),
    CONSTRAINT fk_payment_transactions_payment_method
        FOREIGN KEY (payment_method_id) REFERENCES payment_methods (id),
    CONSTRAINT chk_payment_amount CHECK (amount > 0)
) STRICT;

-- Append-only money history: UPDATE and DELETE are refused by the triggers in
-- section 9a. No foreign key cascades into it.
CREATE TABLE payment_ledger (
    id                 BLOB NOT NULL DEFAULT (randomblob(16)) CHECK (length(id) = 16),
    payment_id         BLOB CHECK (length(payment_id) = 16),
    payment_created_at TEXT
                       CHECK (payment_created_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'),
    user_id            BLOB NOT NULL CHECK (length(user_id) = 16)
                       REFERENCES users (id),
    amount             INTEGER NOT NULL CHECK (amount <> 0),
    currency           TEXT NOT NULL DEFAULT 'USD'
                       CHECK (currency GLOB '[A-Z][A-Z][A-Z]'),
    type               TEXT NOT NULL
                       CHECK (type IN ('payment', 'refund', 'fee', 'adjustment', 'top_up')),
    balance_after      INTEGER,
    description        TEXT,
    metadata           TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(metadata)),
    created_at         TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000Z')
                       CHECK (created_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'),
    PRIMARY KEY (id),
    -- A half-filled reference would silently bypass the composite foreign key
    -- (SQLite, like MATCH SIMPLE, skips the check when any column is NULL).
    CONSTRAINT chk_payment_ledger_payment_ref
        CHECK ((payment_id IS NULL) = (payment_created_at IS NULL)),
    CONSTRAINT fk_payment_ledger_payment
        FOREIGN KEY (payment_id, payment_created_at)
        REFERENCES payment_transactions (payment_id, created_at)
) STRICT;

CREATE TABLE payment_mfa_challenges (
    challenge_id       BLOB NOT NULL DEFAULT (randomblob(16)) CHECK (length(challenge_id) = 16),
    payment_id         BLOB NOT NULL CHECK (length(payment_id) = 16),
    payment_created_at TEXT NOT NULL
                       CHECK (payment_created_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'),
    user_id            BLOB NOT NULL CHECK (length(user_id) = 16)
                       REFERENCES users (id),
    method_type        TEXT NOT NULL
                       CHECK (method_type IN ('transaction_pin', 'biometric', 'totp')),
    challenge_data     TEXT NOT NULL CHECK (json_valid(challenge_data)),
    status             TEXT NOT NULL DEFAULT 'pending'
                       CHECK (status IN ('pending', 'verified', 'failed', 'expired')),
    attempts           INTEGER NOT NULL DEFAULT 0,
    max_attempts       INTEGER NOT NULL DEFAULT 3,
    expires_at         TEXT NOT NULL
                       CHECK (expires_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'),
    created_at         TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000Z')
                       CHECK (created_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'),
    verified_at        TEXT
                       CHECK (verified_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'),
    PRIMARY KEY (challenge_id),
    CONSTRAINT fk_payment_mfa_challenges_payment
        FOREIGN KEY (payment_id, payment_created_at)
        REFERENCES payment_transactions (payment_id, created_at)
) STRICT;


-- ===========================================================================
-- 5. Storage system
-- ===========================================================================

CREATE TABLE storage_entries (
    user_id      BLOB NOT NULL CHECK (length(user_id) = 16)
                 REFERENCES users (id) ON DELETE CASCADE,
    app_id       TEXT NOT NULL CHECK (length(app_id) <= 255),
    -- limit is in bytes (UTF-8), not characters
    key          TEXT NOT NULL CHECK (length(CAST(key AS BLOB)) BETWEEN 1 AND 256),
    value        BLOB NOT NULL,
    content_type TEXT NOT NULL DEFAULT 'application/octet-stream'
                 CHECK (length(content_type) <= 100),
    version      INTEGER NOT NULL DEFAULT 1 CHECK (version >= 1),
    created_at   TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000Z')
                 CHECK (created_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'),
    updated_at   TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000Z')
                 CHECK (updated_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'),
    ttl          INTEGER CHECK (ttl IS NULL OR ttl BETWEEN 60 AND 2592000), -- seconds
    expires_at   TEXT   -- absolute expiry, set by the application from ttl
                 CHECK (expires_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'),
    size         INTEGER NOT NULL,
    checksum     TEXT NOT NULL CHECK (length(checksum) <= 64),
    metadata     TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(metadata)),
    PRIMARY KEY (user_id, app_id, key),
    CONSTRAINT chk_storage_size CHECK (size > 0 AND size <= 1048576) -- max 1 MiB per key
) STRICT;

CREATE TABLE storage_quotas (
    user_id      BLOB NOT NULL CHECK (length(user_id) = 16)
                 REFERENCES users (id) ON DELETE CASCADE,
    app_id       TEXT NOT NULL CHECK (length(app_id) <= 255),
    total_bytes  INTEGER NOT NULL DEFAULT 10485760, -- 10 MiB
    used_bytes   INTEGER NOT NULL DEFAULT 0,
    total_keys   INTEGER NOT NULL DEFAULT 1000,
    used_keys    INTEGER NOT NULL DEFAULT 0,
    last_updated TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000Z')
                 CHECK (last_updated GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'),
    PRIMARY KEY (user_id, app_id),
    CONSTRAINT chk_storage_quota_within_limits CHECK (
        used_bytes >= 0 AND used_keys >= 0
        AND used_bytes <= total_bytes AND used_keys <= total_keys
    )
) STRICT;

CREATE TABLE storage_sync_operations (
    id             BLOB NOT NULL DEFAULT (randomblob(16)) CHECK (length(id) = 16),
    user_id        BLOB NOT NULL CHECK (length(user_id) = 16),
    app_id         TEXT NOT NULL CHECK (length(app_id) <= 255),
    operation_type TEXT NOT NULL CHECK (operation_type IN ('set', 'delete')),
    key            TEXT NOT NULL CHECK (length(CAST(key AS BLOB)) BETWEEN 1 AND 256),
    value          BLOB,
    version        INTEGER,
    status         TEXT NOT NULL DEFAULT 'pending'
                   CHECK (status IN ('pending', 'completed', 'failed')),
    conflict_data  TEXT CHECK (conflict_data IS NULL OR json_valid(conflict_data)),
    created_at     TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000Z')
                   CHECK (created_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'),
    processed_at   TEXT
                   CHECK (processed_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'),
    error_message  TEXT,
    PRIMARY KEY (id),
    CONSTRAINT fk_sync_operations_user_app
        FOREIGN KEY (user_id, app_id) REFERENCES storage_quotas (user_id, app_id)
        ON DELETE CASCADE
) STRICT;

CREATE TABLE storage_conflicts (
    id                  BLOB NOT NULL DEFAULT (randomblob(16)) CHECK (length(id) = 16),
    user_id             BLOB NOT NULL CHECK (length(user_id) = 16)
                        REFERENCES users (id) ON DELETE CASCADE,
    app_id              TEXT NOT NULL CHECK (length(app_id) <= 255),
    key                 TEXT NOT NULL CHECK (length(CAST(key AS BLOB)) BETWEEN 1 AND 256),
    local_value         BLOB,
    remote_value        BLOB,
    resolution_strategy TEXT
                        CHECK (resolution_strategy IN ('local_wins', 'remote_wins', 'manual',
                                                       'last_write_wins')),
    resolved_value      BLOB,
    status              TEXT NOT NULL DEFAULT 'pending'
                        CHECK (status IN ('pending', 'resolved', 'ignored')),
    created_at          TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000Z')
                        CHECK (created_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'),
    resolved_at         TEXT
                        CHECK (resolved_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'),
    PRIMARY KEY (id)
) STRICT;


-- ===========================================================================
-- 6. App lifecycle management (time series; PostgreSQL partitions these)
-- ===========================================================================

CREATE TABLE app_lifecycle_events (
    event_id    BLOB NOT NULL DEFAULT (randomblob(16)) CHECK (length(event_id) = 16),
    app_id      TEXT NOT NULL CHECK (length(app_id) <= 255)
                REFERENCES apps (app_id),
    user_id     BLOB CHECK (length(user_id) = 16)
                REFERENCES users (id),
    device_id   TEXT CHECK (length(device_id) <= 255),
    event_type  TEXT NOT NULL
                CHECK (event_type IN ('installed', 'updated', 'uninstalled', 'launched', 'closed')),
    event_data  TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(event_data)),
    "timestamp" TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000Z')
                CHECK ("timestamp" GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'),
    PRIMARY KEY (event_id)
) STRICT;

CREATE TABLE app_usage_analytics (
    id               BLOB NOT NULL DEFAULT (randomblob(16)) CHECK (length(id) = 16),
    app_id           TEXT NOT NULL CHECK (length(app_id) <= 255)
                     REFERENCES apps (app_id),
    user_id          BLOB CHECK (length(user_id) = 16)
                     REFERENCES users (id),
    device_id        TEXT CHECK (length(device_id) <= 255),
    session_id       TEXT CHECK (length(session_id) <= 255),
    event_type       TEXT NOT NULL
                     CHECK (event_type IN ('session_start', 'session_end', 'feature_used')),
    event_data       TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(event_data)),
    duration_seconds INTEGER,
    "timestamp"      TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000Z')
                     CHECK ("timestamp" GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'),
    PRIMARY KEY (id)
) STRICT;

CREATE TABLE app_performance_metrics (
    id           BLOB NOT NULL DEFAULT (randomblob(16)) CHECK (length(id) = 16),
    app_id       TEXT NOT NULL CHECK (length(app_id) <= 255)
                 REFERENCES apps (app_id),
    version      TEXT NOT NULL CHECK (length(version) <= 50),
    metric_type  TEXT NOT NULL
                 CHECK (metric_type IN ('crash_rate', 'load_time', 'memory_usage', 'cpu_usage')),
    metric_value REAL NOT NULL,
    device_info  TEXT CHECK (device_info IS NULL OR json_valid(device_info)),
    "timestamp"  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000Z')
                 CHECK ("timestamp" GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'),
    PRIMARY KEY (id)
) STRICT;


-- ===========================================================================
-- 7. Indexes (design section 4.1, same names)
-- ===========================================================================

-- Users
CREATE INDEX idx_users_email      ON users (email);
CREATE INDEX idx_users_username   ON users (username);
CREATE INDEX idx_users_status     ON users (status);
CREATE INDEX idx_users_created_at ON users (created_at);

CREATE INDEX idx_user_sessions_user_id    ON user_sessions (user_id);
CREATE INDEX idx_user_sessions_token      ON user_sessions (session_token);
CREATE INDEX idx_user_sessions_expires_at ON user_sessions (expires_at);

CREATE INDEX idx_mfa_methods_user_id ON mfa_methods (user_id);
CREATE INDEX idx_mfa_methods_type    ON mfa_methods (method_type);

CREATE INDEX idx_device_registrations_user_id   ON device_registrations (user_id);
CREATE INDEX idx_device_registrations_device_id ON device_registrations (device_id);

-- Apps
CREATE INDEX idx_apps_category       ON apps (category);
CREATE INDEX idx_apps_classification ON apps (classification);
CREATE INDEX idx_apps_developer_id   ON apps (developer_id);
CREATE INDEX idx_apps_status         ON apps (status);
CREATE INDEX idx_apps_featured       ON apps (featured);
CREATE INDEX idx_apps_created_at     ON apps (created_at);

CREATE INDEX idx_app_versions_app_id        ON app_versions (app_id);
CREATE UNIQUE INDEX idx_app_versions_unique ON app_versions (app_id, version);

CREATE INDEX idx_app_reviews_app_id     ON app_reviews (app_id);
CREATE INDEX idx_app_reviews_user_id    ON app_reviews (user_id);
CREATE INDEX idx_app_reviews_rating     ON app_reviews (rating);
CREATE INDEX idx_app_reviews_created_at ON app_reviews (created_at);
-- at most one active review per (app, user)
CREATE UNIQUE INDEX idx_app_reviews_one_active
    ON app_reviews (app_id, user_id) WHERE status = 'active';

CREATE INDEX idx_app_installations_app_id  ON app_installations (app_id);
CREATE INDEX idx_app_installations_user_id ON app_installations (user_id);
CREATE INDEX idx_app_installations_status  ON app_installations (status);
-- at most one live (not uninstalled) installation per (user, app)
CREATE UNIQUE INDEX idx_app_installations_live
    ON app_installations (user_id, app_id) WHERE status <> 'uninstalled';

-- Payments
CREATE INDEX idx_payment_transactions_user_id    ON payment_transactions (user_id);
CREATE INDEX idx_payment_transactions_app_id     ON payment_transactions (app_id);
CREATE INDEX idx_payment_transactions_status     ON payment_transactions (status);
CREATE INDEX idx_payment_transactions_state      ON payment_transactions (state);
CREATE INDEX idx_payment_transactions_created_at ON payment_transactions (created_at);

CREATE INDEX idx_payment_methods_user_id          ON payment_methods (user_id);
CREATE INDEX idx_payment_methods_type             ON payment_methods (type);
CREATE UNIQUE INDEX idx_payment_methods_provider  ON payment_methods (provider, provider_method_id);

CREATE INDEX idx_payment_ledger_user_id    ON payment_ledger (user_id);
CREATE INDEX idx_payment_ledger_payment_id ON payment_ledger (payment_id);
CREATE INDEX idx_payment_ledger_type       ON payment_ledger (type);
CREATE INDEX idx_payment_ledger_created_at ON payment_ledger (created_at);

-- Storage
CREATE INDEX idx_storage_entries_updated_at ON storage_entries (updated_at);
CREATE INDEX idx_storage_entries_ttl        ON storage_entries (ttl) WHERE ttl IS NOT NULL;
CREATE INDEX idx_storage_entries_expires_at ON storage_entries (expires_at) WHERE expires_at IS NOT NULL;

CREATE INDEX idx_storage_sync_operations_user_app   ON storage_sync_operations (user_id, app_id);
CREATE INDEX idx_storage_sync_operations_status     ON storage_sync_operations (status);
CREATE INDEX idx_storage_sync_operations_created_at ON storage_sync_operations (created_at);

-- Lifecycle
CREATE INDEX idx_app_lifecycle_events_app_id    ON app_lifecycle_events (app_id);
CREATE INDEX idx_app_lifecycle_events_user_id   ON app_lifecycle_events (user_id);
CREATE INDEX idx_app_lifecycle_events_type      ON app_lifecycle_events (event_type);
CREATE INDEX idx_app_lifecycle_events_timestamp ON app_lifecycle_events ("timestamp");

CREATE INDEX idx_app_usage_analytics_app_id    ON app_usage_analytics (app_id);
CREATE INDEX idx_app_usage_analytics_user_id   ON app_usage_analytics (user_id);
CREATE INDEX idx_app_usage_analytics_type      ON app_usage_analytics (event_type);
CREATE INDEX idx_app_usage_analytics_timestamp ON app_usage_analytics ("timestamp");

-- Not in the design: indexes on foreign-key child columns that have none above.
-- SQLite scans the child table on every parent DELETE/UPDATE of the key
-- (cascades and NO ACTION checks) unless such an index exists.
CREATE INDEX idx_oauth_tokens_user_id                   ON oauth_tokens (user_id);
CREATE INDEX idx_oauth_tokens_client_id                 ON oauth_tokens (client_id);
CREATE INDEX idx_app_categories_parent_id               ON app_categories (parent_id);
CREATE INDEX idx_app_category_mappings_category_id      ON app_category_mappings (category_id);
CREATE INDEX idx_payment_transactions_payment_method_id ON payment_transactions (payment_method_id);
CREATE INDEX idx_payment_mfa_challenges_payment_id      ON payment_mfa_challenges (payment_id, payment_created_at);
CREATE INDEX idx_payment_mfa_challenges_user_id         ON payment_mfa_challenges (user_id);
CREATE INDEX idx_storage_conflicts_user_app             ON storage_conflicts (user_id, app_id);
CREATE INDEX idx_app_performance_metrics_app_id
    ON app_performance_metrics (app_id, metric_type, "timestamp");


-- ===========================================================================
-- 8. updated_at maintenance
-- ===========================================================================
-- The application normally writes updated_at from its own clock. These triggers
-- only fill it in when the UPDATE statement left it unchanged
-- (NEW.updated_at IS OLD.updated_at). The extra "IS NOT now" condition makes the
-- inner UPDATE unable to re-fire its own trigger even with recursive_triggers=ON.

CREATE TRIGGER update_users_updated_at
AFTER UPDATE ON users
FOR EACH ROW
WHEN NEW.updated_at IS OLD.updated_at
 AND NEW.updated_at IS NOT (strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000Z')
BEGIN
    UPDATE users
       SET updated_at = (strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000Z')
     WHERE id = NEW.id;
END;

CREATE TRIGGER update_user_profiles_updated_at
AFTER UPDATE ON user_profiles
FOR EACH ROW
WHEN NEW.updated_at IS OLD.updated_at
 AND NEW.updated_at IS NOT (strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000Z')
BEGIN
    UPDATE user_profiles
       SET updated_at = (strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000Z')
     WHERE user_id = NEW.user_id;
END;

CREATE TRIGGER update_oauth_clients_updated_at
AFTER UPDATE ON oauth_clients
FOR EACH ROW
WHEN NEW.updated_at IS OLD.updated_at
 AND NEW.updated_at IS NOT (strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000Z')
BEGIN
    UPDATE oauth_clients
       SET updated_at = (strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000Z')
     WHERE id = NEW.id;
END;

CREATE TRIGGER update_mfa_methods_updated_at
AFTER UPDATE ON mfa_methods
FOR EACH ROW
WHEN NEW.updated_at IS OLD.updated_at
 AND NEW.updated_at IS NOT (strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000Z')
BEGIN
    UPDATE mfa_methods
       SET updated_at = (strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000Z')
     WHERE id = NEW.id;
END;

CREATE TRIGGER update_apps_updated_at
AFTER UPDATE ON apps
FOR EACH ROW
WHEN NEW.updated_at IS OLD.updated_at
 AND NEW.updated_at IS NOT (strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000Z')
BEGIN
    UPDATE apps
       SET updated_at = (strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000Z')
     WHERE app_id = NEW.app_id;
END;

CREATE TRIGGER update_app_reviews_updated_at
AFTER UPDATE ON app_reviews
FOR EACH ROW
WHEN NEW.updated_at IS OLD.updated_at
 AND NEW.updated_at IS NOT (strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000Z')
BEGIN
    UPDATE app_reviews
       SET updated_at = (strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000Z')
     WHERE review_id = NEW.review_id;
END;

CREATE TRIGGER update_app_installations_updated_at
AFTER UPDATE ON app_installations
FOR EACH ROW
WHEN NEW.updated_at IS OLD.updated_at
 AND NEW.updated_at IS NOT (strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000Z')
BEGIN
    UPDATE app_installations
       SET updated_at = (strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000Z')
     WHERE installation_id = NEW.installation_id;
END;

CREATE TRIGGER update_payment_methods_updated_at
AFTER UPDATE ON payment_methods
FOR EACH ROW
WHEN NEW.updated_at IS OLD.updated_at
 AND NEW.updated_at IS NOT (strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000Z')
BEGIN
    UPDATE payment_methods
       SET updated_at = (strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000Z')
     WHERE id = NEW.id;
END;

CREATE TRIGGER update_payment_transactions_updated_at
AFTER UPDATE ON payment_transactions
FOR EACH ROW
WHEN NEW.updated_at IS OLD.updated_at
 AND NEW.updated_at IS NOT (strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000Z')
BEGIN
    UPDATE payment_transactions
       SET updated_at = (strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000Z')
     WHERE payment_id = NEW.payment_id;
END;

CREATE TRIGGER update_storage_entries_updated_at
AFTER UPDATE ON storage_entries
FOR EACH ROW
WHEN NEW.updated_at IS OLD.updated_at
 AND NEW.updated_at IS NOT (strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000Z')
BEGIN
    UPDATE storage_entries
       SET updated_at = (strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000Z')
     WHERE user_id = NEW.user_id AND app_id = NEW.app_id AND key = NEW.key;
END;


-- ===========================================================================
-- 9. Storage quota accounting
-- ===========================================================================
-- Usage is kept in storage_quotas by these triggers. Exceeding a limit makes the
-- UPDATE below violate chk_storage_quota_within_limits, which aborts the
-- statement that touched storage_entries
-- ("CHECK constraint failed: chk_storage_quota_within_limits").
-- The quota row is created on demand with INSERT ... WHERE NOT EXISTS rather than
-- INSERT OR IGNORE, so that no conflict clause is involved at all.

CREATE TRIGGER manage_storage_quota_insert
AFTER INSERT ON storage_entries
FOR EACH ROW
BEGIN
    INSERT INTO storage_quotas (user_id, app_id)
    SELECT NEW.user_id, NEW.app_id
     WHERE NOT EXISTS (SELECT 1 FROM storage_quotas
                        WHERE user_id = NEW.user_id AND app_id = NEW.app_id);

    UPDATE storage_quotas
       SET used_bytes   = used_bytes + NEW.size,
           used_keys    = used_keys + 1,
           last_updated = (strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000Z')
     WHERE user_id = NEW.user_id AND app_id = NEW.app_id;
END;

-- Only size and ownership matter; other updates (including the updated_at
-- trigger's own UPDATE) do not touch the quota.
CREATE TRIGGER manage_storage_quota_update
AFTER UPDATE ON storage_entries
FOR EACH ROW
WHEN NEW.size IS NOT OLD.size
  OR NEW.user_id IS NOT OLD.user_id
  OR NEW.app_id IS NOT OLD.app_id
BEGIN
    -- same owner: apply the size difference
    UPDATE storage_quotas
       SET used_bytes   = used_bytes + (NEW.size - OLD.size),
           last_updated = (strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000Z')
     WHERE user_id = NEW.user_id AND app_id = NEW.app_id
       AND NEW.user_id IS OLD.user_id AND NEW.app_id IS OLD.app_id;

    -- owner changed: release the old owner's usage ...
    UPDATE storage_quotas
       SET used_bytes   = used_bytes - OLD.size,
           used_keys    = used_keys - 1,
           last_updated = (strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000Z')
     WHERE user_id = OLD.user_id AND app_id = OLD.app_id
       AND (NEW.user_id IS NOT OLD.user_id OR NEW.app_id IS NOT OLD.app_id);

    -- ... and charge the new owner (creating its quota row if needed)
    INSERT INTO storage_quotas (user_id, app_id)
    SELECT NEW.user_id, NEW.app_id
     WHERE (NEW.user_id IS NOT OLD.user_id OR NEW.app_id IS NOT OLD.app_id)
       AND NOT EXISTS (SELECT 1 FROM storage_quotas
                        WHERE user_id = NEW.user_id AND app_id = NEW.app_id);

    UPDATE storage_quotas
       SET used_bytes   = used_bytes + NEW.size,
           used_keys    = used_keys + 1,
           last_updated = (strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000Z')
     WHERE user_id = NEW.user_id AND app_id = NEW.app_id
       AND (NEW.user_id IS NOT OLD.user_id OR NEW.app_id IS NOT OLD.app_id);
END;

CREATE TRIGGER manage_storage_quota_delete
AFTER DELETE ON storage_entries
FOR EACH ROW
BEGIN
    UPDATE storage_quotas
       SET used_bytes   = used_bytes - OLD.size,
           used_keys    = used_keys - 1,
           last_updated = (strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000Z')
     WHERE user_id = OLD.user_id AND app_id = OLD.app_id;
END;


-- ===========================================================================
-- 9a. Append-only payment ledger
-- ===========================================================================
-- Ledger rows are never changed or removed (same trigger names as PostgreSQL).
-- The error is "payment_ledger is append-only" (SQLITE_CONSTRAINT_TRIGGER).
-- Note: INSERT OR REPLACE on payment_ledger would delete a conflicting row
-- without firing payment_ledger_no_delete unless recursive_triggers is on;
-- insert ledger rows with plain INSERT only.

CREATE TRIGGER payment_ledger_no_update
BEFORE UPDATE ON payment_ledger
FOR EACH ROW
BEGIN
    SELECT RAISE(ABORT, 'payment_ledger is append-only');
END;

CREATE TRIGGER payment_ledger_no_delete
BEFORE DELETE ON payment_ledger
FOR EACH ROW
BEGIN
    SELECT RAISE(ABORT, 'payment_ledger is append-only');
END;


-- ===========================================================================
-- 10. Views
-- ===========================================================================
-- Every aggregate comes from its own correlated subquery over one child table,
-- so installs, reviews and payments can never multiply each other (the design's
-- single GROUP BY over three LEFT JOINs double counts). Correlated subqueries
-- use the per-user / per-app indexes, so "WHERE id = ?" stays cheap.
--   installs: status = 'installed'; reviews: status = 'active';
--   payments: status = 'completed'.

CREATE VIEW user_summary AS
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
    CAST((SELECT COUNT(DISTINCT ai.app_id)
            FROM app_installations ai
           WHERE ai.user_id = u.id AND ai.status = 'installed') AS INTEGER)
        AS installed_apps_count,
    CAST((SELECT COUNT(*)
            FROM payment_transactions pt
           WHERE pt.user_id = u.id AND pt.status = 'completed') AS INTEGER)
        AS payment_count,
    CAST(COALESCE((SELECT SUM(pt.amount)
                     FROM payment_transactions pt
                    WHERE pt.user_id = u.id AND pt.status = 'completed'), 0) AS INTEGER)
        AS total_spent
FROM users u;

CREATE VIEW app_summary AS
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
    CAST((SELECT COUNT(DISTINCT ai.user_id)
            FROM app_installations ai
           WHERE ai.app_id = a.app_id AND ai.status = 'installed') AS INTEGER)
        AS install_count,
    CAST((SELECT COUNT(*)
            FROM app_reviews ar
           WHERE ar.app_id = a.app_id AND ar.status = 'active') AS INTEGER)
        AS review_count,
    CAST(COALESCE((SELECT AVG(ar.rating)
                     FROM app_reviews ar
                    WHERE ar.app_id = a.app_id AND ar.status = 'active'), 0.0) AS REAL)
        AS average_rating,
    CAST((SELECT COUNT(*)
            FROM payment_transactions pt
           WHERE pt.app_id = a.app_id AND pt.status = 'completed') AS INTEGER)
        AS purchase_count,
    CAST(COALESCE((SELECT SUM(pt.amount)
                     FROM payment_transactions pt
                    WHERE pt.app_id = a.app_id AND pt.status = 'completed'), 0) AS INTEGER)
        AS total_revenue
FROM apps a;


-- ===========================================================================
-- 11. Record this migration
-- ===========================================================================

INSERT INTO schema_migrations (version, description)
VALUES ('0001', 'Initial TMCP schema: accounts, OAuth, store, payments, storage, lifecycle analytics');
