-- 0016: two indexes per raw event table that no query needs, dropped so that ingestion
-- maintains 5 B-trees per usage event instead of 7 (docs/analytics.md, "Ingestion cost").
--
-- * `(app_id)` is a strict prefix of `(app_id, "timestamp")` (0014): every lookup by app,
--   including the foreign key's check of child rows when an app row is deleted, is served
--   by the longer index.
-- * `(event_type)` has 3 or 5 values and no query filters on it alone (the rollup groups
--   by it inside an app's hour, which `(app_id, "timestamp")` finds).
--
-- The user and timestamp indexes stay: the first serves the foreign key to `users`, the
-- second the retention delete.

DROP INDEX idx_app_usage_analytics_app_id;
DROP INDEX idx_app_usage_analytics_type;
DROP INDEX idx_app_lifecycle_events_app_id;
DROP INDEX idx_app_lifecycle_events_type;

INSERT INTO schema_migrations (version, description)
VALUES ('0016', 'Analytics: drop the raw tables'' app_id and event_type indexes');
