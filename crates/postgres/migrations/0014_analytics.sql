-- 0014: lifecycle analytics (API §6): hourly rollups and the dirty-bucket marks that drive
-- them. Buckets are hours numbered from the Unix epoch (floor(epoch seconds / 3600)), the
-- same integers on both engines, so stats group them into days of any whole-hour offset
-- with integer arithmetic. See docs/analytics.md.

-- Sessions are looked up by id when their later events arrive (start hour of a session).
CREATE INDEX idx_app_usage_analytics_session
    ON app_usage_analytics (app_id, session_id, "timestamp");
CREATE INDEX idx_app_lifecycle_events_app_time
    ON app_lifecycle_events (app_id, "timestamp");
CREATE INDEX idx_app_usage_analytics_app_time
    ON app_usage_analytics (app_id, "timestamp");

-- Insert-only marks: every ingest transaction adds one row per (app, hour) it touched, so
-- concurrent writers never wait on each other. The rollup job reads marks, recomputes their
-- buckets from the raw rows and deletes exactly the marks it read; a mark committed later
-- (by a transaction still in flight during the run) stays and triggers another pass.
CREATE TABLE analytics_dirty_buckets (
    id        BIGSERIAL    PRIMARY KEY,
    app_id    VARCHAR(255) NOT NULL,
    hour      BIGINT       NOT NULL,
    marked_at TIMESTAMPTZ  NOT NULL
);
CREATE INDEX idx_analytics_dirty_buckets_bucket ON analytics_dirty_buckets (app_id, hour);

CREATE TABLE analytics_hourly (
    app_id     VARCHAR(255) NOT NULL,
    hour       BIGINT       NOT NULL,
    installs   BIGINT       NOT NULL DEFAULT 0,
    uninstalls BIGINT       NOT NULL DEFAULT 0,
    updates    BIGINT       NOT NULL DEFAULT 0,
    launches   BIGINT       NOT NULL DEFAULT 0,
    closes     BIGINT       NOT NULL DEFAULT 0,
    PRIMARY KEY (app_id, hour)
);

-- Exact distinct users: one row per (app, hour, active user).
CREATE TABLE analytics_hourly_users (
    app_id  VARCHAR(255) NOT NULL,
    hour    BIGINT       NOT NULL,
    user_id UUID         NOT NULL,
    PRIMARY KEY (app_id, hour, user_id)
);

-- Sessions by start hour, as an exact histogram of their lengths.
CREATE TABLE analytics_hourly_sessions (
    app_id         VARCHAR(255) NOT NULL,
    hour           BIGINT       NOT NULL,
    length_seconds INTEGER      NOT NULL,
    sessions       BIGINT       NOT NULL,
    PRIMARY KEY (app_id, hour, length_seconds)
);

-- Load times per version, as an exact histogram in tenths of a millisecond.
CREATE TABLE analytics_hourly_load_times (
    app_id       VARCHAR(255) NOT NULL,
    hour         BIGINT       NOT NULL,
    version      VARCHAR(50)  NOT NULL,
    value_tenths BIGINT       NOT NULL,
    samples      BIGINT       NOT NULL,
    PRIMARY KEY (app_id, hour, version, value_tenths)
);

CREATE TABLE analytics_hourly_crashes (
    app_id   VARCHAR(255) NOT NULL,
    hour     BIGINT       NOT NULL,
    version  VARCHAR(50)  NOT NULL,
    reports  BIGINT       NOT NULL,
    crashing BIGINT       NOT NULL,
    PRIMARY KEY (app_id, hour, version)
);

GRANT SELECT, INSERT, UPDATE, DELETE ON analytics_dirty_buckets, analytics_hourly,
    analytics_hourly_users, analytics_hourly_sessions, analytics_hourly_load_times,
    analytics_hourly_crashes TO tmcp_app, tmcp_system;
GRANT USAGE, SELECT ON SEQUENCE analytics_dirty_buckets_id_seq TO tmcp_app, tmcp_system;

INSERT INTO schema_migrations (version, description)
VALUES ('0014', 'Lifecycle analytics: hourly rollups and dirty-bucket marks');
