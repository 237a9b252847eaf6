-- Verified visits per compound in a period (start to end, end excluded): check-ins that count
-- (valid, or approved by a planner; checked out) by members of an organization assigned to that
-- compound on that day. Per compound: visits, days with a visit, members who visited, verified
-- hours, last visit.
--
-- A province's month is about a million check-ins, so months are read from the visits kept per
-- county and month (checkin_visits: per compound and organization, the days visited as bits and
-- the members who visited; gridgov.activity.checkins.keep_visits): those of the counties and
-- whole months asked for (counties, whole_months), up to date, and with no assignment of the
-- county beginning or ending inside the month, so that an organization assigned on the month's
-- first day is assigned all month. The other (county, month) pairs (raw_pair_counties,
-- raw_months) are read from the check-ins themselves, in one or two spans of the period that
-- hold them (raw_lo1 to raw_hi1, raw_lo2 to raw_hi2), each against the assignments of its day;
-- their counties (raw_counties) come as a list of literals, so only those counties' partitions
-- of those months are planned (gridgov.analysis.coverage).
WITH raw_pairs AS (
    SELECT * FROM unnest(CAST(:raw_pair_counties AS text[]), CAST(:raw_months AS date[]))
        AS r(county_code, month)
), links AS MATERIALIZED (
    -- who is assigned to what on the first day of each whole month
    SELECT DISTINCT a.compound_code, a.org_code, m.month
    FROM assignments a JOIN unnest(CAST(:whole_months AS date[])) AS m(month)
      ON a.valid_from <= m.month AND (a.valid_to IS NULL OR a.valid_to > m.month)
    WHERE a.county_code = ANY(CAST(:counties AS text[]))
), kept AS (
    SELECT v.compound_code, v.month, v.days, v.visits, v.hours, v.last_at, v.members,
           v.compound_orgs, v.compound_members
    FROM checkin_visits v
    JOIN links l ON l.compound_code = v.compound_code AND l.org_code = v.org_code
     AND l.month = v.month
    WHERE v.month = ANY(CAST(:whole_months AS date[]))
      AND v.county_code = ANY(CAST(:counties AS text[]))
      AND NOT EXISTS (SELECT FROM raw_pairs r
                      WHERE r.county_code = v.county_code AND r.month = v.month)
), checked AS (
    -- the rule of gridgov.activity.checkins._KEEP, with the assignments of the check-in's day
    SELECT c.county_code,
           date_trunc('month', c.checked_in_at AT TIME ZONE 'Asia/Shanghai')::date AS month,
           c.compound_code,
           bit_or(1 << (extract(day FROM c.checked_in_at AT TIME ZONE 'Asia/Shanghai')::int - 1))
             AS days,
           count(*) AS visits, sum(c.hours) AS hours, max(c.checked_in_at) AS last_at,
           array_agg(DISTINCT c.member_code ORDER BY c.member_code) AS members
    FROM checkins c
    WHERE c.county_code = ANY(CAST(:raw_counties AS text[]))
      AND (c.checked_in_at >= :raw_lo1 AND c.checked_in_at < :raw_hi1
           OR c.checked_in_at >= :raw_lo2 AND c.checked_in_at < :raw_hi2)
      AND c.status IN ('valid', 'approved') AND c.checked_out_at IS NOT NULL
      AND EXISTS (SELECT FROM assignments a
                  WHERE a.compound_code = c.compound_code AND a.org_code = c.org_code
                    AND a.valid_from <= (c.checked_in_at AT TIME ZONE 'Asia/Shanghai')::date
                    AND (a.valid_to IS NULL
                         OR a.valid_to > (c.checked_in_at AT TIME ZONE 'Asia/Shanghai')::date))
    GROUP BY 1, 2, 3
), visited AS (
    SELECT * FROM kept
    UNION ALL
    SELECT c.compound_code, c.month, c.days, c.visits, c.hours, c.last_at, c.members,
           1, cardinality(c.members)
    FROM checked c
    JOIN raw_pairs r ON r.county_code = c.county_code AND r.month = c.month
), per_month AS (
    SELECT compound_code, month, bit_or(days) AS days, sum(visits) AS visits, sum(hours) AS hours,
           max(last_at) AS last_at,
           -- every organization's visits count: the compound's members, counted when kept
           CASE WHEN count(*) = max(compound_orgs) THEN max(compound_members) END AS members
    FROM visited GROUP BY compound_code, month
), per_compound AS (
    SELECT compound_code, sum(visits) AS visits, sum(bit_count(days::bit(32))) AS visit_days,
           sum(hours) AS hours, max(last_at) AS last_at,
           CASE WHEN count(*) = 1 THEN max(members) END AS members
    FROM per_month GROUP BY compound_code
), several AS (
    -- members of some organizations only, or of several months: each counted once
    SELECT v.compound_code, count(DISTINCT m) AS members
    FROM visited v CROSS JOIN LATERAL unnest(v.members) AS m
    WHERE v.compound_code IN (SELECT compound_code FROM per_compound WHERE members IS NULL)
    GROUP BY v.compound_code
)
SELECT p.compound_code AS code,
       p.visits::int AS visits,
       p.visit_days::int AS visit_days,
       coalesce(p.members, s.members)::int AS visiting_members,
       p.hours::float8 AS verified_hours,
       p.last_at AS last_visit
FROM per_compound p LEFT JOIN several s USING (compound_code)
