-- Store search: prefix indexes for every prefix length from 2 to 8 characters (0015 had 2
-- and 3). The last word of a query is always matched as a prefix, and FTS5 answers a prefix
-- without an index of its length by merging the whole document lists of every term that
-- starts with it before it can hand out the first match: "mini"* over 100,000 apps whose
-- descriptions all say "mini-app" cost 12 ms a MATCH, and a search runs several. With an index
-- of the prefix's length it is one term lookup read lazily in rowid (popularity) order,
-- 0.3 ms. Longer prefixes name few terms, so their merge stays small. The table is rebuilt
-- (FTS5 cannot add prefix indexes in place) and merged into one segment at the end.

DROP TRIGGER apps_fts_insert;
DROP TRIGGER apps_fts_update;
DROP TRIGGER apps_fts_delete;
DROP TABLE apps_fts;

CREATE VIRTUAL TABLE apps_fts USING fts5(
    app_id UNINDEXED, name, short_description, tags, description,
    tokenize = 'unicode61 remove_diacritics 2', prefix = '2 3 4 5 6 7 8');

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

INSERT INTO apps_fts (apps_fts) VALUES ('optimize');

INSERT INTO schema_migrations (version, description)
VALUES ('0017', 'Store search: FTS5 prefix indexes for 2 to 8 characters');
