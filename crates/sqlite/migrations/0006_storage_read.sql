-- Storage: the PostgreSQL migration 0006 adds tmcp_storage_get(), a one-round-trip read under
-- row-level security. SQLite has neither row-level security nor functions in SQL; the
-- migration exists so both engines record the same versions.

INSERT INTO schema_migrations (version, description)
VALUES ('0006', 'Storage: one-round-trip row-level-security read of one key');
