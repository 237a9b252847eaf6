-- Row trigger of event logs: an event, once written, is history.
CREATE OR REPLACE FUNCTION gridgov_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: events are never changed or removed', TG_TABLE_NAME
        USING ERRCODE = 'restrict_violation';
END $$;
