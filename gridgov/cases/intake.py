"""Cases coming in: a resident's 随手拍 report, a grid worker's or member's, a community whistle
(吹哨), a 12345 order; one at a time from the API, or a file of historical orders in bulk.

A report is located (any CRS: GCJ-02 from WeChat and BD-09 from Baidu are converted), put in
its county, routed (gridgov.cases.routing) with the rule in Chinese, given its dispatch
deadline, checked against open cases of the same category nearby (offered as duplicates, not
merged: the dispatcher decides), stored with its photos, and logged as its first event.

Example:
    >>> import datetime as dt
    >>> from gridgov.auth import Principal
    >>> with engine.begin() as conn:
    ...     case = file_report(conn, Principal("resident", "viewer"), category_code="0101",
    ...                        lon=111.19765, lat=37.33306, description="楼下垃圾堆放",
    ...                        reported_at=dt.datetime(2026, 11, 27, 9, 0, tzinfo=dt.timezone.utc))
    >>> case["code"][:16], case["status"], case["routing_rule"], case["unit_code"]
    ('141129-20261127-', 'received', 'compound', '141129-P047')
"""

from __future__ import annotations

import datetime as dt
import json
import math
from typing import Iterable

import numpy as np
import pandas as pd
from sqlalchemy import Connection, text

from gridgov.auth import Principal
from gridgov.cache import Memo
from gridgov.calendar import SHANGHAI
from gridgov.cases import lifecycle, routing, sla
from gridgov.errors import InputError, NotFound, Problem
from gridgov.io.crs import bd09_to_wgs84, gcj02_to_wgs84
from gridgov.layers.cases import CHANNELS
from gridgov.settings import CaseSettings, current

# A county's areas, kept while the tables they come from are unchanged.
_AREAS = Memo(maxsize=256)
AREA_TABLES = ("compounds", "grid_cells", "divisions", "townships", "assignments", "party_orgs")


def areas(conn: Connection, county: str) -> routing.Areas:
    versions, written = conn.execute(text(
        "SELECT array_agg(version ORDER BY table_name), EXISTS (SELECT FROM data_version_pending "
        "WHERE xact = pg_current_xact_id_if_assigned()::text::bigint AND table_name = ANY(:t)) "
        "FROM data_versions WHERE table_name = ANY(:t)"), {"t": list(AREA_TABLES)}).one()
    if written:  # this transaction changed the areas: its versions go up only at commit
        return routing.load_areas(conn, county)
    return _AREAS.get((county, tuple(versions or ()), _db(conn)),
                      lambda: routing.load_areas(conn, county))


def _db(conn: Connection) -> str:
    return conn.engine.url.render_as_string(hide_password=True)


def to_wgs84(lon: float, lat: float, crs: str | None) -> tuple[float, float]:
    """A point as the client gave it -> WGS84 (wgs84, gcj02 from WeChat/Amap, bd09 Baidu)."""
    crs = (crs or "wgs84").lower()
    if crs in ("wgs84", "4326", "epsg:4326", "cgcs2000", "4490", "epsg:4490"):
        return float(lon), float(lat)
    if crs == "gcj02":
        x, y = gcj02_to_wgs84(lon, lat)
    elif crs == "bd09":
        x, y = bd09_to_wgs84(lon, lat)
    else:
        raise InputError([Problem("report", None, "crs",
                                  f"{crs!r} is not wgs84, gcj02 (WeChat, Amap) or bd09 (Baidu)")])
    return float(np.asarray(x).item()), float(np.asarray(y).item())


def county_at(conn: Connection, lon: float, lat: float) -> str:
    code = conn.execute(text(
        "SELECT code FROM counties WHERE ST_Intersects(geom, ST_SetSRID(ST_MakePoint(:x, :y), "
        "4326)) ORDER BY code LIMIT 1"), {"x": lon, "y": lat}).scalar()
    if code is None:
        raise InputError([Problem("report", None, "lat/long",
                                  f"({lon:.6f}, {lat:.6f}) is in no county this service covers "
                                  "(GCJ-02 or BD-09 coordinates? say so with crs)")])
    return code


