"""Members' check-ins at compounds (党员进社区报到 / 服务), from a phone.

A check-in records the browser's position, its accuracy and the coordinate system the client
used (WGS84, or GCJ-02 from WeChat, converted here). It counts when it lies within the
compound's outline plus ``fence_m`` (100 m) and lasts at least ``min_minutes`` (5). It is
*flagged*, never silently dropped, when the accuracy is worse than 100 m, the client reports a
mocked position, the implied speed from the member's previous check-in exceeds 120 km/h, it
falls outside the fence, or it is too short; a forgotten check-out is closed at 23:59 with zero
hours. Flagged check-ins wait for a planner's decision (approve, with hours, or reject).

Positions are a member's movements: personal data. Only admins see them (gridgov.auth); every
other output gives counts per compound and totals per member.

Example:
    >>> import datetime as dt
    >>> from gridgov.calendar import SHANGHAI
    >>> at = dt.datetime(2026, 11, 20, 9, 0, tzinfo=SHANGHAI)
    >>> with engine.begin() as conn:
    ...     c = check_in(conn, "141129-M0001", "141129100001001", lon=111.19765, lat=37.33306,
    ...                  accuracy_m=12, at=at)
    ...     c = check_out(conn, c["id"], at + dt.timedelta(minutes=40))
    >>> c["status"], c["flags"], c["hours"]
    ('valid', [], 0.67)
"""

from __future__ import annotations

import datetime as dt
import json

from sqlalchemy import Connection, text

from gridgov.calendar import SHANGHAI
from gridgov.cases.intake import to_wgs84
from gridgov.errors import InputError, NotFound, Problem, StateConflict
from gridgov.settings import ActivitySettings

FLAGS_ZH = {"accuracy": "定位精度差", "mocked": "模拟定位", "speed": "移动速度异常",
            "fence": "不在小区范围内", "short": "停留不足", "auto_checkout": "未签退（系统23:59签退）"}
COLUMNS = ("id, member_code, county_code, org_code, compound_code, kind, checked_in_at, "
           "checked_out_at, auto_checkout, accuracy_m, client_crs, mocked, distance_m, speed_kmh, "
           "flags, status, hours, photo_sha256, decided_by, decided_at, decision_note, reduced, "
           "ST_X(geom) AS lon, ST_Y(geom) AS lat")


def _load(conn: Connection, checkin_id: int, lock: bool = False) -> dict:
    row = conn.execute(text(f"SELECT {COLUMNS} FROM checkins WHERE id = :i"
                            + (" FOR UPDATE" if lock else "")), {"i": checkin_id}).mappings().first()
    if row is None:
        raise NotFound(f"no check-in {checkin_id}")
    return dict(row)


def check_in(conn: Connection, member_code: str, compound_code: str, *, lon: float, lat: float,
             accuracy_m: float | None = None, crs: str = "wgs84", mocked: bool = False,
             kind: str = "service", at: dt.datetime | None = None,
             photo_sha256: str | None = None, settings: ActivitySettings | None = None) -> dict:
    """Record a check-in; returns it with its flags (a flagged one waits for a planner)."""
    s = settings or ActivitySettings()
    at = at or dt.datetime.now(dt.timezone.utc)
    if at.tzinfo is None:
        raise InputError([Problem("checkin", None, "at", "give a time zone")])
    if kind not in ("report", "service"):
        raise InputError([Problem("checkin", None, "kind", "report (报到) or service (服务)")])
    lon, lat = to_wgs84(lon, lat, crs)
    member = conn.execute(text("SELECT code, org_code, county_code FROM members WHERE code = :m"),
                          {"m": member_code}).mappings().first()
    if member is None:
        raise NotFound(f"no member {member_code!r}")
    place = conn.execute(text(
        "SELECT county_code, ST_Distance(geom::geography, ST_SetSRID(ST_MakePoint(:x, :y), "
        "4326)::geography) AS distance_m FROM compounds WHERE code = :c"),
        {"c": compound_code, "x": lon, "y": lat}).mappings().first()
    if place is None:
        raise NotFound(f"no compound {compound_code!r}")
    previous = conn.execute(text(
        "SELECT checked_in_at, ST_Distance(geom::geography, ST_SetSRID(ST_MakePoint(:x, :y), "
        "4326)::geography) AS moved_m FROM checkins WHERE member_code = :m AND county_code = :k "
        "AND checked_in_at < :at AND geom IS NOT NULL ORDER BY checked_in_at DESC LIMIT 1"),
        {"m": member_code, "k": member["county_code"], "at": at, "x": lon, "y": lat}
    ).mappings().first()
    speed = None
    if previous is not None:
        hours = max((at - previous["checked_in_at"]).total_seconds() / 3600, 1 / 3600)
        speed = round(previous["moved_m"] / 1000 / hours, 1)
    flags = []
    if accuracy_m is not None and accuracy_m > s.max_accuracy_m:
        flags.append("accuracy")
    if mocked:
        flags.append("mocked")
    if speed is not None and speed > s.max_speed_kmh:
        flags.append("speed")
    if place["distance_m"] > s.fence_m:
        flags.append("fence")
    month = at.astimezone(SHANGHAI).strftime("%Y-%m-01")
    conn.execute(text("SELECT gridgov_month_partitions('checkins', :k, CAST(:m AS date), "
                      "CAST(:m AS date))"), {"k": place["county_code"], "m": month})
    new_id = conn.execute(text(
        "INSERT INTO checkins (member_code, county_code, org_code, compound_code, kind, "
        "checked_in_at, accuracy_m, client_crs, mocked, distance_m, speed_kmh, flags, status, "
        "photo_sha256, geom, source) VALUES (:m, :k, :o, :c, :kind, :at, :acc, :crs, :mocked, "
        ":dist, :speed, CAST(:flags AS jsonb), :status, :photo, "
        "ST_SetSRID(ST_MakePoint(:x, :y), 4326), 'phone') RETURNING id"),
        {"m": member_code, "k": place["county_code"], "o": member["org_code"],
         "c": compound_code, "kind": kind, "at": at, "acc": accuracy_m, "crs": crs,
         "mocked": mocked, "dist": round(place["distance_m"], 1), "speed": speed,
         "flags": json.dumps(flags), "status": "flagged" if flags else "valid",
         "photo": photo_sha256, "x": lon, "y": lat}).scalar_one()
    return _load(conn, new_id)


