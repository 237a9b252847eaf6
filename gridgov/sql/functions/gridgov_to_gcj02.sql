-- A geometry translated by the GCJ-02 offset at its centre (< 0.5 m error across a compound).
CREATE OR REPLACE FUNCTION gridgov_to_gcj02(geom geometry) RETURNS geometry
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT ST_Translate(geom, o.dlon, o.dlat)
    FROM gridgov_gcj02_offset(ST_X(ST_Centroid(geom)), ST_Y(ST_Centroid(geom))) o
$$;