def new_code(conn: Connection, county: str, reported_at: dt.datetime) -> str:
    """COUNTY-YYYYMMDD-N: readable on the phone; N from a sequence, so intakes never queue."""
    n = conn.execute(text("SELECT nextval('case_numbers')")).scalar()
    local = reported_at.astimezone(SHANGHAI)
    return f"{county}-{local:%Y%m%d}-{n:06d}"


def duplicates(conn: Connection, county: str, category_code: str, lon: float, lat: float,
               at: dt.datetime, exclude: str | None = None,
               settings: CaseSettings | None = None) -> list[dict]:
    """Open cases of the same category within ``duplicate_m`` and ``duplicate_days``."""
    settings = settings or current(CaseSettings)
    rows = conn.execute(text(
        "SELECT code, status, reported_at, description, round(ST_Distance(geom::geography, "
        "ST_SetSRID(ST_MakePoint(:x, :y), 4326)::geography)::numeric, 1)::float8 AS distance_m "
        "FROM cases WHERE county_code = :k AND category_code = :cat "
        "AND status = ANY(:open) AND code IS DISTINCT FROM :ex "
        "AND reported_at BETWEEN :at - make_interval(secs => :days * 86400) AND :at "
        # a box in degrees around the point first, which the spatial index answers (the
        # distance on the sphere alone reads every open case of the category in the county)
        "AND geom && ST_Expand(ST_SetSRID(ST_MakePoint(:x, :y), 4326), :box) "
        "AND ST_DWithin(geom::geography, ST_SetSRID(ST_MakePoint(:x, :y), 4326)::geography, :m) "
        "ORDER BY distance_m, reported_at DESC LIMIT 5"),
        {"x": lon, "y": lat, "k": county, "cat": category_code, "open": list(lifecycle.OPEN),
         "ex": exclude, "at": at, "days": settings.duplicate_days, "m": settings.duplicate_m,
         # degrees of longitude per metre exceed those of latitude: a box wide enough for both
         "box": settings.duplicate_m / (111_000 * max(math.cos(math.radians(lat)), 0.01))}
    ).mappings().all()
    return [dict(r) for r in rows]


def file_report(conn: Connection, principal: Principal, *, category_code: str, lon: float,
                lat: float, description: str, channel: str = "resident", crs: str = "wgs84",
                address: str | None = None, reported_at: dt.datetime | None = None,
                reporter_name: str | None = None, reporter_phone: str | None = None,
                reporter_account: str | None = None, anonymous: bool = False,
                photos: Iterable[bytes] = (), settings: CaseSettings | None = None) -> dict:
    """Take in one report; returns the case with ``duplicates_offered``."""
    settings = settings or current(CaseSettings)
    problems = []
    if channel not in CHANNELS:
        problems.append(Problem("report", None, "channel", f"{channel!r} is not one of "
                                                           f"{', '.join(CHANNELS)}"))
    if not description or not description.strip():
        problems.append(Problem("report", None, "description", "say what is wrong"))
    elif len(description) > 4000:
        problems.append(Problem("report", None, "description", "at most 4,000 characters"))
    if problems:
        raise InputError(problems)
    lon, lat = to_wgs84(lon, lat, crs)
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise InputError([Problem("report", None, "lat/long", "not a position on Earth")])
    category = conn.execute(text(
        "SELECT code, name, route_org_code, active FROM case_categories WHERE code = :c OR "
        "service_code = :c ORDER BY code = :c DESC LIMIT 1"), {"c": category_code}
    ).mappings().first()
    if category is None or not category["active"]:
        raise InputError([Problem("report", None, "service_code",
                                  f"{category_code!r} is not an open case category")])
    county = county_at(conn, lon, lat)
    now = dt.datetime.now(dt.timezone.utc)
    reported_at = reported_at or now
    if reported_at.tzinfo is None:
        raise InputError([Problem("report", None, "reported_at", "give a time zone")])
    routed = {k: v[0] for k, v in routing.routed(
        areas(conn, county), [lon], [lat], [reported_at.astimezone(SHANGHAI).date()],
        override_orgs=[category["route_org_code"]], categories=[category["name"]],
        boundary_m=settings.boundary_m).items()}
    code = new_code(conn, county, reported_at)
    params = {
        "code": code, "county": county, "channel": channel, "category": category["code"],
        "description": description.strip(), "address": address, "reported_at": reported_at,
        "rname": None if anonymous else reporter_name,
        "rphone": None if anonymous else reporter_phone,
        "raccount": reporter_account, "anonymous": anonymous,
        "unit_kind": routed["unit_kind"], "unit_code": routed["unit_code"],
        "co_units": json.dumps(list(routed["co_units"])), "rule": routed["rule"],
        "note": routed["note"], "near": bool(routed["near_boundary"]),
        "compound": routed["compound_code"], "cell": routed["grid_cell_code"],
        "division": routed["division_code"], "township": routed["township_code"],
        "dispatch_due": sla.dispatch_due(reported_at, settings), "x": lon, "y": lat,
        "source": "intake",
    }
    conn.execute(text(
        "INSERT INTO cases (code, county_code, channel, category_code, description, address, "
        "reported_at, reporter_name, reporter_phone, reporter_account, anonymous, unit_kind, "
        "unit_code, co_units, routing_rule, routing_note, near_boundary, compound_code, "
        "grid_cell_code, division_code, township_code, dispatch_due, geom, source) VALUES "
        "(:code, :county, :channel, :category, :description, :address, :reported_at, :rname, "
        ":rphone, :raccount, :anonymous, :unit_kind, :unit_code, CAST(:co_units AS jsonb), "
        ":rule, :note, :near, :compound, :cell, :division, :township, :dispatch_due, "
        "ST_SetSRID(ST_MakePoint(:x, :y), 4326), :source)"), params)
    case = lifecycle.load(conn, code, county)
    lifecycle.record_event(conn, case, principal.username, "report", None, "received",
                           routed["note"], at=now)
    for data in photos:
        add_photo(conn, case, data, "report", principal.username)
    case["duplicates_offered"] = duplicates(conn, county, category["code"], lon, lat,
                                            reported_at, exclude=code, settings=settings)
    return case


