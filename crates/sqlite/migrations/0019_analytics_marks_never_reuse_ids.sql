-- 0019: dirty-bucket mark ids are never reused (AUTOINCREMENT), so a mark's id orders it
-- against a read snapshot (docs/analytics.md, "Rollups on SQLite").
--
-- The SQLite rollup reads a bucket on a reader snapshot, off the one writer, remembering the
-- highest mark id of the bucket it saw. It then writes the bucket's rollup only if a mark
-- with an id at or below that one is still there, and deletes exactly those marks. With a
-- plain rowid the highest id is handed out again once its row is deleted, so a mark that
-- arrived after the snapshot could carry an id the snapshot "saw" and be deleted unrolled.

CREATE TABLE analytics_dirty_buckets_next (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    app_id    TEXT    NOT NULL CHECK (length(app_id) <= 255),
    hour      INTEGER NOT NULL,
    marked_at TEXT    NOT NULL
) STRICT;
INSERT INTO analytics_dirty_buckets_next (id, app_id, hour, marked_at)
SELECT id, app_id, hour, marked_at FROM analytics_dirty_buckets;
DROP TABLE analytics_dirty_buckets;
ALTER TABLE analytics_dirty_buckets_next RENAME TO analytics_dirty_buckets;
CREATE INDEX idx_analytics_dirty_buckets_bucket ON analytics_dirty_buckets (app_id, hour);

INSERT INTO schema_migrations (version, description)
VALUES ('0019', 'Analytics: dirty-bucket mark ids never reused (AUTOINCREMENT)');
