"""What each role sees of check-ins, and the reads behind the check-in API and the member's page.

A check-in is a member's position at a moment: personal data (gridgov.layers.activity). So:

==========  ===================================================================================
who         sees
==========  ===================================================================================
member      its own check-ins in full (position, accuracy, times): it is their own data
admin       everything
planner     single check-ins only where a decision needs them (the flagged queue): member code,
            organization, compound, the day, kind, flags, status and hours; never a position,
            nor anything derived from one (accuracy, distance, speed), nor a time finer than
            the day; otherwise per-compound counts and per-member totals (gridgov.activity.ledger)
viewer      aggregates only: counts per compound, coverage by visits
==========  ===================================================================================

Every check-in row leaves through :func:`shape`, so the rule is applied in one place.

Example:
    >>> import datetime as dt
    >>> from gridgov.auth import Principal
    >>> row = {"id": 7, "member_code": "141129-M0001", "compound_code": "141129100001001",
    ...        "kind": "service", "status": "flagged", "flags": ["fence"], "hours": 0.5,
    ...        "lon": 111.19765, "lat": 37.33306, "accuracy_m": 12.0, "distance_m": 140.2,
    ...        "checked_in_at": dt.datetime(2026, 11, 2, 1, 0, tzinfo=dt.timezone.utc)}
    >>> shape(row, Principal("zhang", "planner"))
    {'id': 7, 'member_code': '141129-M0001', 'compound_code': '141129100001001',
     'kind': 'service', 'status': 'flagged', 'flags': ['fence'], 'hours': 0.5,
     'day': '2026-11-02', 'kind_zh': '服务', 'status_zh': '待审核', 'flags_zh': ['不在小区范围内']}
    >>> shape(row, Principal("li", "member", member_code="141129-M0001"))["lon"]
    111.19765
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Connection, text

from gridgov.activity.checkins import COLUMNS, FLAGS_ZH
from gridgov.auth import Forbidden, Principal
from gridgov.calendar import SHANGHAI
from gridgov.cases.intake import to_wgs84
from gridgov.errors import NotFound
from gridgov.settings import ActivitySettings, current

STATUS_ZH = {"valid": "有效", "flagged": "待审核", "approved": "审核通过", "rejected": "审核未通过"}
KIND_ZH = {"report": "报到", "service": "服务"}
# a position, or what is computed from one (and the coordinate system it came in)
POSITION = ("lon", "lat", "accuracy_m", "distance_m", "speed_kmh", "client_crs")
# moments: below admin, a check-in has a day, not a time
TIMES = ("checked_in_at", "checked_out_at", "decided_at", "updated_at")


def _day(value) -> str | None:
    if value is None:
        return None
    return value.astimezone(SHANGHAI).date().isoformat()


def _json(v):
    if isinstance(v, (dt.date, dt.datetime)):
        return v.isoformat()
    return v


def shape(row: dict, who: Principal) -> dict:
    """A check-in as ``who`` may see it: in full for admins and for the member it belongs to;
    without positions and times for planners; refused to everybody else."""
    own = who.role == "member" and who.member_code == row.get("member_code")
    if who.role == "admin" or own:
        out = {k: _json(v) for k, v in row.items()}
    elif who.at_least("planner"):
        out = {k: _json(v) for k, v in row.items() if k not in POSITION and k not in TIMES}
        if "decided_at" in row:
            out["decided_on"] = _day(row["decided_at"])
    else:
        raise Forbidden("check-ins are personal data: members see their own, planners the "
                        "flagged queue and totals, admins everything; viewers see aggregates")
    out["day"] = _day(row.get("checked_in_at")) if "checked_in_at" in row else row.get("day")
    out["kind_zh"] = KIND_ZH.get(row.get("kind"), row.get("kind"))
    out["status_zh"] = STATUS_ZH.get(row.get("status"), row.get("status"))
    out["flags_zh"] = [FLAGS_ZH.get(f, f) for f in row.get("flags") or []]
    return out


# --- reads -----------------------------------------------------------------------------------

_WITH_NAMES = (f"SELECT c.*, k.name AS compound_name, o.name AS org_name FROM (SELECT {COLUMNS} "
               "FROM checkins WHERE {where}) c LEFT JOIN compounds k ON k.code = c.compound_code "
               "LEFT JOIN party_orgs o ON o.code = c.org_code")


def load(conn: Connection, checkin_id: int, where: tuple | None = None) -> dict:
    """One check-in (all of it, with its compound's and organization's names); ``where``
    (county, check-in time), when known, reads one partition instead of probing them all."""
    exact = " AND county_code = :k AND checked_in_at = :at" if where else ""
    row = conn.execute(text(_WITH_NAMES.format(where=f"id = :i{exact}")),
                       {"i": checkin_id, "k": where and where[0], "at": where and where[1]}
                       ).mappings().first()
    if row is None:
        raise NotFound(f"no check-in {checkin_id}")
    return dict(row)


def owner(conn: Connection, checkin_id: int) -> str:
    """The member a check-in belongs to."""
    member = conn.execute(text("SELECT member_code FROM checkins WHERE id = :i"),
                          {"i": checkin_id}).scalar()
    if member is None:
        raise NotFound(f"no check-in {checkin_id}")
    return member


def mine(conn: Connection, member_code: str, days: int = 30,
         now: dt.datetime | None = None) -> list[dict]:
    """A member's check-ins of the last ``days`` days (Beijing time), newest first."""
    now = now or dt.datetime.now(dt.timezone.utc)
    since = dt.datetime.combine(now.astimezone(SHANGHAI).date() - dt.timedelta(days=days - 1),
                                dt.time(), SHANGHAI)
    rows = conn.execute(text(
        _WITH_NAMES.format(where="member_code = :m AND checked_in_at >= :since")
        + " ORDER BY c.checked_in_at DESC, c.id DESC"), {"m": member_code, "since": since})
    return [dict(r) for r in rows.mappings()]


