-- 0018: the raw event tables' "timestamp" indexes, dropped on SQLite so that ingestion
-- maintains 4 indexes per usage event instead of 5 (docs/analytics.md, "Ingestion cost").
--
-- Their one user was the retention delete. It now walks the apps and, for each, the
-- `(app_id, "timestamp")` index of 0014 from the app's oldest row up to the cutoff: the same
-- rows, found through an index every ingested row already maintains. No other statement
-- filters these tables on time without an app. PostgreSQL keeps its indexes: retention
-- there drops whole monthly partitions and never reads them.

DROP INDEX idx_app_usage_analytics_timestamp;
DROP INDEX idx_app_lifecycle_events_timestamp;

INSERT INTO schema_migrations (version, description)
VALUES ('0018', 'Analytics: retention walks (app_id, timestamp); drop the raw tables'' timestamp indexes');
