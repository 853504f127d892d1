-- The mini-app store and developer registry (docs/store.md); same names as PostgreSQL's
-- 0013. SQLite cannot add a CHECK to an existing table: "mandatory apps are official" is
-- kept by the code. Full text lives in FTS5 tables kept in step with apps by triggers.
-- TS = the UTC timestamp text every table uses.

ALTER TABLE apps ADD COLUMN mandatory INTEGER NOT NULL DEFAULT 0 CHECK (mandatory IN (0, 1));
ALTER TABLE apps ADD COLUMN rejection_reason TEXT CHECK (length(rejection_reason) <= 1000);
ALTER TABLE apps ADD COLUMN submitted_at TEXT;
ALTER TABLE apps ADD COLUMN published_at TEXT;
ALTER TABLE apps ADD COLUMN install_count INTEGER NOT NULL DEFAULT 0 CHECK (install_count >= 0);
ALTER TABLE apps ADD COLUMN active_users_30d INTEGER NOT NULL DEFAULT 0 CHECK (active_users_30d >= 0);
ALTER TABLE apps ADD COLUMN rating_count INTEGER NOT NULL DEFAULT 0 CHECK (rating_count >= 0);
ALTER TABLE apps ADD COLUMN rating_mean REAL NOT NULL DEFAULT 0;
ALTER TABLE apps ADD COLUMN popularity REAL NOT NULL DEFAULT 0;

CREATE INDEX idx_apps_name_lower ON apps (lower(name));
CREATE INDEX idx_apps_active_popularity ON apps (popularity DESC, app_id) WHERE status = 'active';
CREATE INDEX idx_apps_active_published ON apps (published_at DESC, app_id) WHERE status = 'active';
CREATE INDEX idx_apps_active_rating ON apps (rating_mean DESC, app_id) WHERE status = 'active';
CREATE INDEX idx_apps_active_name ON apps (lower(name), app_id) WHERE status = 'active';

-- The weighted document: bm25 weights are given per column at query time
-- (name > short_description > tags (category and developer) > description).
CREATE VIRTUAL TABLE apps_fts USING fts5(
    app_id UNINDEXED, name, short_description, tags, description,
    tokenize = 'unicode61 remove_diacritics 2');

CREATE TRIGGER apps_fts_insert AFTER INSERT ON apps BEGIN
    INSERT INTO apps_fts (rowid, app_id, name, short_description, tags, description)
    VALUES (NEW.rowid, NEW.app_id, NEW.name, coalesce(NEW.short_description, ''),
            coalesce(NEW.category, '') || ' ' || NEW.developer_name,
            coalesce(NEW.description, ''));
END;
CREATE TRIGGER apps_fts_update AFTER UPDATE OF name, short_description, category,
    developer_name, description ON apps BEGIN
    DELETE FROM apps_fts WHERE rowid = OLD.rowid;
    INSERT INTO apps_fts (rowid, app_id, name, short_description, tags, description)
    VALUES (NEW.rowid, NEW.app_id, NEW.name, coalesce(NEW.short_description, ''),
            coalesce(NEW.category, '') || ' ' || NEW.developer_name,
            coalesce(NEW.description, ''));
END;
CREATE TRIGGER apps_fts_delete AFTER DELETE ON apps BEGIN
    DELETE FROM apps_fts WHERE rowid = OLD.rowid;
END;

-- Existing apps (registered before this migration) enter the index.
INSERT INTO apps_fts (rowid, app_id, name, short_description, tags, description)
SELECT rowid, app_id, name, coalesce(short_description, ''),
       coalesce(category, '') || ' ' || developer_name, coalesce(description, '')
  FROM apps;

-- The words of every app name, for typo tolerance (see PostgreSQL's 0013); candidates come
-- from a trigram index over the term padded like pg_trgm pads words ('  term ').
CREATE TABLE app_search_terms (
    term      TEXT    NOT NULL PRIMARY KEY CHECK (length(term) <= 255),
    app_count INTEGER NOT NULL CHECK (app_count > 0)
) STRICT;
CREATE VIRTUAL TABLE app_search_terms_trigram USING fts5(padded, tokenize = 'trigram');
CREATE TRIGGER app_search_terms_insert AFTER INSERT ON app_search_terms BEGIN
    INSERT INTO app_search_terms_trigram (rowid, padded) VALUES (NEW.rowid, '  ' || NEW.term || ' ');
END;
CREATE TRIGGER app_search_terms_delete AFTER DELETE ON app_search_terms BEGIN
    DELETE FROM app_search_terms_trigram WHERE rowid = OLD.rowid;
END;

ALTER TABLE app_versions ADD COLUMN object_key TEXT CHECK (length(object_key) <= 500);
ALTER TABLE app_versions ADD COLUMN submitted_at TEXT;

CREATE TABLE store_audit_log (
    id         BLOB NOT NULL PRIMARY KEY CHECK (length(id) = 16),
    actor_id   BLOB CHECK (actor_id IS NULL OR length(actor_id) = 16),
    app_id     TEXT CHECK (length(app_id) <= 255),
    action     TEXT NOT NULL CHECK (length(action) <= 50),
    detail     TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(detail)),
    created_at TEXT NOT NULL
) STRICT;
CREATE INDEX idx_store_audit_log_app ON store_audit_log (app_id, created_at);
CREATE TRIGGER store_audit_log_no_update BEFORE UPDATE ON store_audit_log
FOR EACH ROW
BEGIN
    SELECT RAISE(ABORT, 'store_audit_log is append-only');
END;
CREATE TRIGGER store_audit_log_no_delete BEFORE DELETE ON store_audit_log
FOR EACH ROW
BEGIN
    SELECT RAISE(ABORT, 'store_audit_log is append-only');
END;

CREATE TABLE app_review_votes (
    review_id  BLOB NOT NULL CHECK (length(review_id) = 16)
               REFERENCES app_reviews (review_id) ON DELETE CASCADE,
    user_id    BLOB NOT NULL CHECK (length(user_id) = 16) REFERENCES users (id) ON DELETE CASCADE,
    created_at TEXT NOT NULL,
    PRIMARY KEY (review_id, user_id)
) STRICT;

CREATE INDEX idx_app_installations_user_live ON app_installations (user_id, installed_at)
    WHERE status = 'installed';

INSERT INTO schema_migrations (version, description)
VALUES ('0013', 'Store: registration, review, ranking inputs, search, packages, audit log');