def queue(conn: Connection, status: str = "flagged", start: dt.date | None = None,
          end: dt.date | None = None, limit: int = 200) -> list[dict]:
    """Check-ins of one status (``flagged``: those waiting for a planner), oldest first, in
    [start, end) when given."""
    where = ["status = :s"]
    params: dict = {"s": status, "limit": limit}
    if start:
        where.append("checked_in_at >= :start")
        params["start"] = dt.datetime.combine(start, dt.time(), SHANGHAI)
    if end:
        where.append("checked_in_at < :end")
        params["end"] = dt.datetime.combine(end, dt.time(), SHANGHAI)
    rows = conn.execute(text(_WITH_NAMES.format(where=" AND ".join(where))
                             + " ORDER BY c.checked_in_at, c.id LIMIT :limit"), params)
    return [dict(r) for r in rows.mappings()]


def compounds_for(conn: Connection, member_code: str, lon: float | None = None,
                  lat: float | None = None, crs: str = "wgs84", as_of: dt.date | None = None,
                  settings: ActivitySettings | None = None) -> list[dict]:
    """The compounds a member's organization is assigned to (as of ``as_of``, default today):
    code, name, and with a position the distance from the compound's outline in metres and
    whether that is within the fence, nearest first."""
    s = settings or current(ActivitySettings)
    as_of = as_of or dt.datetime.now(SHANGHAI).date()
    if (lon is None) != (lat is None):
        lon = lat = None
    if lon is not None:
        lon, lat = to_wgs84(lon, lat, crs)
    if conn.execute(text("SELECT 1 FROM members WHERE code = :m"), {"m": member_code}).first() \
            is None:
        raise NotFound(f"no member {member_code!r}")
    rows = conn.execute(text(
        "SELECT DISTINCT k.code, k.name, o.code AS org_code, o.name AS org_name, "
        "CASE WHEN CAST(:x AS float8) IS NULL THEN NULL ELSE round(ST_Distance(k.geom::geography,"
        " ST_SetSRID(ST_MakePoint(:x, :y), 4326)::geography)::numeric, 1)::float8 END "
        "AS distance_m FROM members m JOIN assignments a ON a.org_code = m.org_code "
        "AND a.valid_from <= :d AND (a.valid_to IS NULL OR a.valid_to > :d) "
        "JOIN compounds k ON k.code = a.compound_code JOIN party_orgs o ON o.code = m.org_code "
        "WHERE m.code = :m ORDER BY distance_m NULLS LAST, k.code"),
        {"m": member_code, "d": as_of, "x": lon, "y": lat}).mappings().all()
    return [{**r, "within_fence": None if r["distance_m"] is None
             else r["distance_m"] <= s.fence_m} for r in rows]
