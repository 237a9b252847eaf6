-- Row trigger: every written row of an audited table goes to audit_log (who, when, before,
-- after). The actor is the transaction's gridgov.actor setting, else the database role.
-- TG_ARGV[0] names the column that identifies a record.
CREATE OR REPLACE FUNCTION gridgov_audit() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    old_row jsonb := CASE WHEN TG_OP IN ('UPDATE', 'DELETE') THEN to_jsonb(OLD) END;
    new_row jsonb := CASE WHEN TG_OP IN ('INSERT', 'UPDATE') THEN to_jsonb(NEW) END;
    row_key text;
BEGIN
    -- secrets never reach the log
    old_row := old_row - 'password_hash' - 'api_key_hash';
    new_row := new_row - 'password_hash' - 'api_key_hash';
    -- geometry as WKT text is what a person can read; jsonb would hold hex EWKB. A row without
    -- geometry keeps a JSON null: jsonb_set with an SQL NULL would make the whole row NULL.
    IF old_row ? 'geom' THEN
        old_row := jsonb_set(old_row, '{geom}', coalesce(to_jsonb(ST_AsText(OLD.geom)), 'null'::jsonb));
    END IF;
    IF new_row ? 'geom' THEN
        new_row := jsonb_set(new_row, '{geom}', coalesce(to_jsonb(ST_AsText(NEW.geom)), 'null'::jsonb));
    END IF;
    row_key := coalesce(new_row, old_row) ->> TG_ARGV[0];
    INSERT INTO audit_log (actor, action, table_name, record_key, before, after)
    VALUES (coalesce(nullif(current_setting('gridgov.actor', true), ''), session_user),
            TG_OP, TG_TABLE_NAME, row_key, old_row, new_row);
    RETURN NULL;
END $$;
