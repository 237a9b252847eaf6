"""Coverage: who covers each compound, with how many members, from how far; and roll-ups.

Example:
    >>> from datetime import date
    >>> cov = coverage(engine, as_of=date(2026, 11, 28))   # one row per compound, a GeoDataFrame
    >>> cov.status.value_counts()
    status
    covered          78
    under_covered    29
    Name: count, dtype: int64
    >>> rollup(cov, "township")[["township_name", "compounds", "members", "under_covered"]]
      township_name  compounds  members  under_covered
    0           宁乡镇        107   2207.0             29
    >>> kpis(cov)["coverage_rate"]
    1.0
"""

from __future__ import annotations

import datetime as dt
import decimal
from concurrent.futures import ThreadPoolExecutor

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from sqlalchemy import Connection, Engine, TextClause, text

from gridgov.activity import checkins
from gridgov.analysis.sqlfiles import connection, scope, sql
from gridgov.calendar import SHANGHAI
from gridgov.errors import InvalidParameter
from gridgov.settings import ActivitySettings, AnalysisSettings, current

STATUS_ZH = {"uncovered": "未包联", "under_covered": "力量不足", "covered": "已覆盖",
             "inactive": "有名无实（未走访）"}
BASES = ("paper", "visits")
LEVELS = {
    "grid_cell": ["grid_cell_code"],
    "community": ["community_code", "community_name"],
    "township": ["township_code", "township_name"],
    "county": ["county_code"],
}


def thresholds(settings: AnalysisSettings | None) -> dict:
    s = settings or current(AnalysisSettings)
    return {"min_members": s.min_members, "max_households_per_member": s.max_households_per_member,
            "far_m": s.far_m, "max_orgs": s.max_orgs}


def read_geo(bind: Engine | Connection, name: str, params: dict) -> gpd.GeoDataFrame:
    """Run gridgov/sql/NAME.sql and return a GeoDataFrame in EPSG:4326 (geometry: ``geom``)."""
    with connection(bind) as conn:
        result = conn.execute(sql(name), params)
        columns = list(result.keys())
        # the driver's tuples as they come: SQLAlchemy's rows, and pandas inspecting each of
        # them, cost 0.1 s for a province's compounds (a text() query has no types to convert)
        rows = result.cursor.fetchall()
        result.close()
    df = pd.DataFrame(rows, columns=columns)
    for col in df.columns:  # numeric SQL results arrive as Decimal; analysts want floats
        if df[col].dtype == object and len(df) and col != "geom":
            first = df[col].dropna()
            if len(first) and isinstance(first.iloc[0], decimal.Decimal):
                df[col] = df[col].astype(float)
    # hex EWKB as the driver gives it, made bytes here: GEOS's own hex reader is 4x slower
    geoms = shapely.from_wkb([bytes.fromhex(g) if isinstance(g, str) else bytes(g)
                              for g in df.pop("geom")]) if len(df) else []
    return gpd.GeoDataFrame(df, geometry=gpd.GeoSeries(geoms, crs=4326), crs=4326)


def coverage(bind: Engine | Connection, as_of: dt.date | None = None,
             counties: list[str] | None = None,
             settings: AnalysisSettings | None = None, *, basis: str = "paper",
             period: tuple[dt.date, dt.date] | str | None = None,
             activity: ActivitySettings | None = None) -> gpd.GeoDataFrame:
    """One row per compound: assigned orgs, members, households per member, office distances,
    ``status`` (uncovered / under_covered / covered) and the ``far_assignment`` and
    ``fragmented`` flags, as of ``as_of`` (default today).

    ``basis="visits"``: coverage by what happens. For ``period`` (a (start, end) pair of dates,
    end excluded, or "YYYY-MM"; default the last full month) it adds verified visits by members
    of the assigned organizations (visits, visit_days, visiting_members, verified_hours,
    last_visit, days_since_visit), keeps the paper status in ``paper_status``, and a compound
    covered on paper with fewer than ``min_visit_days`` days of visits becomes ``inactive``."""
    if basis not in BASES:
        raise ValueError(f"basis must be paper or visits, not {basis!r}")
    if basis != "visits":
        cov = read_geo(bind, "coverage", {**scope(as_of, counties), **thresholds(settings)})
    else:
        start, end = visit_period(period)
        as_of = as_of or end - dt.timedelta(days=1)
        paper = {**scope(as_of, counties), **thresholds(settings)}
        if isinstance(bind, Engine):
            # the visits and the coverage on paper are independent queries: on connections
            # of their own they run side by side, one per core of the database (a province's
            # month: 0.26 s and 0.55 s, which one after the other missed the second)
            with ThreadPoolExecutor(max_workers=1) as pool:
                pending = pool.submit(visits, bind, counties, start, end)
                cov = read_geo(bind, "coverage", paper)
                seen = pending.result()
        else:
            # first, while a connection handed over may still be outside any transaction: the
            # months read are kept then (see visits)
            seen = visits(bind, counties, start, end)
            cov = read_geo(bind, "coverage", paper)
        cov = _with_visits(cov, seen, start, end, activity or current(ActivitySettings))
    cov["status_zh"] = cov["status"].map(STATUS_ZH)
    return cov


