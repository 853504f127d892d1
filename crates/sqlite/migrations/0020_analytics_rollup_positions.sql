-- 0020: the SQLite rollup reads the raw rows committed since its last pass instead of
-- recomputing every dirty hour from all of its rows (docs/analytics.md, "Rollups on SQLite").
--
-- One writer commits every transaction, and a new row's rowid is one more than the largest
-- in its table (retention never deletes the largest, see system.rs), so rowids grow in
-- commit order: "the rows after rowid N" is exactly what was committed since the pass that
-- stopped at N. `position` is that N per raw table: every rollup row reflects exactly the
-- raw rows up to it.
--
-- An existing database starts at its current largest rowids. Marks already waiting then
-- stand for rows at or below those positions, which no pass has rolled up yet; their ids
-- are at or below `legacy_marks`, and the rollup recomputes their buckets (reading rows up
-- to the positions only) before it moves any position. Later marks only say since when
-- rows wait (the lag metric); a pass that reaches the newest rows deletes them.
CREATE TABLE analytics_rollup_positions (
    source   TEXT    PRIMARY KEY
             CHECK (source IN ('lifecycle', 'usage', 'metrics', 'legacy_marks')),
    position INTEGER NOT NULL CHECK (position >= 0)
) STRICT, WITHOUT ROWID;

INSERT INTO analytics_rollup_positions (source, position)
SELECT 'lifecycle', coalesce(max(rowid), 0) FROM app_lifecycle_events
UNION ALL SELECT 'usage', coalesce(max(rowid), 0) FROM app_usage_analytics
UNION ALL SELECT 'metrics', coalesce(max(rowid), 0) FROM app_performance_metrics
UNION ALL SELECT 'legacy_marks', coalesce(max(id), 0) FROM analytics_dirty_buckets;

INSERT INTO schema_migrations (version, description)
VALUES ('0020', 'Analytics: the SQLite rollup reads rows committed since its last pass');
