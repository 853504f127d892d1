-- Storage: the single-key read in one round trip on PostgreSQL (see docs/storage.md and
-- docs/benchmarks.md, "Storage").

-- The hottest read in one round trip: sets the row-level-security user for the statement's
-- own (implicit) transaction, then reads the live entry under that policy. SECURITY INVOKER
-- (the default): the caller's privileges and policies apply. set_config(..., true) ends with
-- the transaction, so nothing is left on the pooled connection.
CREATE FUNCTION tmcp_storage_get(p_user uuid, p_app varchar, p_key varchar, p_now timestamptz)
    RETURNS TABLE (
        key varchar, value bytea, value_encoding varchar, content_type varchar,
        version integer, size integer, checksum varchar, metadata jsonb,
        created_at timestamptz, updated_at timestamptz, expires_at timestamptz,
        client_timestamp timestamptz, change_seq bigint)
    LANGUAGE plpgsql VOLATILE
AS $fn$
BEGIN
    PERFORM set_config('tmcp.user_id', p_user::text, true);
    RETURN QUERY
        SELECT e.key, e.value, e.value_encoding, e.content_type, e.version, e.size,
               e.checksum, e.metadata, e.created_at, e.updated_at, e.expires_at,
               e.client_timestamp, e.change_seq
          FROM storage_entries e
         WHERE e.user_id = p_user AND e.app_id = p_app AND e.key = p_key
           AND (e.expires_at IS NULL OR e.expires_at > p_now);
END
$fn$;
GRANT EXECUTE ON FUNCTION tmcp_storage_get(uuid, varchar, varchar, timestamptz)
    TO tmcp_app, tmcp_system;

INSERT INTO schema_migrations (version, description)
VALUES ('0006', 'Storage: one-round-trip row-level-security read of one key');
