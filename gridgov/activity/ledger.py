"""The hours ledger (issue 10, item 2): verified hours from check-ins, kept apart from hours
added by hand, per member, organization or compound for a period.

- ``verified_hours``: check-ins that count (``valid``, or ``approved`` by a planner) and were
  checked out; an approved auto check-out counts with the hours the planner gave it;
- ``added_hours``: hours added by hand (``hours_added``: capped, with a reason and who added
  them); at the compound level, hand-added hours that name no compound are a row of their own
  (``compound_code`` empty);
- ``total_hours``: the two together; the columns stay apart so nobody mistakes one for the other;
- ``checkins``, ``verified_checkins``, ``flagged`` (waiting for a planner), ``rejected``, ``open``
  (not checked out), ``verified_days`` and ``members`` (distinct members).

Unlike coverage by visits (gridgov.analysis.coverage, which counts a visit only to a compound
the member's organization is assigned to), the ledger counts every verified check-in: hours of
service are hours of service wherever they were given.

Per-member rows are about people: the API gives them to planners and admins only, and no level
carries a position or a time (days, at most).

Example:
    >>> frame = ledger(engine, "2026-11", "org")
    >>> list(frame.columns)[:4]
    ['org_code', 'org_name', 'checkins', 'verified_checkins']
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
from sqlalchemy import Connection, Engine, text

from gridgov.analysis.coverage import visit_period
from gridgov.analysis.sqlfiles import connection
from gridgov.calendar import SHANGHAI

LEVELS = {
    "member": (["member_code", "org_code"], "LEFT JOIN party_orgs o ON o.code = u.org_code",
               ["o.name AS org_name"]),
    "org": (["org_code"], "LEFT JOIN party_orgs o ON o.code = u.org_code",
            ["o.name AS org_name"]),
    "compound": (["compound_code"], "LEFT JOIN compounds k ON k.code = u.compound_code",
                 ["k.name AS compound_name"]),
}
COUNTS = ("checkins", "verified_checkins", "flagged", "rejected", "open", "verified_days",
          "members")
LABELS_ZH = {"member_code": "党员编码", "org_code": "党组织编码", "org_name": "党组织",
             "compound_code": "小区编码", "compound_name": "小区", "checkins": "签到次数",
             "verified_checkins": "有效签到", "verified_hours": "有效时长（小时）",
             "added_hours": "补录时长（小时）", "total_hours": "合计时长（小时）",
             "flagged": "待审核", "rejected": "审核未通过", "open": "未签退",
             "verified_days": "有效天数", "members": "人数"}

_SQL = """
WITH c AS (
    SELECT member_code, org_code, compound_code, status, hours,
           checked_out_at IS NOT NULL AS closed,
           (checked_in_at AT TIME ZONE 'Asia/Shanghai')::date AS day
    FROM checkins
    WHERE checked_in_at >= :start AND checked_in_at < :end
      AND (:all_counties OR county_code = ANY(:counties))
      AND (CAST(:member AS text) IS NULL OR member_code = :member)
), u AS (
    SELECT member_code, org_code, compound_code, 1 AS checkin,
           (status IN ('valid', 'approved') AND closed)::int AS verified,
           CASE WHEN status IN ('valid', 'approved') AND closed THEN hours ELSE 0 END
               AS verified_hours,
           0::float8 AS added_hours, (status = 'flagged')::int AS flagged,
           (status = 'rejected')::int AS rejected, (NOT closed)::int AS open, day
    FROM c
    UNION ALL
    SELECT member_code, org_code, compound_code, 0, 0, 0, hours, 0, 0, 0, day
    FROM hours_added
    WHERE day >= :start_day AND day < :end_day
      AND (:all_counties OR county_code = ANY(:counties))
      AND (CAST(:member AS text) IS NULL OR member_code = :member)
)
SELECT {keys}, {names},
       sum(u.checkin)::int AS checkins, sum(u.verified)::int AS verified_checkins,
       round(sum(u.verified_hours)::numeric, 2)::float8 AS verified_hours,
       round(sum(u.added_hours)::numeric, 2)::float8 AS added_hours,
       round(sum(u.verified_hours + u.added_hours)::numeric, 2)::float8 AS total_hours,
       sum(u.flagged)::int AS flagged, sum(u.rejected)::int AS rejected,
       sum(u.open)::int AS open,
       (count(DISTINCT u.day) FILTER (WHERE u.verified = 1))::int AS verified_days,
       count(DISTINCT u.member_code)::int AS members
FROM u {join}
GROUP BY {keys}, {names_bare}
ORDER BY {keys}
"""


def ledger(bind: Engine | Connection, period: tuple[dt.date, dt.date] | str | None = None,
           level: str = "member", counties: list[str] | None = None,
           member_code: str | None = None) -> pd.DataFrame:
    """One row per member (with its organization), organization or compound for ``period``
    (a (start, end) pair of dates, end excluded, or "YYYY-MM"; default the last full month,
    Beijing time), verified and hand-added hours apart. ``member_code`` narrows it to one
    member."""
    if level not in LEVELS:
        raise ValueError(f"level must be one of {', '.join(LEVELS)}, not {level!r}")
    keys, join, names = LEVELS[level]
    start, end = visit_period(period)
    statement = _SQL.format(keys=", ".join(f"u.{k}" for k in keys), names=", ".join(names),
                            names_bare=", ".join(n.split(" AS ")[0] for n in names), join=join)
    params = {"start": dt.datetime.combine(start, dt.time(), SHANGHAI),
              "end": dt.datetime.combine(end, dt.time(), SHANGHAI), "start_day": start,
              "end_day": end, "all_counties": counties is None, "counties": counties or [],
              "member": member_code}
    with connection(bind) as conn:
        result = conn.execute(text(statement), params)
        frame = pd.DataFrame(result.all(), columns=list(result.keys()))
    frame.attrs["period"] = (start.isoformat(), end.isoformat())
    return frame
