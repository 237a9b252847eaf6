"""Many cases at once: a year of 12345 orders (a million rows) routed and stored in one go.

:func:`route_and_store` does for a table of orders what intake does for one report, with the
same code: each order is put in its county (the counties' outlines in one STRtree, every point
looked up at once), routed by :func:`gridgov.cases.routing.route` per county, and given its
deadlines from its recorded times by the calendar's vectorised ``deadlines`` (both through the
helpers intake.settle_imported uses). It is all one transaction: an order refused by the
database (a code already stored) leaves nothing written.

Storing is streamed: the orders go to PostgreSQL by ``COPY cases FROM STDIN`` one county at a
time, and the next county is routed and encoded while the server is still writing the last, so
the client's work and the server's overlap on two cores. The server takes the rows as any
insert (partition routing, checks, unique keys), except for one thing when the role may: a
foreign key is checked by PostgreSQL once per row (a query per reference, seven per case), and
a million orders name only some thousands of distinct compounds, cells, villages, townships and
categories. So with ``session_replication_role`` granted (scripts/lib.sh grants it; the role owns
the tables and could drop the keys anyway) the per-row checks are off for this transaction and
each distinct referenced row is checked and locked once instead, from the layer's declared keys:
what a foreign key does, in bulk. Without the grant the rows are checked one by one, slower.

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
from collections import Counter
from typing import Iterator

import numpy as np
import pandas as pd
import psycopg2
import shapely
from sqlalchemy import Connection, Engine, text

from gridgov.calendar import SHANGHAI
from gridgov.cases import intake, routing
from gridgov.db.tables import table as table_of
from gridgov.errors import InputError, Problem
from gridgov.layers.cases import CHANNELS, STATUSES
from gridgov.settings import CaseSettings, current

REQUIRED = ("code", "category_code", "lon", "lat", "reported_at", "channel", "description")
TIMES = ("dispatched_at", "handled_at", "closed_at")
COUNTS = ("rework_count", "return_count")
DEADLINES = ("dispatch_due", "handle_due", "warn_at")

# The columns COPY writes, in order: the order's own, then what routing gives it, which is the
# same for every order of a compound (or cell, or village) and so is encoded once per place.
OWN_COLUMNS = ("code", "county_code", "channel", "category_code", "description", "status",
               "reported_at", *TIMES, *COUNTS, *DEADLINES, "geom", "source")
ROUTED_COLUMNS = ("unit_kind", "unit_code", "co_units", "routing_rule", "routing_note",
                  "near_boundary", "compound_code", "grid_cell_code", "division_code",
                  "township_code")
CASE_COLUMNS = (*OWN_COLUMNS, *ROUTED_COLUMNS)
EVENT_COLUMNS = ("county_code", "case_code", "actor", "action", "to_status", "unit_kind",
                 "unit_code", "note")
_TIMES = {"reported_at", *TIMES, *DEADLINES}


class _Laps:
    """Seconds per step, added up (a step may run once per county)."""

    def __init__(self):
        self.seconds: dict[str, float] = {}
        self.last = time.perf_counter()

    def __call__(self, step: str) -> None:
        now = time.perf_counter()
        self.seconds[step] = self.seconds.get(step, 0.0) + now - self.last
        self.last = now


class _Stream(io.TextIOBase):
    """A file COPY reads from: each ``read`` returns the next chunk the generator makes, so
    that the next county is made while the server writes the one before."""

    def __init__(self, chunks: Iterator[str]):
        self.chunks = chunks

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> str:
        return next(self.chunks, "")


def route_and_store(engine: Engine, orders: pd.DataFrame, settings: CaseSettings | None = None,
                    *, references_in_bulk: bool | None = None) -> dict:
    """Route ``orders`` and store them as cases, each with its ``import`` event, in one
    transaction. Returns counts (orders, cases, events, counties, rules, whether references
    were checked in bulk) and ``seconds`` per step.

    ``orders``: code, category_code, lon, lat (WGS84), reported_at (timezone-aware), channel,
    description; optional status (default received), dispatched_at, handled_at, closed_at
    (timezone-aware), rework_count, return_count. Raises InputError, with nothing written, for
    a missing column, a bad value, a point in no county or a code already stored.

    ``references_in_bulk``: check foreign keys once per referenced row (True) or per row by
    PostgreSQL (False); by default in bulk when the role may set session_replication_role."""
    settings = settings or current(CaseSettings)
    laps = _Laps()
    frame = _checked(orders)
    laps("check")
    with engine.begin() as conn:
        frame = frame.join(_categories(conn, frame), on="category_code")
        codes, county = _counties(conn, frame)
        # one block of rows per county, so that each is routed against its own areas
        order = np.argsort(county, kind="stable")
        frame = frame.iloc[order].assign(county_code=codes[county[order]])
        blocks, starts = np.unique(county[order], return_index=True)
        counties, ends = codes[blocks], [*starts[1:], len(frame)]
        laps("locate")
        cursor = conn.connection.cursor()
        # a million rows outlast the per-statement limit the service sets for requests
        cursor.execute("SET LOCAL statement_timeout = 0")
        in_bulk = references_in_bulk
        if in_bulk is None:
            in_bulk = conn.execute(text(
                "SELECT has_parameter_privilege('session_replication_role', 'SET')")).scalar()
        if in_bulk:  # no per-row foreign-key checks: check_references checks each key once
            cursor.execute("SET LOCAL session_replication_role = replica")
        events, rules, referenced, days = [], Counter(), {}, set()
        # The areas are read on a second connection: this one is busy with the COPY while
        # they are needed. Nothing here writes them, so both see the same committed rows.
        with engine.connect() as reader:
            def chunks() -> Iterator[str]:
                for code, a, b in zip(counties, starts, ends):
                    block = frame.iloc[a:b]
                    laps("copy cases")
                    intake.areas(reader, code)  # read once, then kept while unchanged
                    laps("areas")
                    routed = intake.route_imported(reader, code, block, settings)
                    laps("route")
                    due = intake.import_deadlines(block, settings)
                    laps("deadlines")
                    rows = pd.concat([block, routed, due], axis=1)
                    rules.update(routed["routing_rule"].value_counts().to_dict())
                    for column in ("compound_code", "grid_cell_code", "division_code",
                                   "township_code"):
                        # (the distinct codes: iterating pandas' string array is slow)
                        referenced.setdefault(column, set()).update(
                            rows[column].dropna().unique())
                    days.update((code, day) for day in pd.to_datetime(
                        due["handle_due"], utc=True).dt.tz_convert(SHANGHAI).dt.date.dropna()
                        .unique())
                    events.append(rows[["county_code", "code", "status", "unit_kind",
                                        "unit_code", "routing_note"]])
                    text_ = _csv(rows)
                    laps("encode")
                    yield text_

            try:
                cursor.copy_expert(f"COPY cases ({', '.join(CASE_COLUMNS)}) FROM STDIN "
                                   "WITH (FORMAT csv)", _Stream(chunks()), size=1 << 20)
            except psycopg2.errors.UniqueViolation as exc:
                raise InputError([Problem("orders", None, "code", (
                    exc.diag.message_detail or "") + " (duplicate key)")]) from None
            cases = cursor.rowcount
            laps("copy cases")
        referenced.update(category_code=set(frame["category_code"].unique()),
                          county_code=set(counties))
        if in_bulk:
            check_references(conn, referenced)
            laps("check references")
        else:
            # Each event's foreign key looks its case up by (code, county_code). On a partition
            # whose statistics predate these rows the planner may take a plan that reads the
            # whole partition per event: quadratic. Fresh statistics make it use the key.
            for code in counties:
                cursor.execute(f'ANALYZE "cases__{code}" (code, county_code)')
            laps("analyze")
        actor = conn.execute(text("SELECT coalesce(nullif(current_setting('gridgov.actor', "
                                  "true), ''), session_user)")).scalar()
        cursor.copy_expert(f"COPY case_events ({', '.join(EVENT_COLUMNS)}) FROM STDIN "
                           "WITH (FORMAT csv)", _Stream(iter([_event_csv(events, actor)])))
        events_n = cursor.rowcount
        laps("copy events")
        if in_bulk:
            cursor.execute("SET LOCAL session_replication_role = origin")
            # replica mode skipped the tables' statement triggers too: their data versions
            # (which ETags, caches and the wall screen watch), fired by an empty insert, and
            # the days written, which the KPIs kept per period recompute (gridgov_mark_changes)
            cursor.execute("INSERT INTO cases SELECT * FROM cases WHERE false; "
                           "INSERT INTO case_events SELECT * FROM case_events WHERE false")
            conn.execute(text(
                "INSERT INTO changed_days (table_name, county_code, day) SELECT 'cases', c, d "
                "FROM unnest(CAST(:c AS text[]), CAST(:d AS date[])) AS s(c, d) "
                "ON CONFLICT DO NOTHING"), {"c": [c for c, _ in days], "d": [d for _, d in days]})
    laps("commit")
    return {"orders": len(frame), "cases": cases, "events": events_n,
            "counties": len(counties), "rules": dict(rules), "references_in_bulk": in_bulk,
            "seconds": laps.seconds}


def check_references(conn: Connection, referenced: dict[str, set]) -> None:
    """The foreign keys of the rows just written, checked as PostgreSQL would but once per
    distinct key: each referenced row is locked FOR KEY SHARE (so that it cannot be deleted
    before this transaction ends), and a key no longer stored refuses the whole import.
    Which column references what comes from the cases table, derived from its declaration."""
    problems = []
    for constraint in table_of("cases").foreign_key_constraints:
        columns = [c.name for c in constraint.columns]
        if len(columns) != 1 or columns[0] not in referenced:
            continue  # duplicate_of (with county_code): never set by an import
        column, keys = columns[0], sorted(referenced[columns[0]])
        target = constraint.elements[0].column
        found = set(conn.execute(text(
            f"SELECT {target.name} FROM {target.table.name} WHERE {target.name} = ANY(:keys) "
            "ORDER BY 1 FOR KEY SHARE"), {"keys": keys}).scalars())
        problems += [Problem("orders", None, column, f"{key} is not in {target.table.name} "
                             "(changed during the import? run it again)")
                     for key in keys if key not in found][:5]
    if problems:
        raise InputError(problems)


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
    tree = routing.prepared_tree(shapely.from_wkb([bytes(r[1]) for r in rows]))
    lon, lat = frame["lon"].to_numpy(float), frame["lat"].to_numpy(float)
    hit = routing.first_hit(tree, shapely.points(lon, lat), lon, lat)
    problems = _rows(hit < 0, "lat/long", "in no county this service covers (GCJ-02 or BD-09 "
                                          "coordinates? convert them to WGS84 first)")
    if problems:
        raise InputError(problems)
    return np.array([r[0] for r in rows], dtype=object), hit


def _csv(rows: pd.DataFrame) -> str:
    """The rows as COPY's CSV, in the order of CASE_COLUMNS: times as ISO text in UTC to the
    microsecond, co_units as JSON, the point as hex EWKB, None as an empty field (which COPY
    reads as NULL). The csv module writes each row's own fields; the routing fields are written
    once per distinct routing and appended. (NUL ends a record while they are apart: it can be
    in no PostgreSQL text, where a newline inside a quoted description can.)"""
    own = []
    for name in OWN_COLUMNS:
        if name in _TIMES:
            utc = (pd.to_datetime(rows[name], utc=True).dt.tz_localize(None)
                   .to_numpy("datetime64[us]"))
            values = np.datetime_as_string(utc, unit="us", timezone="UTC").astype(object)
            values[np.isnat(utc)] = None
            values = values.tolist()
        elif name == "geom":
            values = _ewkb_points(rows["lon"].to_numpy(float), rows["lat"].to_numpy(float))
        elif name == "source":
            values = ["import"] * len(rows)
        else:  # pandas' text columns hold NaN where a value is missing
            values = rows[name].to_numpy(dtype=object, na_value=None).tolist()
        own.append(values)
    as_json = {}  # the same few lists of organizations over and over
    routed = rows[list(ROUTED_COLUMNS)].assign(co_units=[
        as_json.get(u) or as_json.setdefault(u, json.dumps(list(u), ensure_ascii=False))
        for u in map(tuple, rows["co_units"])])
    which = routed.groupby(list(ROUTED_COLUMNS), sort=False, dropna=False).ngroup().to_numpy()
    first = np.unique(which, return_index=True)[1]
    distinct = routed.iloc[first]
    fragments = _records([distinct[c].to_numpy(dtype=object, na_value=None).tolist()
                          for c in ROUTED_COLUMNS])
    return "".join(f"{mine},{fragments[k]}\n" for mine, k in zip(_records(own), which.tolist()))


def _records(columns: list[list]) -> list[str]:
    """Each row of ``columns`` as one CSV record, without its line end."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\0").writerows(zip(*columns))
    return buffer.getvalue().split("\0")[:-1]


