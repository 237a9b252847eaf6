"""Many cases at once: a year of 12345 orders (a million rows) routed and stored in one go.

:func:`route_and_store` does for a table of orders what intake does for one report, with the
same code: each order is put in its county (the counties' outlines in one STRtree, every point
looked up at once), routed by :func:`gridgov.cases.routing.route` per county, and given its
deadlines from its recorded times by the calendar's vectorised ``deadlines`` (both through the
helpers intake.settle_imported uses). Then PostgreSQL takes the rows by COPY into a temporary
staging table and ``INSERT INTO cases ... SELECT``, so that partition routing, checks and
foreign keys apply as to any insert, and each case gets its ``import`` event. It is all one
transaction: an order refused by the database (a code already stored) leaves nothing written.

Example:
    >>> import pandas as pd
    >>> orders = pd.DataFrame({"code": ["12345-2026-000001"], "category_code": ["0101"],
    ...     "lon": [111.19765], "lat": [37.33306], "channel": ["hotline"],
    ...     "reported_at": [pd.Timestamp("2026-11-27 09:00", tz="Asia/Shanghai")],
    ...     "description": ["楼下垃圾多日未清运"]})
    >>> result = route_and_store(engine, orders)
    >>> result["cases"], result["rules"]
    (1, {'compound': 1})
"""

from __future__ import annotations

import csv
import io
import json
import time

import numpy as np
import pandas as pd
import psycopg2
import shapely
from sqlalchemy import Connection, Engine, text

from gridgov.cases import intake, routing
from gridgov.errors import InputError, Problem
from gridgov.layers.cases import CHANNELS, STATUSES
from gridgov.settings import CaseSettings

REQUIRED = ("code", "category_code", "lon", "lat", "reported_at", "channel", "description")
TIMES = ("dispatched_at", "handled_at", "closed_at")
COUNTS = ("rework_count", "return_count")

# The staging table, in the order the CSV is written; times are UTC (timestamp without zone).
STAGING = {
    "code": "text", "county_code": "text", "channel": "text", "category_code": "text",
    "description": "text", "status": "text", "lon": "float8", "lat": "float8",
    "reported_at": "timestamp", "dispatched_at": "timestamp", "handled_at": "timestamp",
    "closed_at": "timestamp", "rework_count": "smallint", "return_count": "smallint",
    "unit_kind": "text", "unit_code": "text", "co_units": "text", "routing_rule": "text",
    "routing_note": "text", "near_boundary": "boolean", "compound_code": "text",
    "grid_cell_code": "text", "division_code": "text", "township_code": "text",
    "dispatch_due": "timestamp", "handle_due": "timestamp", "warn_at": "timestamp",
}
_UTC = {name for name, kind in STAGING.items() if kind == "timestamp"}
_AS_STORED = {name: f"s.{name} AT TIME ZONE 'UTC'" if name in _UTC else
              "s.co_units::jsonb" if name == "co_units" else f"s.{name}"
              for name in STAGING if name not in ("lon", "lat")}
INSERT_CASES = (
    f"INSERT INTO cases ({', '.join(_AS_STORED)}, geom, source) "
    f"SELECT {', '.join(_AS_STORED.values())}, "
    "ST_SetSRID(ST_MakePoint(s.lon, s.lat), 4326), 'import' FROM bulk_staging s")
# the same event settle_imported writes for an imported case
INSERT_EVENTS = (
    "INSERT INTO case_events (county_code, case_code, at, actor, action, to_status, unit_kind, "
    "unit_code, note) SELECT s.county_code, s.code, now(), "
    "coalesce(nullif(current_setting('gridgov.actor', true), ''), session_user), 'import', "
    "s.status, s.unit_kind, s.unit_code, s.routing_note FROM bulk_staging s")


