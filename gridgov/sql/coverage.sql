-- Coverage of every compound as of :as_of (links: see migration 0002, gridgov_links).
WITH links AS (
    SELECT l.*, o.name AS org_name
    FROM gridgov_links(:as_of, CASE WHEN :all_counties THEN NULL ELSE CAST(:counties AS text[]) END) l
    JOIN party_orgs o ON o.code = l.org_code
    WHERE l.county_code = ANY(:counties) OR :all_counties
), per_compound AS (
    SELECT k.code,
           count(l.org_code)::int AS orgs,
           coalesce(sum(l.members), 0)::float8 AS members,
           coalesce(array_agg(l.org_code ORDER BY l.org_code)
                    FILTER (WHERE l.org_code IS NOT NULL), '{}') AS org_codes,
           coalesce(string_agg(l.org_name || '（' || round(l.members::numeric, 1) || '人，'
                               || coalesce(round(l.office_m::numeric)::text || '米', '无驻地')
                               || '）', '；' ORDER BY l.org_code), '') AS orgs_zh,
           avg(l.office_m) AS mean_office_m,
           max(l.office_m) AS max_office_m
    FROM compounds k LEFT JOIN links l ON l.compound_code = k.code
    WHERE k.county_code = ANY(:counties) OR :all_counties
    GROUP BY k.code
)
SELECT k.code, k.name, k.community_code, d.name AS community_name, d.township_code,
       t.name AS township_name, k.county_code, cell.code AS grid_cell_code,
       k.households, k.population,
       p.orgs, p.members, p.org_codes, p.orgs_zh, p.mean_office_m, p.max_office_m,
       CASE WHEN p.members > 0 THEN k.households / p.members END AS households_per_member,
       -- members this compound needs to meet both thresholds
       greatest(CAST(:min_members AS float8), k.households / CAST(:max_households_per_member AS float8)) AS members_needed,
       CASE
         WHEN p.orgs = 0 THEN 'uncovered'
         WHEN p.members < CAST(:min_members AS float8) OR k.households > p.members * CAST(:max_households_per_member AS float8)
           THEN 'under_covered'
         ELSE 'covered'
       END AS status,
       coalesce(p.max_office_m > CAST(:far_m AS float8), false) AS far_assignment,
       p.orgs > :max_orgs AS fragmented,
       k.geom
FROM compounds k
JOIN per_compound p ON p.code = k.code
JOIN divisions d ON d.code = k.community_code
JOIN townships t ON t.code = d.township_code
LEFT JOIN (
    -- the grid cell of the community that holds the compound's inner point. By the few cells
    -- of each community, not the spatial index: the subquery (OFFSET 0) is read once and
    -- joined on the community, where a probe of the index per compound took four times as long
    SELECT DISTINCT ON (k.code) k.code AS compound_code, g.code
    FROM compounds k
    CROSS JOIN LATERAL (SELECT ST_PointOnSurface(k.geom) AS inner_point OFFSET 0) p
    JOIN (SELECT code, community_code, geom FROM grid_cells OFFSET 0) g
      ON g.community_code = k.community_code AND ST_Intersects(g.geom, p.inner_point)
    WHERE k.county_code = ANY(:counties) OR :all_counties
    ORDER BY k.code, g.code
) cell ON cell.compound_code = k.code
ORDER BY k.code
