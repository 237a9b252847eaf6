"""Case KPIs as city grid systems publish them, per unit, compound, community, township or county,
per week or month.

A case is *due* in the period its handling deadline falls in (once that deadline has passed);
rejected and duplicate cases are never due. Then:

- 按期结案率 on_time_rate = closed on time / due (handled by the deadline, and closed);
- 结案率 close_rate = closed / due;
- 返工率 rework_rate = reworked / closed;
- 及时派遣率 timely_dispatch_rate = dispatched by the dispatch deadline / dispatched;
- median and p90 hours from report to close;
- 准确派遣率 accurate_dispatch_rate = 1 - returned / dispatched.

Units with fewer than ``min_due_to_rank`` due cases are listed but not ranked (a unit with one
late case of one is not the worst in the county). Periods are whole weeks (from Monday) or
months, in Beijing time.

A province has millions of cases, and the KPIs of a past period change only when one of its
cases does. So they are kept: ``case_kpi_periods`` holds, per county and past period, the
counts and close times of every level, computed by the one aggregate below; the triggers of the
cases table mark the county and day of every case written (``changed_days``), and the next call
recomputes just those periods. The period still running is kept too, counted up to the time it
was computed; a county in which a case has fallen due since has it recomputed. Every county
query names its counties, so its plan reads their partitions only.

Example:
    >>> k = case_kpis(engine, level="county", period="month", counties=["141129"])
    >>> list(k.columns[:4])
    ['period', 'level', 'key', 'name']
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple

import pandas as pd
from sqlalchemy import Connection, Engine, text

from gridgov.calendar import SHANGHAI
from gridgov.settings import CaseSettings, current

LEVELS = {"unit": "c.unit_code", "compound": "c.compound_code", "community": "c.division_code",
          "township": "c.township_code", "county": None}
PERIODS = ("week", "month")
COUNTS = ("due", "closed", "closed_on_time", "reworked", "dispatched", "dispatched_on_time",
          "returned")
LABELS_ZH = {"due": "应结案数", "closed": "结案数", "closed_on_time": "按期结案数",
             "on_time_rate": "按期结案率", "close_rate": "结案率", "rework_rate": "返工率",
             "timely_dispatch_rate": "及时派遣率", "accurate_dispatch_rate": "准确派遣率",
             "median_hours": "结案时长中位数(小时)", "p90_hours": "结案时长P90(小时)"}
# one refresh at a time: marks consumed and periods stored in order (see refresh)
_LOCK = 0x6B706973  # 'kpis'
_CHUNK = 60  # (county, period) per transaction: a cold province stores its year in steps

# The one aggregate: the cases of each (county, period) in ``t``, due in [lo, hi), per level.
_SQL = """
SELECT t.county_code, t.period, {level} AS level, coalesce({key}, '') AS key,
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
FROM unnest(CAST(:counties AS text[]), CAST(:periods AS date[]), CAST(:starts AS timestamptz[]),
            CAST(:ends AS timestamptz[])) AS t(county_code, period, lo, hi)