def add_photo(conn: Connection, case: dict, data: bytes, stage: str, actor: str) -> dict:
    """Store a photo (checked, EXIF read, a stripped copy for serving) and attach it."""
    from gridgov import media

    photo = media.store(data)
    conn.execute(text(
        "INSERT INTO case_photos (county_code, case_code, sha256, stage, taken_at, lon, lat, "
        "uploaded_by) VALUES (:k, :c, :s, :st, :t, :x, :y, :u) ON CONFLICT DO NOTHING"),
        {"k": case["county_code"], "c": case["code"], "s": photo.sha256, "st": stage,
         "t": photo.taken_at, "x": photo.lon, "y": photo.lat, "u": actor})
    return {"sha256": photo.sha256, "stage": stage, "taken_at": photo.taken_at}


def route_imported(conn: Connection, county: str, frame: pd.DataFrame,
                   settings: CaseSettings) -> pd.DataFrame:
    """Route imported cases of one county as of the day each was reported (Beijing time).

    ``frame``: lon, lat, reported_at, category (name), route_org_code. Returns, on ``frame``'s
    index, the routing columns named as in the cases table (co_units as lists)."""
    reported = pd.to_datetime(frame.reported_at, utc=True).dt.tz_convert("Asia/Shanghai")
    routed = routing.route(areas(conn, county), frame.lon, frame.lat, reported,
                           override_orgs=frame.route_org_code, categories=frame.category,
                           boundary_m=settings.boundary_m)
    routed.index = frame.index
    return routed.rename(columns={"rule": "routing_rule", "note": "routing_note"})


def import_deadlines(frame: pd.DataFrame, settings: CaseSettings) -> pd.DataFrame:
    """Deadlines of imported cases from their recorded times, vectorised: dispatch from the
    report, handling (and its warning) from the dispatch, or the report if never dispatched.

    ``frame``: reported_at, dispatched_at, time_limit, limit_type. Returns dispatch_due,
    handle_due and warn_at on ``frame``'s index."""
    cal = sla.calendar()
    reported = pd.to_datetime(frame.reported_at, utc=True)
    start = pd.to_datetime(frame.dispatched_at, utc=True).fillna(reported)
    return pd.DataFrame({
        "dispatch_due": cal.deadlines(reported, settings.dispatch_hours, "working_hours"),
        "handle_due": cal.deadlines(start, frame.time_limit, frame.limit_type),
        "warn_at": cal.deadlines(start, frame.time_limit * settings.warning_fraction,
                                 frame.limit_type),
    }, index=frame.index)