def check_out(conn: Connection, checkin_id: int, at: dt.datetime | None = None,
              settings: ActivitySettings | None = None) -> dict:
    """Close a check-in: its hours, and the ``short`` flag under ``min_minutes``."""
    s = settings or ActivitySettings()
    at = at or dt.datetime.now(dt.timezone.utc)
    row = _load(conn, checkin_id, lock=True)
    if row["checked_out_at"] is not None:
        raise StateConflict(f"check-in {checkin_id} was already closed at "
                            f"{row['checked_out_at'].astimezone(SHANGHAI):%H:%M}")
    if at < row["checked_in_at"]:
        raise InputError([Problem("checkin", None, "at", "check-out before the check-in")])
    minutes = (at - row["checked_in_at"]).total_seconds() / 60
    flags = list(row["flags"] or [])
    if minutes < s.min_minutes and "short" not in flags:
        flags.append("short")
    conn.execute(text(
        "UPDATE checkins SET checked_out_at = :at, hours = :h, flags = CAST(:f AS jsonb), "
        "status = CASE WHEN :flagged THEN 'flagged' ELSE status END, updated_at = now() "
        "WHERE id = :i"),
        {"at": at, "h": round(minutes / 60, 2), "f": json.dumps(flags), "flagged": bool(flags),
         "i": checkin_id})
    return _load(conn, checkin_id)


def auto_checkout(conn: Connection, day: dt.date) -> int:
    """Close the check-ins of ``day`` still open at 23:59 (Beijing time) with zero hours; they
    wait for a planner to approve what the member really did."""
    end = dt.datetime.combine(day, dt.time(23, 59), SHANGHAI)
    start = dt.datetime.combine(day, dt.time(0, 0), SHANGHAI)
    return conn.execute(text(
        "UPDATE checkins SET checked_out_at = :end, auto_checkout = true, hours = 0, "
        "status = 'flagged', flags = coalesce(flags, '[]'::jsonb) || '[\"auto_checkout\"]', "
        "updated_at = now() WHERE checked_out_at IS NULL AND checked_in_at >= :start "
        "AND checked_in_at < :end"), {"start": start, "end": end}).rowcount


def decide(conn: Connection, checkin_id: int, approve: bool, decided_by: str, *,
           hours: float | None = None, note: str | None = None,
           settings: ActivitySettings | None = None) -> dict:
    """A planner's decision on a flagged check-in; ``hours`` for an approved auto check-out."""
    s = settings or ActivitySettings()
    row = _load(conn, checkin_id, lock=True)
    if row["status"] != "flagged":
        raise StateConflict(f"check-in {checkin_id} is {row['status']}, not waiting for a "
                            "decision")
    if hours is not None and not 0 <= hours <= s.manual_hours_cap:
        raise InputError([Problem("checkin", None, "hours",
                                  f"between 0 and {s.manual_hours_cap:g} hours")])
    conn.execute(text(
        "UPDATE checkins SET status = :st, hours = coalesce(:h, hours), decided_by = :by, "
        "decided_at = now(), decision_note = :n, updated_at = now() WHERE id = :i"),
        {"st": "approved" if approve else "rejected", "h": hours if approve else 0,
         "by": decided_by, "n": note, "i": checkin_id})
    return _load(conn, checkin_id)


def add_hours(conn: Connection, member_code: str, day: dt.date, hours: float, reason: str,
              added_by: str, compound_code: str | None = None,
              settings: ActivitySettings | None = None) -> dict:
    """Hours added by hand: kept apart from verified hours, capped per member and day."""
    s = settings or ActivitySettings()
    if not reason or not reason.strip():
        raise InputError([Problem("hours", None, "reason", "say why the hours are added")])
    member = conn.execute(text("SELECT org_code, county_code FROM members WHERE code = :m"),
                          {"m": member_code}).mappings().first()
    if member is None:
        raise NotFound(f"no member {member_code!r}")
    already = conn.execute(text("SELECT coalesce(sum(hours), 0) FROM hours_added WHERE "
                                "member_code = :m AND day = :d"),
                           {"m": member_code, "d": day}).scalar()
    if hours <= 0 or already + hours > s.manual_hours_cap:
        raise InputError([Problem("hours", None, "hours",
                                  f"{hours:g} h would make {already + hours:g} h added by hand "
                                  f"on {day}; the cap is {s.manual_hours_cap:g} h a day")])
    row = conn.execute(text(
        "INSERT INTO hours_added (member_code, county_code, org_code, compound_code, day, hours, "
        "reason, added_by, source) VALUES (:m, :k, :o, :c, :d, :h, :r, :by, 'manual') "
        "RETURNING id, member_code, day, hours, reason, added_by, added_at"),
        {"m": member_code, "k": member["county_code"], "o": member["org_code"],
         "c": compound_code, "d": day, "h": hours, "r": reason.strip(), "by": added_by}
    ).mappings().one()
    return dict(row)
