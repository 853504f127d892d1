-- PostgreSQL-only change (plan cache mode of its storage read function); recorded here so
-- both engines list the same migration versions.
INSERT INTO schema_migrations (version, description)
VALUES ('0007', 'Storage: generic plan for the one-round-trip read');
