-- Row trigger on counties: a county arrives with its partitions.
CREATE OR REPLACE FUNCTION gridgov_county_partitions_trigger() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM gridgov_county_partitions(NEW.code);
    RETURN NULL;
END $$;
