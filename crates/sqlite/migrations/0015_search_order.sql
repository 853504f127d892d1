-- Store search in popularity order (docs/store_search.md, "Broad queries"). FTS5 hands out
-- matches in rowid order and can stop there early, so `apps_fts`'s rowid now sorts by
-- popularity: the high 32 bits are 2147483647 minus the popularity in 1/10,000 steps (the
-- precision the ranking refresh writes), the low 32 bits the app's own rowid. A search then
-- reads its most popular matches first and stops at the window instead of joining and
-- sorting every match. A prefix index over 2- and 3-character prefixes serves the
-- last word typed, which is always matched as a prefix.

DROP TRIGGER apps_fts_insert;
DROP TRIGGER apps_fts_update;
DROP TRIGGER apps_fts_delete;
DROP TABLE apps_fts;

CREATE VIRTUAL TABLE apps_fts USING fts5(
    app_id UNINDEXED, name, short_description, tags, description,
    tokenize = 'unicode61 remove_diacritics 2', prefix = '2 3');

CREATE TRIGGER apps_fts_insert AFTER INSERT ON apps BEGIN
    INSERT INTO apps_fts (rowid, app_id, name, short_description, tags, description)
    VALUES (((2147483647 - max(0, min(2147483647, CAST(round(NEW.popularity * 10000) AS INTEGER)))) << 32)
                | NEW.rowid,
            NEW.app_id, NEW.name, coalesce(NEW.short_description, ''),
            coalesce(NEW.category, '') || ' ' || NEW.developer_name,
            coalesce(NEW.description, ''));
END;

-- One trigger for text and popularity, so an UPDATE that sets both moves the row once; it
-- fires only when the document or the popularity step really changed (the ranking refresh
-- sets popularity on many rows).
CREATE TRIGGER apps_fts_update AFTER UPDATE OF name, short_description, category,
    developer_name, description, popularity ON apps
WHEN OLD.name IS NOT NEW.name
  OR OLD.short_description IS NOT NEW.short_description
  OR OLD.category IS NOT NEW.category
  OR OLD.developer_name IS NOT NEW.developer_name
  OR OLD.description IS NOT NEW.description
  OR CAST(round(OLD.popularity * 10000) AS INTEGER) IS NOT CAST(round(NEW.popularity * 10000) AS INTEGER)
BEGIN
    DELETE FROM apps_fts
     WHERE rowid = ((2147483647 - max(0, min(2147483647, CAST(round(OLD.popularity * 10000) AS INTEGER)))) << 32)
                   | OLD.rowid;
    INSERT INTO apps_fts (rowid, app_id, name, short_description, tags, description)
    VALUES (((2147483647 - max(0, min(2147483647, CAST(round(NEW.popularity * 10000) AS INTEGER)))) << 32)
                | NEW.rowid,
            NEW.app_id, NEW.name, coalesce(NEW.short_description, ''),
            coalesce(NEW.category, '') || ' ' || NEW.developer_name,
            coalesce(NEW.description, ''));
END;

CREATE TRIGGER apps_fts_delete AFTER DELETE ON apps BEGIN
    DELETE FROM apps_fts
     WHERE rowid = ((2147483647 - max(0, min(2147483647, CAST(round(OLD.popularity * 10000) AS INTEGER)))) << 32)
                   | OLD.rowid;
END;

INSERT INTO apps_fts (rowid, app_id, name, short_description, tags, description)
SELECT ((2147483647 - max(0, min(2147483647, CAST(round(popularity * 10000) AS INTEGER)))) << 32) | rowid,
       app_id, name, coalesce(short_description, ''),
       coalesce(category, '') || ' ' || developer_name, coalesce(description, '')
  FROM apps;
