-- gridgov_links(as_of, counties): the active organization <-> compound links, with the members
-- each link carries and the office distance. The one definition of "who covers what with how
-- many members" that coverage, org load, gaps and the recommender build on; QGIS users can call
-- it too: SELECT * FROM gridgov_links(current_date).
-- Members: an assignment's explicit `members`, else an even share of the members the
-- organization has not committed explicitly elsewhere. Distances are on the spheroid.
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
    ), org AS (
        SELECT act.org_code, o.member_count, o.geom,
               coalesce(sum(act.members), 0) AS committed,
               count(*) FILTER (WHERE act.members IS NULL) AS n_implicit
        FROM active act JOIN party_orgs o ON o.code = act.org_code
        GROUP BY act.org_code, o.member_count, o.geom
    )
    SELECT act.org_code, act.compound_code, act.county_code,
           coalesce(act.members::float8,
                    greatest(org.member_count - org.committed, 0)::float8
                    / nullif(org.n_implicit, 0)) AS members,
           ST_Distance(org.geom::geography, k.geom::geography) AS office_m
    FROM active act
    JOIN org ON org.org_code = act.org_code
    JOIN compounds k ON k.code = act.compound_code
$$;
