-- The month partitions (TABLE__COUNTY__YYYY_MM) of a county's partition, from the month of
-- first_month to the month of last_month, made once. Months are Beijing-time months, whatever
-- the session's time zone. Rows of those months already in the DEFAULT partition are moved
-- into their month.
CREATE OR REPLACE FUNCTION gridgov_month_partitions(tbl text, county text, first_month date,
                                                    last_month date)
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    m date := date_trunc('month', first_month)::date;
    county_part text := tbl || '__' || county;
    part text;
    col text;
    lo timestamptz;
    hi timestamptz;
BEGIN
    col := substring(obj_description(to_regclass(tbl), 'pg_class') FROM '^gridgov:months\((\w+)\)');
    IF col IS NULL THEN
        RAISE EXCEPTION '% is not partitioned by month', tbl;
    END IF;
    PERFORM gridgov_county_partitions(county, tbl);
    WHILE m <= last_month LOOP
        part := county_part || '__' || to_char(m, 'YYYY_MM');
        lo := m::timestamp AT TIME ZONE 'Asia/Shanghai';
        hi := (m + interval '1 month')::timestamp AT TIME ZONE 'Asia/Shanghai';
        IF to_regclass(part) IS NULL THEN
            -- rows of this month that fell into DEFAULT first: take them out, then back in
            EXECUTE format('CREATE TEMP TABLE gridgov_moving ON COMMIT DROP AS '
                           'WITH gone AS (DELETE FROM %I WHERE %I >= %L AND %I < %L RETURNING *) '
                           'SELECT * FROM gone',
                           county_part || '__default', col, lo, col, hi);
            EXECUTE format('CREATE TABLE %I PARTITION OF %I FOR VALUES FROM (%L) TO (%L)',
                           part, county_part, lo, hi);
            EXECUTE format('INSERT INTO %I SELECT * FROM gridgov_moving', tbl);
            DROP TABLE gridgov_moving;
        END IF;
        m := (m + interval '1 month')::date;
    END LOOP;
END $$;
