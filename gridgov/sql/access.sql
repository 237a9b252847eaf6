-- Distance from every compound and every village/community (from a point inside it: households
-- walk from there, not from the polygon's edge) to the nearest practice site of each tier. Candidates come from the GiST index (<-> in degrees), then the true distance is measured
-- on the spheroid: :candidates nearest by degree are enough because at these latitudes a degree of
-- longitude is ~0.8 of a degree of latitude, so the metric order can differ only among close peers.
WITH places AS (
    SELECT 'compound' AS kind, k.code, k.name, k.county_code, k.community_code AS division_code,
           k.households, ST_PointOnSurface(k.geom) AS geom
    FROM compounds k WHERE k.county_code = ANY(:counties) OR :all_counties
    UNION ALL
    SELECT 'division', d.code, coalesce(d.short_name, d.name), d.county_code, d.code, NULL,
           ST_PointOnSurface(d.geom)
    FROM divisions d
    WHERE d.geom IS NOT NULL AND (d.county_code = ANY(:counties) OR :all_counties)
), tiers(tier) AS (VALUES ('station'), ('institute'), ('center'))
SELECT p.kind, p.code, p.name, p.county_code, p.division_code, p.households, tiers.tier,
       nearest.code AS site_code, nearest.name AS site_name, nearest.distance_m,
       p.geom
FROM places p
CROSS JOIN tiers
LEFT JOIN LATERAL (
    SELECT c.code, c.name, ST_Distance(c.geom::geography, p.geom::geography) AS distance_m
    FROM (
        SELECT s.code, s.name, s.geom FROM practice_sites s
        WHERE s.tier = tiers.tier
        ORDER BY s.geom <-> p.geom
        LIMIT :candidates
    ) c
    ORDER BY distance_m, c.code
    LIMIT 1
) nearest ON true
ORDER BY p.kind, p.code, tiers.tier
