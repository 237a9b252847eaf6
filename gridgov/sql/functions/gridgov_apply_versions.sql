-- Deferred constraint trigger on data_version_pending, fired at commit: bump the data version
-- of every table the transaction wrote, all at once and in the order of their names (two
-- transactions that wrote the same tables then lock their rows in one order: no deadlock), and
-- forget the notes. Later firings in the same commit find nothing left to do.
CREATE OR REPLACE FUNCTION gridgov_apply_versions() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    WITH noted AS (
        DELETE FROM data_version_pending WHERE xact = NEW.xact RETURNING table_name
    )
    INSERT INTO data_versions (table_name, version, changed_at)
    SELECT table_name, 1, now() FROM noted ORDER BY table_name
    ON CONFLICT (table_name)
    DO UPDATE SET version = data_versions.version + 1, changed_at = now();
    RETURN NULL;
END $$;