def route_and_store(engine: Engine, orders: pd.DataFrame,
                    settings: CaseSettings | None = None) -> dict:
    """Route ``orders`` and store them as cases, each with its ``import`` event, in one
    transaction. Returns counts (orders, cases, events, counties, rules) and ``seconds`` per
    step.

    ``orders``: code, category_code, lon, lat (WGS84), reported_at (timezone-aware), channel,
    description; optional status (default received), dispatched_at, handled_at, closed_at
    (timezone-aware), rework_count, return_count. Raises InputError, with nothing written, for
    a missing column, a bad value, a point in no county or a code already stored."""
    settings = settings or CaseSettings()
    seconds: dict[str, float] = {}
    clock = [time.perf_counter()]

    def lap(step: str) -> None:
        now = time.perf_counter()
        seconds[step] = seconds.get(step, 0.0) + now - clock[0]
        clock[0] = now

    frame = _checked(orders)
    lap("check")
    with engine.begin() as conn:
        frame = frame.join(_categories(conn, frame), on="category_code")
        codes, county = _counties(conn, frame)
        # one block of rows per county, so that each is routed against its own areas
        order = np.argsort(county, kind="stable")
        frame = frame.iloc[order].assign(county_code=codes[county[order]])
        blocks, starts = np.unique(county[order], return_index=True)
        counties, ends = codes[blocks], [*starts[1:], len(frame)]
        lap("locate")
        for code in counties:
            intake.areas(conn, code)  # read once, then kept while the tables are unchanged
        lap("areas")
        routed = pd.concat([intake.route_imported(conn, code, frame.iloc[a:b], settings)
                            for code, a, b in zip(counties, starts, ends)])
        lap("route")
        due = intake.import_deadlines(frame, settings)
        lap("deadlines")
        buffer = _csv(pd.concat([frame, routed, due], axis=1))
        lap("encode")
        cursor = conn.connection.cursor()
        # a million rows outlast the per-statement limit the service sets for requests
        cursor.execute("SET LOCAL statement_timeout = 0")
        cursor.execute("CREATE TEMP TABLE bulk_staging ("
                       + ", ".join(f"{name} {kind}" for name, kind in STAGING.items())
                       + ") ON COMMIT DROP")
        cursor.copy_expert("COPY bulk_staging FROM STDIN WITH (FORMAT csv)", buffer)
        lap("copy")
        try:
            cursor.execute(INSERT_CASES)
        except psycopg2.errors.UniqueViolation as exc:
            raise InputError([Problem("orders", None, "code", (exc.diag.message_detail or "")
                                      + " (duplicate key)")]) from None
        cases = cursor.rowcount
        lap("insert cases")
        # Each event's foreign key looks its case up by (code, county_code). On a partition whose
        # statistics predate these rows the planner may take the county_code index, which holds
        # the same value for every row, and read the whole partition per event: quadratic. Fresh
        # statistics of the two columns (this transaction's rows count) make it use the key.
        for county in counties:
            cursor.execute(f'ANALYZE "cases__{county}" (code, county_code)')
        lap("analyze")
        cursor.execute(INSERT_EVENTS)
        events = cursor.rowcount
        lap("insert events")
    lap("commit")
    return {"orders": len(frame), "cases": cases, "events": events, "counties": len(counties),
            "rules": routed["routing_rule"].value_counts().to_dict(), "seconds": seconds}