-- each (county, period) by its own range of the deadline's index in its county's partition
-- (OFFSET 0 keeps the planner from flattening this into a scan of every county's year): a few
-- changed months are read, not the year
CROSS JOIN LATERAL (SELECT * FROM cases c WHERE {only} c.county_code = t.county_code
                    AND c.handle_due >= t.lo AND c.handle_due < t.hi OFFSET 0) c
WHERE c.status NOT IN ('rejected', 'duplicate')
GROUP BY t.county_code, t.period, GROUPING SETS ({sets})
"""

_NAMES = """
SELECT code, name FROM party_orgs {where}
UNION ALL SELECT code, name FROM divisions {where}
UNION ALL SELECT code, name FROM townships {where}
UNION ALL SELECT code, name FROM compounds {where}
UNION ALL SELECT code, name FROM counties {where_county}
"""


class Period(NamedTuple):
    start: dt.date  # the Monday or the first of the month
    lo: dt.datetime  # its first instant, Beijing time
    hi: dt.datetime  # the first instant of the next one


def query(levels: list[str] | str, counties: list[str] | None = None) -> str:
    """The KPI aggregate for ``levels``; with ``counties`` its plan reads only their
    partitions (``:only``, beside the unnest's ``:counties``)."""
    levels = [levels] if isinstance(levels, str) else levels
    columns = [LEVELS[name] for name in levels if LEVELS[name]]
    if len(levels) == 1:
        level = f"'{levels[0]}'"
        key = columns[0] if columns else "t.county_code"
    else:  # GROUPING(x) is 0 in the rows grouped by x (where x itself may be NULL)
        level = "CASE " + " ".join(f"WHEN GROUPING({LEVELS[n]}) = 0 THEN '{n}'"
                                   for n in levels if LEVELS[n]) + " ELSE 'county' END"
        key = "CASE " + " ".join(f"WHEN GROUPING({c}) = 0 THEN {c}" for c in columns) \
            + " ELSE t.county_code END"
    sets = ", ".join([f"({c})" for c in columns] + (["()"] if "county" in levels else []))
    only = "c.county_code = ANY(:only) AND" if counties else ""
    return _SQL.format(level=level, key=key, sets=sets, only=only)


def periods(kind: str, start: dt.date, end: dt.date) -> list[Period]:
    """The whole weeks or months that overlap [start, end)."""
    first = start - dt.timedelta(days=start.weekday()) if kind == "week" else start.replace(day=1)
    out = []
    while first < end:
        after = first + dt.timedelta(days=7) if kind == "week" else \
            (first.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
        out.append(Period(first, _at(first), _at(after)))
        first = after
    return out


def _at(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), SHANGHAI)


def compute(conn: Connection, levels: list[str], todo: list[tuple[str, Period]]
            ) -> pd.DataFrame:
    """The KPI counts of ``levels`` for each (county, period) of ``todo`` (a period's ``hi``
    may be cut short: the running period counts what is due so far)."""
    if not todo:
        return pd.DataFrame(columns=["county_code", "period", "level", "key", *COUNTS,
                                     "median_hours", "p90_hours"])
    conn.execute(text("SET LOCAL work_mem = '64MB'"))  # the sorts of the percentiles
    return _frame(conn.execute(text(query(levels)), {
        "counties": [c for c, _ in todo], "periods": [p.start for _, p in todo],
        "starts": [p.lo for _, p in todo], "ends": [p.hi for _, p in todo]}))


def _copied(conn: Connection, sql: str, params: dict) -> pd.DataFrame:
    """The rows of ``sql`` (psycopg2 parameters) by COPY: a province's units over a year are
    a quarter of a million rows, which COPY and read_csv bring over in a fifth of the time."""
    cursor = conn.connection.cursor()
    buffer = io.StringIO()
    cursor.copy_expert(cursor.mogrify(f"COPY ({sql}) TO STDOUT WITH (FORMAT csv, HEADER)",
                                      params).decode(), buffer)
    buffer.seek(0)
    frame = pd.read_csv(buffer, dtype={"key": object}, keep_default_na=False,
                        na_values={c: [""] for c in ("median_hours", "p90_hours")})
    frame["period"] = pd.to_datetime(frame["period"]).dt.date
    return frame


def _frame(result) -> pd.DataFrame:
    # plain tuples: pandas inspects each SQLAlchemy Row it is given, a second per 100,000 rows
    return pd.DataFrame([tuple(row) for row in result.all()], columns=list(result.keys()))


def refresh(engine: Engine, kind: str, wanted: list[Period], counties: list[str],
            now: dt.datetime) -> int:
    """Bring case_kpi_periods up to date for ``counties`` over the ``wanted`` periods (those
    begun by ``now``): forget the periods writes have marked since, and the running ones in
    which a case has fallen due since they were computed; compute those missing. Returns the
    number of (county, period) computed.

    Reading the marks holds an advisory lock that storing periods shares, so that a period
    computed from rows older than a mark is forgotten when the mark is read, never stored
    after it."""
    need = {p.start: min(p.hi, now) for p in wanted}  # counted up to here
    with engine.begin() as conn:
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK})
        marks = conn.execute(text("DELETE FROM changed_days WHERE table_name = 'cases' "
                                  "RETURNING county_code, day")).all()
        if any(county == "*" for county, _ in marks):  # truncated: forget everything
            conn.execute(text("DELETE FROM case_kpi_periods; DELETE FROM case_kpi_state"))
            marks = []
        stale = {(county, name, p.start) for county, day in marks for name in PERIODS
                 for p in periods(name, day, day + dt.timedelta(days=1))}
        # kept periods counted up to an earlier time: stale if a case fell due since
        kept = conn.execute(text(
            "SELECT county_code, period, through FROM case_kpi_state WHERE period_kind = :k "
            "AND county_code = ANY(:c) AND period = ANY(:p)"),
            {"k": kind, "c": counties, "p": list(need)}).all()
        behind = [(c, p, t, need[p]) for c, p, t in kept if t < need[p]]
        if behind:
            params = {"c": [b[0] for b in behind], "p": [b[1] for b in behind],
                      "t": [b[2] for b in behind], "n": [b[3] for b in behind], "k": kind}
            # (one range of the deadline index per partition: since the earliest of them)
            fell_due = set(conn.execute(text(
                "SELECT DISTINCT county_code FROM cases WHERE county_code = ANY(:c) "
                "AND handle_due >= :since AND handle_due < :until"),
                {"c": sorted({b[0] for b in behind}), "since": min(params["t"]),
                 "until": max(params["n"])}).scalars())
            stale |= {(c, kind, p) for c, p, _, _ in behind if c in fell_due}
            conn.execute(text(  # the others lose nothing by counting up to now
                "UPDATE case_kpi_state x SET through = s.n FROM unnest(CAST(:c AS text[]), "
                "CAST(:p AS date[]), CAST(:n AS timestamptz[])) AS s(c, p, n) "
                "WHERE x.county_code = s.c AND x.period_kind = :k AND x.period = s.p"), params)
        if stale:
            params = {"c": [s[0] for s in stale], "k": [s[1] for s in stale],
                      "p": [s[2] for s in stale]}
            for table in ("case_kpi_periods", "case_kpi_state"):
                conn.execute(text(
                    f"DELETE FROM {table} x USING unnest(CAST(:c AS text[]), CAST(:k AS text[]), "
                    "CAST(:p AS date[])) AS s(county_code, period_kind, period) WHERE "
                    "x.county_code = s.county_code AND x.period_kind = s.period_kind AND "
                    "x.period = s.period"), params)
    with engine.connect() as conn:
        kept = set(conn.execute(text(
            "SELECT county_code, period FROM case_kpi_state WHERE period_kind = :k AND "
            "county_code = ANY(:c) AND period = ANY(:p)"),
            {"k": kind, "c": counties, "p": list(need)}).all())
    todo = [(c, p._replace(hi=need[p.start])) for c in counties for p in wanted
            if (c, p.start) not in kept]
    # at most _CHUNK a step, and never fewer than two steps: both cores work on a few
    size = max(1, min(_CHUNK, -(-len(todo) // 2)))
    chunks = [todo[i:i + size] for i in range(0, len(todo), size)]
    # two at a time: PostgreSQL aggregates one chunk per core
    with ThreadPoolExecutor(max_workers=2) as pool:
        return sum(pool.map(lambda chunk: _store(engine, kind, chunk), chunks))


def _store(engine: Engine, kind: str, todo: list[tuple[str, Period]]) -> int:
    """Compute and keep the (county, period) of ``todo`` not claimed meanwhile by another
    process (the state row is the claim: a second claimer waits, then skips it)."""
    with engine.begin() as conn:
        # shared: chunks run side by side, but never beside the reading of marks
        conn.execute(text("SELECT pg_advisory_xact_lock_shared(:k)"), {"k": _LOCK})
        claimed = set(conn.execute(text(
            "INSERT INTO case_kpi_state (county_code, period_kind, period, through) "
            "SELECT c, :k, p, t FROM unnest(CAST(:c AS text[]), CAST(:p AS date[]), "
            "CAST(:t AS timestamptz[])) AS s(c, p, t) ON CONFLICT DO NOTHING "
            "RETURNING county_code, period"),
            {"k": kind, "c": [c for c, _ in todo], "p": [p.start for _, p in todo],
             "t": [p.hi for _, p in todo]}).all())
        todo = [(c, p) for c, p in todo if (c, p.start) in claimed]
        rows = compute(conn, list(LEVELS), todo).assign(period_kind=kind)
        if len(rows):  # by COPY: a chunk has tens of thousands of rows
            buffer = io.StringIO()
            # text quoted, so that COPY reads "" as a key ('' where none); a missing close
            # time is quoted too, and read as NULL by FORCE_NULL
            rows.to_csv(buffer, index=False, header=False, quoting=csv.QUOTE_NONNUMERIC)
            buffer.seek(0)
            conn.connection.cursor().copy_expert(
                f"COPY case_kpi_periods ({', '.join(rows.columns)}) FROM STDIN "
                "WITH (FORMAT csv, FORCE_NULL (median_hours, p90_hours))", buffer)
    return len(todo)


def case_kpis(engine: Engine, *, level: str = "unit", period: str = "month",
              start: dt.date | None = None, end: dt.date | None = None,
              counties: list[str] | None = None,
              settings: CaseSettings | None = None) -> pd.DataFrame:
    """One row per period and unit (or place) over the whole periods overlapping [start, end);
    rates as fractions, ranked within each period."""
    settings = settings or current(CaseSettings)
    if level not in LEVELS:
        raise ValueError(f"level must be one of {', '.join(LEVELS)}")
    if period not in PERIODS:
        raise ValueError("period must be week or month")
    now = dt.datetime.now(dt.timezone.utc)
    end = end or now.astimezone(SHANGHAI).date() + dt.timedelta(days=1)
    start = start or end - dt.timedelta(days=366)
    wanted = [p for p in periods(period, start, end) if p.lo <= now]  # nothing due later
    with engine.connect() as conn:
        every = counties or conn.execute(text("SELECT code FROM counties ORDER BY code")
                                         ).scalars().all()
    refresh(engine, period, wanted, list(every), now)
    with engine.connect() as conn:
        frame = _copied(conn, (
            "SELECT period, key, " + ", ".join(COUNTS) + ", median_hours, p90_hours "
            "FROM case_kpi_periods WHERE period_kind = %(k)s AND level = %(l)s AND "
            "period = ANY(%(p)s)" + (" AND county_code = ANY(%(c)s)" if counties else "")),
            {"k": period, "l": level, "p": [p.start for p in wanted], "c": counties})
        where = "WHERE county_code = ANY(:counties)" if counties else ""
        names = dict(conn.execute(text(_NAMES.format(
            where=where, where_county="WHERE code = ANY(:counties)" if counties else "")),
            {"counties": counties}).all())
    frame = (frame.assign(key=lambda f: f["key"].replace("", None))
             .sort_values(["period", "key"], na_position="last").reset_index(drop=True))
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
