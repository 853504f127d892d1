-- The single-key storage read (0006) runs a parameterised query on the hash-partitioned
-- storage_entries. With PostgreSQL's default plan cache mode every call got a custom plan,
-- and planning over the partitions cost far more than the read itself (pgbench here: 17k
-- calls/s against 54k with a generic plan). A generic plan still prunes to one partition
-- at run time, so the result is the same; only the planning is saved.
ALTER FUNCTION tmcp_storage_get(uuid, varchar, varchar, timestamptz)
    SET plan_cache_mode = force_generic_plan;

INSERT INTO schema_migrations (version, description)
VALUES ('0007', 'Storage: generic plan for the one-round-trip read');