def _checked(orders: pd.DataFrame) -> pd.DataFrame:
    """The orders with every optional column present; InputError for what cannot be stored.
    (The database checks the rest: a code already stored, a value its constraints refuse.)"""
    missing = [c for c in REQUIRED if c not in orders.columns]
    if missing:
        raise InputError([Problem("orders", None, c, "required column is missing")
                          for c in missing])
    frame = orders.reset_index(drop=True).copy()
    frame["status"] = frame["status"].fillna("received") if "status" in frame else "received"
    for name in TIMES:
        frame[name] = frame[name] if name in frame else pd.NaT
    for name in COUNTS:
        frame[name] = frame[name].fillna(0).astype(np.int16) if name in frame else 0
    for name in ("lon", "lat"):
        frame[name] = pd.to_numeric(frame[name], errors="coerce").astype(float)
    problems = []
    for name in ("reported_at", *TIMES):
        values = frame[name]
        if values.notna().any() and not isinstance(values.dtype, pd.DatetimeTZDtype):
            problems.append(Problem("orders", None, name, "give times with a time zone"))
    tests = (
        ("code", frame["code"].fillna("").astype(str).str.strip() == "", "required"),
        ("code", frame["code"].duplicated(keep=False), "the same code twice in the orders"),
        ("reported_at", frame["reported_at"].isna(), "required"),
        ("lon", ~np.isfinite(frame["lon"]), "not a number"),
        ("lat", ~np.isfinite(frame["lat"]), "not a number"),
        ("category_code", frame["category_code"].isna(), "required"),
        ("channel", ~frame["channel"].isin(CHANNELS), f"not one of {', '.join(CHANNELS)}"),
        ("status", ~frame["status"].isin(STATUSES), f"not one of {', '.join(STATUSES)}"),
        ("description", frame["description"].fillna("").str.strip() == "",
         "say what is wrong"),
    )
    for field, bad, message in tests:
        problems += _rows(bad, field, message)
    if problems:
        raise InputError(problems)
    return frame


def _rows(bad: pd.Series, field: str, message: str, limit: int = 5) -> list[Problem]:
    """A problem for each of the first ``limit`` bad rows (1-based), then one for the rest."""
    rows = np.flatnonzero(np.asarray(bad, dtype=bool))
    out = [Problem("orders", int(i) + 1, field, message) for i in rows[:limit]]
    if len(rows) > limit:
        out.append(Problem("orders", None, field, f"{message}: {len(rows) - limit} more rows"))
    return out


def _categories(conn: Connection, frame: pd.DataFrame) -> pd.DataFrame:
    """The categories of the orders (name, route_org_code, time_limit, limit_type) by code."""
    result = conn.execute(text("SELECT code, name AS category, route_org_code, time_limit, "
                               "limit_type FROM case_categories"))
    categories = pd.DataFrame(result.all(), columns=list(result.keys())).set_index("code")
    problems = _rows(~frame["category_code"].isin(categories.index), "category_code",
                     "not a case category")
    if problems:
        raise InputError(problems)
    return categories


def _counties(conn: Connection, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """The county codes and, per order, the index of its county: as intake.county_at finds
    it one at a time (the lowest code wins where outlines overlap), for all points at once."""
    rows = conn.execute(text("SELECT code, ST_AsBinary(geom) FROM counties "
                             "WHERE geom IS NOT NULL ORDER BY code")).all()
    tree = routing._prepared_tree(shapely.from_wkb([bytes(r[1]) for r in rows]))
    lon, lat = frame["lon"].to_numpy(float), frame["lat"].to_numpy(float)
    hit = routing._first_hit(tree, shapely.points(lon, lat), lon, lat)
    problems = _rows(hit < 0, "lat/long", "in no county this service covers (GCJ-02 or BD-09 "
                                          "coordinates? convert them to WGS84 first)")
    if problems:
        raise InputError(problems)
    return np.array([r[0] for r in rows], dtype=object), hit


def _csv(rows: pd.DataFrame) -> io.StringIO:
    """The staging rows as CSV in memory, in the order of STAGING: times as ISO text in UTC to
    the microsecond, co_units as JSON, None as an empty field (which COPY reads as NULL).
    (The csv module over whole columns: a third faster than DataFrame.to_csv here.)"""
    columns = []
    for name in STAGING:
        if name in _UTC:
            utc = (pd.to_datetime(rows[name], utc=True).dt.tz_localize(None)
                   .to_numpy("datetime64[us]"))
            values = np.datetime_as_string(utc, unit="us").astype(object)
            values[np.isnat(utc)] = None
        elif name == "co_units":
            values = np.array([json.dumps(u) if len(u) else "[]" for u in rows[name]],
                              dtype=object)
        else:  # pandas' text columns hold NaN where a value is missing
            values = rows[name].to_numpy(dtype=object, na_value=None)
        columns.append(values.tolist())
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(zip(*columns))
    buffer.seek(0)
    return buffer
