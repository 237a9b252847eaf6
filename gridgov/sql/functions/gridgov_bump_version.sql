-- Statement trigger: one upsert per write statement bumps the table's data version, so "has
-- anything changed?" is a one-row lookup (ETags, page caches, screen refresh).
CREATE OR REPLACE FUNCTION gridgov_bump_version() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO data_versions (table_name, version, changed_at)
    VALUES (TG_TABLE_NAME, 1, now())
    ON CONFLICT (table_name)
    DO UPDATE SET version = data_versions.version + 1, changed_at = now();
    RETURN NULL;
END $$;
