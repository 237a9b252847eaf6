-- Statement trigger: a write statement notes, for its transaction, that the table changed; the
-- table's data version is bumped once, at commit (gridgov_apply_versions), so that "has
-- anything changed?" stays a one-row lookup (ETags, page caches, screen refresh).
-- Why not bump here: the bump locks the table's one row in data_versions until the transaction
-- ends, and every other writer of the table waits for that, from its first write to its commit;
-- fifty residents filing reports at once then queued one behind the other. Noted here and
-- bumped at commit, the row is locked only while the commit is written.
CREATE OR REPLACE FUNCTION gridgov_bump_version() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO data_version_pending (xact, table_name)
    VALUES (pg_current_xact_id()::text::bigint, TG_TABLE_NAME)
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END $$;