def visit_period(period: tuple[dt.date, dt.date] | str | None) -> tuple[dt.date, dt.date]:
    """(start, end) dates, end excluded: a pair as given, a "YYYY-MM" month, or by default the
    last full month (Beijing time)."""
    if isinstance(period, tuple):
        return period
    if isinstance(period, str):
        try:
            first = dt.date.fromisoformat(period + "-01")
        except ValueError:
            raise InvalidParameter("period", f"{period!r} is not a month (YYYY-MM)") from None
    else:
        today = dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).date()
        first = (today.replace(day=1) - dt.timedelta(days=1)).replace(day=1)
    end = (first.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return first, end


# (county, month)s in which an assignment begins or ends after the first day: read from the
# check-ins themselves, each against the assignments of its day
_BOUNDARIES = """
SELECT DISTINCT a.county_code, CAST(date_trunc('month', b.day) AS date) AS month
FROM assignments a CROSS JOIN LATERAL (VALUES (a.valid_from), (a.valid_to)) AS b(day)
WHERE a.county_code = ANY(CAST(:counties AS text[])) AND b.day > :first AND b.day < :last
  AND extract(day FROM b.day) <> 1
"""


def _months(start: dt.date, end: dt.date) -> list[dt.date]:
    """First days of the months that [start, end) overlaps."""
    months, m = [], start.replace(day=1)
    while m < end:
        months.append(m)
        m = checkins.next_month(m)
    return months


def _whole_months(start: dt.date, end: dt.date) -> list[dt.date]:
    return [m for m in _months(start, end) if m >= start and checkins.next_month(m) <= end]


def _counties(conn: Connection, counties: list[str] | None) -> list[str]:
    return list(counties) if counties else conn.execute(text(
        "SELECT code FROM counties ORDER BY code")).scalars().all()


def _windows(months: list[dt.date], start: dt.date, end: dt.date) -> list[dt.datetime]:
    """Two spans of time, [lo1, hi1) and [lo2, hi2), within [start, end), that hold ``months``:
    runs of consecutive months, the closest merged (a period's two ends, typically)."""
    runs: list[list[dt.date]] = []
    for m in sorted(set(months)):
        if runs and checkins.next_month(runs[-1][1]) == m:
            runs[-1][1] = m
        else:
            runs.append([m, m])
    while len(runs) > 2:  # merge the two runs with the shortest gap between them
        k = min(range(len(runs) - 1), key=lambda i: runs[i + 1][0] - runs[i][1])
        runs[k:k + 2] = [[runs[k][0], runs[k + 1][1]]]
    spans = [(max(a, start), min(checkins.next_month(b), end)) for a, b in runs]
    spans += [(start, start)] * (2 - len(spans))  # nothing: an empty span
    return [dt.datetime.combine(d, dt.time(), SHANGHAI) for span in spans for d in span]


def visits_statement(conn: Connection, counties: list[str] | None, start: dt.date,
                     end: dt.date) -> tuple[TextClause, dict]:
    """The query of verified visits per compound in [start, end) and its parameters (what
    :func:`visits` runs; EXPLAIN it to see what it reads): each (county, month) from the visits
    kept per month when it lies wholly in the period, is kept up to date and no assignment of
    its county begins or ends inside it; from the check-ins themselves otherwise."""
    every = _counties(conn, counties)
    months, whole = _months(start, end), _whole_months(start, end)
    stale = set(checkins.stale_months(conn, every, whole))
    stale |= set(tuple(r) for r in conn.execute(text(_BOUNDARIES), {
        "counties": every, "first": months[0], "last": checkins.next_month(months[-1])}).all())
    raw = [(c, m) for m in months for c in every if m not in whole or (c, m) in stale]
    lo1, hi1, lo2, hi2 = _windows([m for _, m in raw], start, end)
    return sql("visits"), {
        "counties": every, "whole_months": whole,
        "raw_counties": sorted({c for c, _ in raw}), "raw_pair_counties": [c for c, _ in raw],
        "raw_months": [m for _, m in raw], "raw_lo1": lo1, "raw_hi1": hi1, "raw_lo2": lo2,
        "raw_hi2": hi2}


def visits(bind: Engine | Connection, counties: list[str] | None, start: dt.date,
           end: dt.date) -> pd.DataFrame:
    """Verified visits per compound in [start, end) (gridgov/sql/visits.sql). Given an engine,
    or a connection outside any transaction, the visits of the period's whole months are first
    kept up to date (:func:`gridgov.activity.checkins.keep_visits`); inside a transaction (a
    scenario, its own writes) what is not kept is read from the check-ins."""
    with connection(bind) as conn:
        if not conn.in_transaction():  # our own connection, or one outside any transaction
            with conn.begin():
                every = _counties(conn, counties)
            checkins.keep_visits(conn, every, _whole_months(start, end))
        statement, params = visits_statement(conn, counties, start, end)
        result = conn.execute(statement, params)
        return pd.DataFrame([tuple(r) for r in result.all()], columns=list(result.keys()))


def _with_visits(cov, seen: pd.DataFrame, start, end, activity: ActivitySettings):
    cov = cov.merge(seen, on="code", how="left")
    for col in ("visits", "visit_days", "visiting_members"):
        cov[col] = cov[col].fillna(0).astype(int)
    cov["verified_hours"] = cov["verified_hours"].fillna(0.0)
    last = pd.to_datetime(cov["last_visit"], utc=True)
    period_end = pd.Timestamp(dt.datetime.combine(end, dt.time()), tz="Asia/Shanghai")
    cov["days_since_visit"] = ((period_end - last).dt.total_seconds() / 86400).round(1)
    cov["paper_status"] = cov["status"]
    on_paper = cov["status"].isin(["covered", "under_covered"])
    cov.loc[on_paper & (cov["visit_days"] < activity.min_visit_days), "status"] = "inactive"
    cov.attrs["period"] = (start.isoformat(), end.isoformat())
    return cov


def rollup(cov: pd.DataFrame, level: str = "community") -> pd.DataFrame:
    """Coverage summed by ``grid_cell``, ``community``, ``township`` or ``county``."""
    if level not in LEVELS:
        raise ValueError(f"level must be one of {', '.join(LEVELS)}")
    keys = LEVELS[level]
    frame = pd.DataFrame(cov.drop(columns=cov.geometry.name, errors="ignore"))
    grouped = frame.groupby(keys, dropna=False)
    out = grouped.agg(
        compounds=("code", "size"),
        households=("households", "sum"),
        members=("members", "sum"),
        uncovered=("status", lambda s: int((s == "uncovered").sum())),
        under_covered=("status", lambda s: int((s == "under_covered").sum())),
        inactive=("status", lambda s: int((s == "inactive").sum())),
        far_assignments=("far_assignment", "sum"),
        worst_office_m=("max_office_m", "max"),
    ).reset_index()
    out["coverage_rate"] = 1 - out["uncovered"] / out["compounds"]
    if "paper_status" in frame:  # by visits: the rate in fact, and the gap to paper
        sums = grouped.agg(visits=("visits", "sum"), verified_hours=("verified_hours", "sum"))
        out = out.merge(sums.reset_index(), on=keys)
        out["verified_coverage_rate"] = (1 - (out["uncovered"] + out["inactive"])
                                         / out["compounds"])
        out["coverage_gap"] = out["coverage_rate"] - out["verified_coverage_rate"]
    out["households_per_member"] = out["households"] / out["members"].replace(0, np.nan)
    return out


def kpis(cov: pd.DataFrame) -> dict:
    """County key figures from a coverage frame."""
    n = len(cov)
    dist = cov["max_office_m"].dropna()
    visited = {}
    if "paper_status" in cov:  # coverage by visits: paper and fact side by side
        paper = float((cov["orgs"] > 0).mean()) if n else 0.0
        fact = float(((cov["orgs"] > 0) & (cov["status"] != "inactive")).mean()) if n else 0.0
        visited = {"paper_coverage_rate": paper, "verified_coverage_rate": fact,
                   "coverage_gap": paper - fact, "verified_visits": int(cov["visits"].sum()),
                   "verified_hours": float(round(cov["verified_hours"].sum(), 2)),
                   "period": list(cov.attrs.get("period", ()))}
    return {
        "compounds": n,
        "covered": int((cov["status"] == "covered").sum()),
        "under_covered": int((cov["status"] == "under_covered").sum()),
        "uncovered": int((cov["status"] == "uncovered").sum()),
        "inactive": int((cov["status"] == "inactive").sum()),
        "coverage_rate": float((cov["orgs"] > 0).mean()) if n else 0.0,
        "households": int(cov["households"].sum()),
        "members_sunk": float(round(cov["members"].sum(), 6)),
        "households_per_member": float(cov["households"].sum() / cov["members"].sum())
        if cov["members"].sum() else None,
        "far_assignments": int(cov["far_assignment"].sum()),
        "fragmented": int(cov["fragmented"].fillna(False).sum()),
        "mean_office_m": float(cov["mean_office_m"].dropna().mean()) if len(dist) else None,
        "worst_office_m": float(dist.max()) if len(dist) else None,
        **visited,
    }
