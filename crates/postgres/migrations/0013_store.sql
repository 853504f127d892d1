-- The mini-app store and developer registry (docs/store.md).
--
-- apps gains what registration, review and ranking need. The ranking inputs
-- (install_count, rating_count, rating_mean, active_users_30d, popularity) are written by
-- the store_rankings job only, so installs and reviews never contend on a hot app row; the
-- detail page reads exact figures from app_installations and app_reviews instead.
-- search_document is the weighted full-text document: name (A) > short description (B) >
-- category and developer (C) > description (D). The 'simple' configuration keeps words as
-- written (lower-cased, no stemming), so names in any script are findable as typed.
CREATE EXTENSION IF NOT EXISTS pg_trgm;

ALTER TABLE apps
    ADD COLUMN mandatory        BOOLEAN          NOT NULL DEFAULT FALSE,
    ADD COLUMN rejection_reason VARCHAR(1000),
    ADD COLUMN submitted_at     TIMESTAMPTZ,
    ADD COLUMN published_at     TIMESTAMPTZ,
    ADD COLUMN install_count    BIGINT           NOT NULL DEFAULT 0 CHECK (install_count >= 0),
    ADD COLUMN active_users_30d BIGINT           NOT NULL DEFAULT 0 CHECK (active_users_30d >= 0),
    ADD COLUMN rating_count     BIGINT           NOT NULL DEFAULT 0 CHECK (rating_count >= 0),
    ADD COLUMN rating_mean      DOUBLE PRECISION NOT NULL DEFAULT 0,
    ADD COLUMN popularity       DOUBLE PRECISION NOT NULL DEFAULT 0,
    ADD COLUMN search_document  tsvector GENERATED ALWAYS AS (
        setweight(to_tsvector('simple', coalesce(name, '')), 'A') ||
        setweight(to_tsvector('simple', coalesce(short_description, '')), 'B') ||
        setweight(to_tsvector('simple', coalesce(category, '') || ' ' || developer_name), 'C') ||
        setweight(to_tsvector('simple', coalesce(description, '')), 'D')) STORED,
    ADD CONSTRAINT chk_apps_mandatory_official
        CHECK (NOT mandatory OR classification = 'official');

CREATE INDEX idx_apps_search_document ON apps USING GIN (search_document);
CREATE INDEX idx_apps_name_lower ON apps (lower(name));
-- Browse orders: every listing is "status = 'active' ORDER BY <key>, app_id".
CREATE INDEX idx_apps_active_popularity ON apps (popularity DESC, app_id) WHERE status = 'active';
CREATE INDEX idx_apps_active_published ON apps (published_at DESC, app_id) WHERE status = 'active';
CREATE INDEX idx_apps_active_rating ON apps (rating_mean DESC, app_id) WHERE status = 'active';
CREATE INDEX idx_apps_active_name ON apps (lower(name), app_id) WHERE status = 'active';

-- The words of every app name, for typo tolerance: a misspelt query word is corrected to
-- the closest vocabulary terms (trigram similarity finds candidates, the code checks the
-- edit distance) and the search runs again with them. app_count counts the apps whose name
-- holds the term; a term at zero is deleted.
CREATE TABLE app_search_terms (
    term      VARCHAR(255) PRIMARY KEY,
    app_count INTEGER      NOT NULL CHECK (app_count > 0)
);
CREATE INDEX idx_app_search_terms_trgm ON app_search_terms USING GIN (term gin_trgm_ops);

-- Package objects: the object store key of each version's package and when it was
-- submitted (a submitted version is immutable).
ALTER TABLE app_versions
    ADD COLUMN object_key   VARCHAR(500),
    ADD COLUMN submitted_at TIMESTAMPTZ,
    ADD CONSTRAINT chk_app_versions_size CHECK (package_size IS NULL OR package_size >= 0);

-- Who changed what in the store, and when: every review decision, feature flag, category
-- change and developer edit. Append-only; no foreign keys, so a row outlives what it names.
CREATE TABLE store_audit_log (
    id         UUID         PRIMARY KEY,
    actor_id   UUID,
    app_id     VARCHAR(255),
    action     VARCHAR(50)  NOT NULL,
    detail     JSONB        NOT NULL DEFAULT '{}',
    created_at TIMESTAMPTZ  NOT NULL
);
CREATE INDEX idx_store_audit_log_app ON store_audit_log (app_id, created_at);
CREATE FUNCTION tmcp_refuse_audit_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'store_audit_log is append-only';
END $$;
CREATE TRIGGER store_audit_log_append_only BEFORE UPDATE OR DELETE ON store_audit_log
    FOR EACH ROW EXECUTE FUNCTION tmcp_refuse_audit_change();

-- One helpful vote per (review, user).
CREATE TABLE app_review_votes (
    review_id  UUID        NOT NULL REFERENCES app_reviews(review_id) ON DELETE CASCADE,
    user_id    UUID        NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (review_id, user_id)
);

-- Live installations per user, for "installed" listings and account deletion.
CREATE INDEX idx_app_installations_user_live ON app_installations (user_id, installed_at)
    WHERE status = 'installed';

GRANT SELECT, INSERT, UPDATE, DELETE ON app_search_terms, app_review_votes TO tmcp_app, tmcp_system;
GRANT SELECT, INSERT ON store_audit_log TO tmcp_app, tmcp_system;

INSERT INTO schema_migrations (version, description)
VALUES ('0013', 'Store: registration, review, ranking inputs, search, packages, audit log');
