-- A county's partition of every table partitioned by county (LIST on county_code), or of one
-- table: partitions are named TABLE__COUNTY, and made once (IF NOT EXISTS). A table whose
-- comment says 'gridgov:months(COLUMN)' has its county partition split by month of COLUMN:
-- a DEFAULT partition catches any month not made yet (gridgov_month_partitions makes them).
CREATE OR REPLACE FUNCTION gridgov_county_partitions(county text, only_table text DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    parent record;
    months text;
BEGIN
    FOR parent IN
        SELECT c.relname, obj_description(c.oid, 'pg_class') AS note
        FROM pg_partitioned_table p
        JOIN pg_class c ON c.oid = p.partrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = current_schema()
          AND pg_get_partkeydef(p.partrelid) = 'LIST (county_code)'
          AND (only_table IS NULL OR c.relname = only_table)
    LOOP
        months := substring(parent.note FROM '^gridgov:months\((\w+)\)');
        IF months IS NULL THEN
            EXECUTE format('CREATE TABLE IF NOT EXISTS %I PARTITION OF %I FOR VALUES IN (%L)',
                           parent.relname || '__' || county, parent.relname, county);
        ELSE
            EXECUTE format('CREATE TABLE IF NOT EXISTS %I PARTITION OF %I FOR VALUES IN (%L) '
                           'PARTITION BY RANGE (%I)',
                           parent.relname || '__' || county, parent.relname, county, months);
            EXECUTE format('CREATE TABLE IF NOT EXISTS %I PARTITION OF %I DEFAULT',
                           parent.relname || '__' || county || '__default',
                           parent.relname || '__' || county);
        END IF;
    END LOOP;
END $$;
