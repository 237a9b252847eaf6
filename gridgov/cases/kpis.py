"""Case KPIs as city grid systems publish them, per unit, compound, community, township or county,
per week or month.

A case is *due* in the period its handling deadline falls in (once that deadline has passed);
rejected and duplicate cases are never due. Then:

- 按期结案率 on_time_rate = closed on time / due (handled by the deadline, and closed);
- 结案率 close_rate = closed / due;
- 返工率 rework_rate = reworked / closed;
- 及时派遣率 timely_dispatch_rate = dispatched by the dispatch deadline / dispatched;
- 准确派遣率 accurate_dispatch_rate = 1 - returned / dispatched;
- median and p90 hours from report to close.

Units with fewer than ``min_due_to_rank`` due cases are listed but not ranked (a unit with one
late case of one is not the worst in the county). Everything is one SQL aggregate over stored
deadlines, limited to the counties asked for, so a county's query reads one partition.

Example:
    >>> k = case_kpis(engine, level="county", period="month", counties=["141129"])
    >>> list(k.columns[:4])
    ['period', 'level', 'key', 'name']
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
from sqlalchemy import Engine, text

from gridgov.settings import CaseSettings

LEVELS = {"unit": "c.unit_code", "compound": "c.compound_code", "community": "c.division_code",
          "township": "c.township_code", "county": "c.county_code"}
PERIODS = ("week", "month")
LABELS_ZH = {"due": "应结案数", "closed": "结案数", "closed_on_time": "按期结案数",
             "on_time_rate": "按期结案率", "close_rate": "结案率", "rework_rate": "返工率",
             "timely_dispatch_rate": "及时派遣率", "accurate_dispatch_rate": "准确派遣率",
             "median_hours": "结案时长中位数(小时)", "p90_hours": "结案时长P90(小时)"}

_SQL = """
SELECT date_trunc(:period, c.handle_due AT TIME ZONE 'Asia/Shanghai')::date AS period,
       {key} AS key,
       count(*) AS due,
       count(*) FILTER (WHERE c.status = 'closed') AS closed,
       count(*) FILTER (WHERE c.status = 'closed' AND c.handled_at <= c.handle_due)
           AS closed_on_time,
       count(*) FILTER (WHERE c.status = 'closed' AND c.rework_count > 0) AS reworked,
       count(*) FILTER (WHERE c.dispatched_at IS NOT NULL) AS dispatched,
       count(*) FILTER (WHERE c.dispatched_at <= c.dispatch_due) AS dispatched_on_time,
       count(*) FILTER (WHERE c.dispatched_at IS NOT NULL AND c.return_count > 0) AS returned,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM c.closed_at - c.reported_at)
           / 3600) FILTER (WHERE c.closed_at IS NOT NULL) AS median_hours,
       percentile_cont(0.9) WITHIN GROUP (ORDER BY extract(epoch FROM c.closed_at - c.reported_at)
           / 3600) FILTER (WHERE c.closed_at IS NOT NULL) AS p90_hours
FROM cases c
WHERE {counties} c.handle_due >= :start AND c.handle_due < :end
  AND c.status NOT IN ('rejected', 'duplicate')
GROUP BY 1, 2
ORDER BY 1, 2
"""

_NAMES = """
SELECT code, name FROM party_orgs {where}
UNION ALL SELECT code, name FROM divisions {where}
UNION ALL SELECT code, name FROM townships {where}
UNION ALL SELECT code, name FROM compounds {where}
UNION ALL SELECT code, name FROM counties {where_county}
"""


def query(level: str, counties: list[str] | None) -> str:
    """The KPI statement; with ``counties`` its plan reads only their partitions."""
    where = "c.county_code = ANY(:counties) AND" if counties else ""
    return _SQL.format(key=LEVELS[level], counties=where)


def case_kpis(engine: Engine, *, level: str = "unit", period: str = "month",
              start: dt.date | None = None, end: dt.date | None = None,
              counties: list[str] | None = None,
              settings: CaseSettings | None = None) -> pd.DataFrame:
    """One row per period and unit (or place); rates as fractions, ranked within each period."""
    settings = settings or CaseSettings()
    if level not in LEVELS:
        raise ValueError(f"level must be one of {', '.join(LEVELS)}")
    if period not in PERIODS:
        raise ValueError("period must be week or month")
    today = dt.date.today()
    end = end or today + dt.timedelta(days=1)
    start = start or end - dt.timedelta(days=366)
    # a deadline still ahead is not due yet
    end_at = min(dt.datetime.combine(end, dt.time(), dt.timezone(dt.timedelta(hours=8))),
                 dt.datetime.now(dt.timezone.utc))
    params = {"period": period, "counties": counties,
              "start": dt.datetime.combine(start, dt.time(), dt.timezone(dt.timedelta(hours=8))),
              "end": end_at}
    with engine.connect() as conn:
        result = conn.execute(text(query(level, counties)), params)
        frame = pd.DataFrame(result.all(), columns=list(result.keys()))
        where = "WHERE county_code = ANY(:counties)" if counties else ""
        names = dict(conn.execute(text(_NAMES.format(
            where=where, where_county="WHERE code = ANY(:counties)" if counties else "")),
            {"counties": counties}).all())
    frame.insert(1, "level", level)
    frame.insert(3, "name", frame["key"].map(names))
    due = frame["due"].where(frame["due"] > 0)
    frame["on_time_rate"] = frame["closed_on_time"] / due
    frame["close_rate"] = frame["closed"] / due
    frame["rework_rate"] = frame["reworked"] / frame["closed"].where(frame["closed"] > 0)
    dispatched = frame["dispatched"].where(frame["dispatched"] > 0)
    frame["timely_dispatch_rate"] = frame["dispatched_on_time"] / dispatched
    frame["accurate_dispatch_rate"] = 1 - frame["returned"] / dispatched
    frame["ranked"] = frame["due"] >= settings.min_due_to_rank
    frame["rank"] = (frame[frame["ranked"]].groupby("period")["on_time_rate"]
                     .rank(ascending=False, method="min"))
    frame["note_zh"] = frame["ranked"].map(
        {True: "", False: f"应结案少于{settings.min_due_to_rank}件，列出不排名"})
    return frame
