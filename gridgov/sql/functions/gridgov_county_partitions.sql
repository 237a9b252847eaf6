-- A county's partition of every table partitioned by county (LIST on county_code), or of one
-- table: partitions are named TABLE__COUNTY, and made once (IF NOT EXISTS).
CREATE OR REPLACE FUNCTION gridgov_county_partitions(county text, only_table text DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    parent record;
BEGIN
    FOR parent IN
        SELECT c.relname
        FROM pg_partitioned_table p
        JOIN pg_class c ON c.oid = p.partrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = current_schema()
          AND pg_get_partkeydef(p.partrelid) = 'LIST (county_code)'
          AND (only_table IS NULL OR c.relname = only_table)
    LOOP
        EXECUTE format('CREATE TABLE IF NOT EXISTS %I PARTITION OF %I FOR VALUES IN (%L)',
                       parent.relname || '__' || county, parent.relname, county);
    END LOOP;
END $$;
