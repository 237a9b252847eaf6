-- The GCJ-02 offset (Amap, Tencent) at a WGS84 point; the formula of gridgov/io/crs.py.
CREATE OR REPLACE FUNCTION gridgov_gcj02_offset(lon float8, lat float8,
                                                OUT dlon float8, OUT dlat float8)
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    WITH v AS (SELECT lon - 105.0 AS x, lat - 35.0 AS y, radians(lat) AS radlat),
    t AS (
        SELECT x, y, radlat,
            -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * sqrt(abs(x))
            + (20.0 * sin(6.0 * x * pi()) + 20.0 * sin(2.0 * x * pi())) * 2.0 / 3.0
            + (20.0 * sin(y * pi()) + 40.0 * sin(y / 3.0 * pi())) * 2.0 / 3.0
            + (160.0 * sin(y / 12.0 * pi()) + 320 * sin(y * pi() / 30.0)) * 2.0 / 3.0 AS tlat,
            300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * sqrt(abs(x))
            + (20.0 * sin(6.0 * x * pi()) + 20.0 * sin(2.0 * x * pi())) * 2.0 / 3.0
            + (20.0 * sin(x * pi()) + 40.0 * sin(x / 3.0 * pi())) * 2.0 / 3.0
            + (150.0 * sin(x / 12.0 * pi()) + 300.0 * sin(x / 30.0 * pi())) * 2.0 / 3.0 AS tlon
        FROM v
    ), m AS (SELECT *, 1 - 0.00669342162296594323 * sin(radlat) ^ 2 AS magic FROM t)
    SELECT (tlon * 180.0) / (6378245.0 / sqrt(magic) * cos(radlat) * pi()),
           (tlat * 180.0) / ((6378245.0 * (1 - 0.00669342162296594323)) / (magic * sqrt(magic)) * pi())
    FROM m
$$;
