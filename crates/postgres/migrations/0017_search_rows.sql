-- Store search reads a narrow copy of each listed app (docs/store_search.md, "Broad
-- queries"). A search checks its words against many rows' documents before it has the page
-- and the count: an `apps` row is wide (descriptions, metadata, a row version left behind by
-- each ranking refresh), about 2 KB of heap per app, so those checks were mostly page reads.
-- `app_search_rows` holds only what matching and ordering read — the listed apps' filters,
-- popularity, lower-cased name and full-text document — at about a quarter of the size, and
-- only listed apps, so the status test disappears too. A trigger keeps it in step with
-- `apps` in the same transaction; the listing columns still come from `apps`, for the page.
CREATE TABLE app_search_rows (
    app_id          VARCHAR(255)     PRIMARY KEY REFERENCES apps(app_id) ON DELETE CASCADE,
    category        VARCHAR(100),
    classification  VARCHAR(50)      NOT NULL,
    popularity      DOUBLE PRECISION NOT NULL,
    name_lower      TEXT             NOT NULL,
    search_document tsvector         NOT NULL
);
CREATE INDEX idx_app_search_rows_document ON app_search_rows USING GIN (search_document);
CREATE INDEX idx_app_search_rows_popularity ON app_search_rows (popularity DESC, app_id);
CREATE INDEX idx_app_search_rows_name ON app_search_rows (name_lower);

-- Listed (active) apps have a row, others none. An UPDATE that changes nothing the copy
-- holds (an install counter, a timestamp) writes nothing.
CREATE FUNCTION app_search_rows_sync() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.status = 'active' THEN
        INSERT INTO app_search_rows AS r
               (app_id, category, classification, popularity, name_lower, search_document)
        VALUES (NEW.app_id, NEW.category, NEW.classification, NEW.popularity, lower(NEW.name),
                NEW.search_document)
        ON CONFLICT (app_id) DO UPDATE
           SET category = EXCLUDED.category, classification = EXCLUDED.classification,
               popularity = EXCLUDED.popularity, name_lower = EXCLUDED.name_lower,
               search_document = EXCLUDED.search_document
         WHERE (r.category, r.classification, r.popularity, r.name_lower, r.search_document)
               IS DISTINCT FROM (EXCLUDED.category, EXCLUDED.classification,
                                 EXCLUDED.popularity, EXCLUDED.name_lower,
                                 EXCLUDED.search_document);
    ELSIF TG_OP = 'UPDATE' AND OLD.status = 'active' THEN
        DELETE FROM app_search_rows WHERE app_id = NEW.app_id;
    END IF;
    RETURN NULL;
END
$$;

-- AFTER, so the generated search_document is computed. Deleted apps go by the foreign key.
CREATE TRIGGER trg_apps_search_rows
    AFTER INSERT OR UPDATE OF name, short_description, category, developer_name, description,
                              classification, status, popularity
    ON apps FOR EACH ROW EXECUTE FUNCTION app_search_rows_sync();

INSERT INTO app_search_rows (app_id, category, classification, popularity, name_lower,
                             search_document)
SELECT app_id, category, classification, popularity, lower(name), search_document
  FROM apps WHERE status = 'active';

GRANT SELECT, INSERT, UPDATE, DELETE ON app_search_rows TO tmcp_app, tmcp_system;

INSERT INTO schema_migrations (version, description)
VALUES ('0017', 'Store search: a narrow copy of listed apps for matching and ordering');