def settle_imported(conn: Connection, codes: list[str], counties: list[str],
                    settings: CaseSettings | None = None) -> int:
    """Route imported cases in bulk and set their deadlines from their recorded times; each
    gets an ``import`` event. Returns the number of cases settled."""
    settings = settings or current(CaseSettings)
    done = 0
    for county in counties:
        result = conn.execute(text(
            "SELECT c.code, ST_X(c.geom) AS lon, ST_Y(c.geom) AS lat, c.reported_at, "
            "c.dispatched_at, c.handled_at, c.channel, c.status, k.name AS category, "
            "k.route_org_code, k.time_limit, k.limit_type "
            "FROM cases c JOIN case_categories k ON k.code = c.category_code "
            "WHERE c.county_code = :k AND c.code = ANY(:codes)"),
            {"k": county, "codes": codes})
        frame = pd.DataFrame(result.all(), columns=list(result.keys()))
        if frame.empty:
            continue
        routed = route_imported(conn, county, frame, settings)
        due = import_deadlines(frame, settings)
        staged = pd.DataFrame({
            "code": frame.code, "unit_kind": routed.unit_kind, "unit_code": routed.unit_code,
            "co_units": [json.dumps(list(u)) for u in routed.co_units],
            "routing_rule": routed.routing_rule, "routing_note": routed.routing_note,
            "near_boundary": routed.near_boundary.astype(bool),
            "compound_code": routed.compound_code, "grid_cell_code": routed.grid_cell_code,
            "division_code": routed.division_code, "township_code": routed.township_code,
            **{k: v.dt.to_pydatetime() for k, v in due.items()},
        })
        # one statement for the whole county: arrays unnested into rows (an UPDATE per case
        # made a 20,000-order import wait on 20,000 round trips)
        arrays = {k: [None if v is None or (not isinstance(v, (str, bool)) and pd.isna(v))
                      else v for v in staged[k].tolist()] for k in staged.columns}
        conn.execute(text(
            "UPDATE cases c SET unit_kind = s.unit_kind, unit_code = s.unit_code, "
            "co_units = s.co_units::jsonb, routing_rule = s.routing_rule, "
            "routing_note = s.routing_note, near_boundary = s.near_boundary, "
            "compound_code = s.compound_code, grid_cell_code = s.grid_cell_code, "
            "division_code = s.division_code, township_code = s.township_code, "
            "dispatch_due = s.dispatch_due, handle_due = s.handle_due, warn_at = s.warn_at "
            "FROM unnest(CAST(:code AS text[]), CAST(:unit_kind AS text[]), "
            "CAST(:unit_code AS text[]), CAST(:co_units AS text[]), CAST(:routing_rule AS text[]),"
            " CAST(:routing_note AS text[]), CAST(:near_boundary AS boolean[]), "
            "CAST(:compound_code AS text[]), CAST(:grid_cell_code AS text[]), "
            "CAST(:division_code AS text[]), CAST(:township_code AS text[]), "
            "CAST(:dispatch_due AS timestamptz[]), CAST(:handle_due AS timestamptz[]), "
            "CAST(:warn_at AS timestamptz[])) AS s(code, unit_kind, unit_code, co_units, "
            "routing_rule, routing_note, near_boundary, compound_code, grid_cell_code, "
            "division_code, township_code, dispatch_due, handle_due, warn_at) "
            "WHERE c.county_code = :county AND c.code = s.code"), {**arrays, "county": county})
        conn.execute(text(
            "INSERT INTO case_events (county_code, case_code, at, actor, action, to_status, "
            "unit_kind, unit_code, note) SELECT county_code, code, now(), "
            "coalesce(nullif(current_setting('gridgov.actor', true), ''), session_user), "
            "'import', status, unit_kind, unit_code, routing_note FROM cases "
            "WHERE county_code = :k AND code = ANY(:codes)"), {"k": county, "codes": codes})
        done += len(frame)
    return done


def get_case(conn: Connection, code: str) -> dict:
    try:
        return lifecycle.load(conn, code)
    except NotFound:
        raise NotFound(f"no case {code!r}") from None
