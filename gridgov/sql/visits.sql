-- Verified visits per compound in [:start, :end): check-ins that count (valid, or approved by a
-- planner; checked out) by members of an organization assigned to that compound on that day.
WITH v AS (
    SELECT c.compound_code, c.member_code, c.checked_in_at, c.hours,
           (c.checked_in_at AT TIME ZONE 'Asia/Shanghai')::date AS day
    FROM checkins c
    JOIN assignments a
      ON a.compound_code = c.compound_code AND a.org_code = c.org_code
     AND a.valid_from <= (c.checked_in_at AT TIME ZONE 'Asia/Shanghai')::date
     AND (a.valid_to IS NULL OR a.valid_to > (c.checked_in_at AT TIME ZONE 'Asia/Shanghai')::date)
    WHERE (:all_counties OR c.county_code = ANY(:counties))
      AND c.checked_in_at >= :start AND c.checked_in_at < :end
      AND c.status IN ('valid', 'approved') AND c.checked_out_at IS NOT NULL
)
SELECT compound_code AS code,
       count(*)::int AS visits,
       count(DISTINCT day)::int AS visit_days,
       count(DISTINCT member_code)::int AS visiting_members,
       sum(hours)::float8 AS verified_hours,
       max(checked_in_at) AS last_visit
FROM v
GROUP BY compound_code
