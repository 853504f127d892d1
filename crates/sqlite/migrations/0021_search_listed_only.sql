-- Store search, cheaper per query (docs/store_search.md, "Broad queries"):
--
-- 1. `apps_fts` holds listed (`active`) apps only. A search only ever shows listed apps, and
--    with every app in the index each match had to be joined to `apps` to check its status:
--    counting 1,000 matches of "app" cost 2.5-4 ms that way and 0.1 ms from the index alone.
-- 2. `apps_name_fts` holds the names alone, under the same rowids (popularity key, migration
--    0015). "Does the name hold the words" was a column-filtered query on `apps_fts`, which
--    walks every document holding the words anywhere: for words that every description
--    holds ("mini app") that was 14-21 ms; over names only it is the few names that do.
-- 3. `apps_fts_terms` reads how many listed apps hold a word, so that bm25 can leave out the
--    words it gives no weight to (docs/store_search.md, "Ranking cost").
--
-- The triggers add an app's rows when it becomes listed, move them when its text or its
-- popularity step changes, and remove them when it stops being listed; a row exists exactly
-- while the app's status is 'active'.

DROP TRIGGER apps_fts_insert;
DROP TRIGGER apps_fts_update;
DROP TRIGGER apps_fts_delete;
DROP TABLE apps_fts;

CREATE VIRTUAL TABLE apps_fts USING fts5(
    app_id UNINDEXED, name, short_description, tags, description,
    tokenize = 'unicode61 remove_diacritics 2', prefix = '2 3 4 5 6 7 8');

CREATE VIRTUAL TABLE apps_name_fts USING fts5(
    name, tokenize = 'unicode61 remove_diacritics 2', prefix = '2 3 4 5 6 7 8');

-- How many listed apps hold each word (read per word, for ranking: a word that at least half
-- of them hold carries no weight in bm25).
CREATE VIRTUAL TABLE apps_fts_terms USING fts5vocab(apps_fts, 'row');

CREATE TRIGGER apps_fts_insert AFTER INSERT ON apps WHEN NEW.status = 'active' BEGIN
    INSERT INTO apps_fts (rowid, app_id, name, short_description, tags, description)
    VALUES (((2147483647 - max(0, min(2147483647, CAST(round(NEW.popularity * 10000) AS INTEGER)))) << 32)
                | NEW.rowid,
            NEW.app_id, NEW.name, coalesce(NEW.short_description, ''),
            coalesce(NEW.category, '') || ' ' || NEW.developer_name,
            coalesce(NEW.description, ''));
    INSERT INTO apps_name_fts (rowid, name)
    VALUES (((2147483647 - max(0, min(2147483647, CAST(round(NEW.popularity * 10000) AS INTEGER)))) << 32)
                | NEW.rowid,
            NEW.name);
END;

-- Fires only when the listing, the popularity step or the listed state really changed (the
-- ranking refresh sets popularity on many rows, most within the same step).
CREATE TRIGGER apps_fts_update AFTER UPDATE OF name, short_description, category,
    developer_name, description, popularity, status ON apps
WHEN (OLD.status = 'active' OR NEW.status = 'active') AND (
     OLD.status IS NOT NEW.status
  OR OLD.name IS NOT NEW.name
  OR OLD.short_description IS NOT NEW.short_description
  OR OLD.category IS NOT NEW.category
  OR OLD.developer_name IS NOT NEW.developer_name
  OR OLD.description IS NOT NEW.description
  OR CAST(round(OLD.popularity * 10000) AS INTEGER) IS NOT CAST(round(NEW.popularity * 10000) AS INTEGER))
BEGIN
    DELETE FROM apps_fts
     WHERE OLD.status = 'active'
       AND rowid = ((2147483647 - max(0, min(2147483647, CAST(round(OLD.popularity * 10000) AS INTEGER)))) << 32)
                   | OLD.rowid;
    DELETE FROM apps_name_fts
     WHERE OLD.status = 'active'
       AND rowid = ((2147483647 - max(0, min(2147483647, CAST(round(OLD.popularity * 10000) AS INTEGER)))) << 32)
                   | OLD.rowid;
    INSERT INTO apps_fts (rowid, app_id, name, short_description, tags, description)
    SELECT ((2147483647 - max(0, min(2147483647, CAST(round(NEW.popularity * 10000) AS INTEGER)))) << 32)
                | NEW.rowid,
           NEW.app_id, NEW.name, coalesce(NEW.short_description, ''),
           coalesce(NEW.category, '') || ' ' || NEW.developer_name,
           coalesce(NEW.description, '')
     WHERE NEW.status = 'active';
    INSERT INTO apps_name_fts (rowid, name)
    SELECT ((2147483647 - max(0, min(2147483647, CAST(round(NEW.popularity * 10000) AS INTEGER)))) << 32)
                | NEW.rowid,
           NEW.name
     WHERE NEW.status = 'active';
END;

CREATE TRIGGER apps_fts_delete AFTER DELETE ON apps WHEN OLD.status = 'active' BEGIN
    DELETE FROM apps_fts
     WHERE rowid = ((2147483647 - max(0, min(2147483647, CAST(round(OLD.popularity * 10000) AS INTEGER)))) << 32)
                   | OLD.rowid;
    DELETE FROM apps_name_fts
     WHERE rowid = ((2147483647 - max(0, min(2147483647, CAST(round(OLD.popularity * 10000) AS INTEGER)))) << 32)
                   | OLD.rowid;
END;

INSERT INTO apps_fts (rowid, app_id, name, short_description, tags, description)
SELECT ((2147483647 - max(0, min(2147483647, CAST(round(popularity * 10000) AS INTEGER)))) << 32) | rowid,
       app_id, name, coalesce(short_description, ''),
       coalesce(category, '') || ' ' || developer_name, coalesce(description, '')
  FROM apps WHERE status = 'active';

INSERT INTO apps_name_fts (rowid, name)
SELECT ((2147483647 - max(0, min(2147483647, CAST(round(popularity * 10000) AS INTEGER)))) << 32) | rowid,
       name
  FROM apps WHERE status = 'active';

INSERT INTO apps_fts (apps_fts) VALUES ('optimize');
INSERT INTO apps_name_fts (apps_name_fts) VALUES ('optimize');

INSERT INTO schema_migrations (version, description)
VALUES ('0021', 'Store search: the full-text index holds listed apps only; a names-only index');
