-- Statement trigger with transition tables: record in changed_days the (county, Beijing day of
-- the column named by the trigger's argument) of every row the statement wrote, before and
-- after, once each. A summary kept per county and period (case KPIs) recomputes those periods.
-- TRUNCATE leaves no rows to read: it marks every county ('*').
CREATE OR REPLACE FUNCTION gridgov_mark_changes() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    touched text := format(
        'SELECT county_code, (%1$I AT TIME ZONE ''Asia/Shanghai'')::date AS day FROM %%s '
        'WHERE %1$I IS NOT NULL', TG_ARGV[0]);
    rows_of text;
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        INSERT INTO changed_days (table_name, county_code, day)
        VALUES (TG_TABLE_NAME, '*', '-infinity') ON CONFLICT DO NOTHING;
        RETURN NULL;
    END IF;
    rows_of := CASE TG_OP
        WHEN 'INSERT' THEN format(touched, 'new_rows')
        WHEN 'DELETE' THEN format(touched, 'old_rows')
        ELSE format(touched, 'new_rows') || ' UNION ' || format(touched, 'old_rows') END;
    EXECUTE format('INSERT INTO changed_days (table_name, county_code, day) '
                   'SELECT DISTINCT %L, county_code, day FROM (%s) t ON CONFLICT DO NOTHING',
                   TG_TABLE_NAME, rows_of);
    RETURN NULL;
END $$;
