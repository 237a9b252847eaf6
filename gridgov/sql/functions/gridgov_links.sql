-- gridgov_links(as_of, counties): the active organization <-> compound links, with the members
-- each link carries and the office distance. The one definition of "who covers what with how
-- many members" that coverage, org load, gaps and the recommender build on; QGIS users can call
-- it too: SELECT * FROM gridgov_links(current_date).
-- Members: an assignment's explicit `members`, else an even share of the members the
-- organization has not committed explicitly elsewhere. Distances are on the spheroid, from the
-- office to the nearest point of the compound's outline. That point is found in degrees with
-- the longitude scaled by the cosine of the office's latitude (over a county's few kilometres
-- that frame keeps angles to 1e-4, so the point is the same to the millimetre), and only the
-- distance to it is geodesic: a quarter of the time of the geodesic distance to the outline,
-- which dominated coverage of a province (16,600 links, 250 ms).
CREATE OR REPLACE FUNCTION gridgov_links(as_of date, counties text[] DEFAULT NULL)
RETURNS TABLE (org_code text, compound_code text, county_code text, members float8,
               office_m float8)
LANGUAGE sql STABLE PARALLEL SAFE ROWS 20000 AS $$
    -- counties: only organizations active in them (NULL: all). Their links elsewhere are still
    -- read, because an organization's members are shared among all its compounds.
    WITH relevant AS (
        SELECT DISTINCT a.org_code FROM assignments a
        WHERE a.valid_from <= as_of AND (a.valid_to IS NULL OR a.valid_to > as_of)
          AND (counties IS NULL OR a.county_code = ANY(counties))
    ), active AS (
        SELECT a.org_code, a.compound_code, a.county_code, sum(a.members) AS members
        FROM assignments a JOIN relevant r ON r.org_code = a.org_code
        WHERE a.valid_from <= as_of AND (a.valid_to IS NULL OR a.valid_to > as_of)
        GROUP BY a.org_code, a.compound_code, a.county_code
    ), org AS (  -- by code alone: grouping by the office's geometry too sorted geometries
        SELECT act.org_code, coalesce(sum(act.members), 0) AS committed,
               count(*) FILTER (WHERE act.members IS NULL) AS n_implicit
        FROM active act
        GROUP BY act.org_code
    )
    SELECT act.org_code, act.compound_code, act.county_code,
           coalesce(act.members::float8,
                    greatest(o.member_count - org.committed, 0)::float8
                    / nullif(org.n_implicit, 0)) AS members,
           ST_Distance(o.geom::geography, ST_Scale(ST_ClosestPoint(
               ST_Scale(k.geom, s.c, 1), ST_Scale(o.geom, s.c, 1)), 1 / s.c, 1)::geography)
               AS office_m
    FROM active act
    JOIN org ON org.org_code = act.org_code
    JOIN party_orgs o ON o.code = act.org_code
    JOIN compounds k ON k.code = act.compound_code
    CROSS JOIN LATERAL (SELECT cos(radians(ST_Y(o.geom))) AS c) s
$$;