# a point's EWKB up to its coordinates: little-endian, type Point with an SRID, SRID 4326
_EWKB_POINT_4326 = "0101000020E6100000"


def _ewkb_points(lon: np.ndarray, lat: np.ndarray) -> list[str]:
    """Points as hex EWKB (what PostGIS reads for a geometry in COPY), built from the
    coordinates' bytes directly: a tenth of the time of making shapely points to write them."""
    xy = np.empty((len(lon), 2), dtype="<f8")
    xy[:, 0], xy[:, 1] = lon, lat
    digits = xy.tobytes().hex().upper()
    return [_EWKB_POINT_4326 + digits[i:i + 32] for i in range(0, len(digits), 32)]


def _event_csv(blocks: list[pd.DataFrame], actor: str) -> str:
    """One ``import`` event per case, as COPY's CSV in the order of EVENT_COLUMNS (``at`` is
    left to its default, the transaction's time, as for events written by intake)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    for rows in blocks:
        n = len(rows)
        writer.writerows(zip(
            rows["county_code"].tolist(), rows["code"].tolist(), [actor] * n, ["import"] * n,
            rows["status"].tolist(), rows["unit_kind"].to_numpy(dtype=object, na_value=None),
            rows["unit_code"].to_numpy(dtype=object, na_value=None),
            rows["routing_note"].to_numpy(dtype=object, na_value=None)))
    return buffer.getvalue()
