-- Load of every organization as of :as_of. Households are shared among the organizations of a
-- compound in proportion to the members each brings, so each household is counted once.
WITH links AS (
    SELECT * FROM gridgov_links(:as_of)
), compound_members AS (
    SELECT compound_code, sum(members) AS members FROM links GROUP BY compound_code
), per_org AS (
    SELECT l.org_code,
           count(*)::int AS compounds,
           sum(k.households * l.members / nullif(cm.members, 0)) AS households,
           sum(l.members) AS members_committed,
           sum(l.office_m) AS total_office_m,
           avg(l.office_m) AS mean_office_m,
           max(l.office_m) AS max_office_m,
           array_agg(l.compound_code ORDER BY l.compound_code) AS compound_codes
    FROM links l
    JOIN compounds k ON k.code = l.compound_code
    JOIN compound_members cm ON cm.compound_code = l.compound_code
    GROUP BY l.org_code
)
SELECT o.code, o.name, o.parent_body, o.county_code, o.work_group_code, o.member_count,
       coalesce(p.compounds, 0) AS compounds,
       coalesce(p.households, 0)::float8 AS households,
       coalesce(p.members_committed, 0)::float8 AS members_committed,
       coalesce(p.households, 0) / nullif(o.member_count, 0)::float8 AS households_per_member,
       p.total_office_m, p.mean_office_m, p.max_office_m,
       coalesce(p.compound_codes, '{}') AS compound_codes,
       p.org_code IS NULL AS idle,
       o.geom
FROM party_orgs o
LEFT JOIN per_org p ON p.org_code = o.code
WHERE o.county_code = ANY(:counties) OR :all_counties
ORDER BY o.code
