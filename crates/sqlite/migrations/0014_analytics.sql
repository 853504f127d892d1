-- 0014: lifecycle analytics (API §6): hourly rollups and the dirty-bucket marks that drive
-- them. Buckets are hours numbered from the Unix epoch, as on PostgreSQL. See
-- docs/analytics.md.

CREATE INDEX idx_app_usage_analytics_session
    ON app_usage_analytics (app_id, session_id, "timestamp");
CREATE INDEX idx_app_lifecycle_events_app_time
    ON app_lifecycle_events (app_id, "timestamp");
CREATE INDEX idx_app_usage_analytics_app_time
    ON app_usage_analytics (app_id, "timestamp");

CREATE TABLE analytics_dirty_buckets (
    id        INTEGER PRIMARY KEY,
    app_id    TEXT    NOT NULL CHECK (length(app_id) <= 255),
    hour      INTEGER NOT NULL,
    marked_at TEXT    NOT NULL
) STRICT;
CREATE INDEX idx_analytics_dirty_buckets_bucket ON analytics_dirty_buckets (app_id, hour);

CREATE TABLE analytics_hourly (
    app_id     TEXT    NOT NULL,
    hour       INTEGER NOT NULL,
    installs   INTEGER NOT NULL DEFAULT 0,
    uninstalls INTEGER NOT NULL DEFAULT 0,
    updates    INTEGER NOT NULL DEFAULT 0,
    launches   INTEGER NOT NULL DEFAULT 0,
    closes     INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (app_id, hour)
) STRICT, WITHOUT ROWID;

CREATE TABLE analytics_hourly_users (
    app_id  TEXT    NOT NULL,
    hour    INTEGER NOT NULL,
    user_id BLOB    NOT NULL CHECK (length(user_id) = 16),
    PRIMARY KEY (app_id, hour, user_id)
) STRICT, WITHOUT ROWID;

CREATE TABLE analytics_hourly_sessions (
    app_id         TEXT    NOT NULL,
    hour           INTEGER NOT NULL,
    length_seconds INTEGER NOT NULL,
    sessions       INTEGER NOT NULL,
    PRIMARY KEY (app_id, hour, length_seconds)
) STRICT, WITHOUT ROWID;

CREATE TABLE analytics_hourly_load_times (
    app_id       TEXT    NOT NULL,
    hour         INTEGER NOT NULL,
    version      TEXT    NOT NULL,
    value_tenths INTEGER NOT NULL,
    samples      INTEGER NOT NULL,
    PRIMARY KEY (app_id, hour, version, value_tenths)
) STRICT, WITHOUT ROWID;

CREATE TABLE analytics_hourly_crashes (
    app_id   TEXT    NOT NULL,
    hour     INTEGER NOT NULL,
    version  TEXT    NOT NULL,
    reports  INTEGER NOT NULL,
    crashing INTEGER NOT NULL,
    PRIMARY KEY (app_id, hour, version)
) STRICT, WITHOUT ROWID;

INSERT INTO schema_migrations (version, description)
VALUES ('0014', 'Lifecycle analytics: hourly rollups and dirty-bucket marks');
