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

Verified visits are kept per county and month (:func:`keep_visits`, table ``checkin_visits``):
a province's month is a million check-ins, and coverage by visits reads some 16,000 rows instead.

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
from contextlib import contextmanager

from sqlalchemy import Connection, Engine, text

from gridgov.calendar import SHANGHAI
from gridgov.cases.intake import to_wgs84
from gridgov.errors import InputError, NotFound, Problem, StateConflict
from gridgov.settings import ActivitySettings, current

FLAGS_ZH = {"accuracy": "定位精度差", "mocked": "模拟定位", "speed": "移动速度异常",
            "fence": "不在小区范围内", "short": "停留不足", "auto_checkout": "未签退（系统23:59签退）"}
COLUMNS = ("id, member_code, county_code, org_code, compound_code, kind, checked_in_at, "
           "checked_out_at, auto_checkout, accuracy_m, client_crs, mocked, distance_m, speed_kmh, "
           "flags, status, hours, photo_sha256, decided_by, decided_at, decision_note, reduced, "
           "ST_X(geom) AS lon, ST_Y(geom) AS lat")


def _load(conn: Connection, checkin_id: int, lock: bool = False,
          where: tuple[str, dt.datetime] | None = None) -> dict:
    """A check-in by id; ``where`` (county, check-in time), when known, reads one partition
    of a province's (counties × months) instead of probing them all."""
    exact = " AND county_code = :k AND checked_in_at = :at" if where else ""
    row = conn.execute(text(f"SELECT {COLUMNS} FROM checkins WHERE id = :i{exact}"
                            + (" FOR UPDATE" if lock else "")),
                       {"i": checkin_id, "k": where and where[0], "at": where and where[1]}
                       ).mappings().first()
    if row is None:
        raise NotFound(f"no check-in {checkin_id}")
    return dict(row)


def check_in(conn: Connection, member_code: str, compound_code: str, *, lon: float, lat: float,
             accuracy_m: float | None = None, crs: str = "wgs84", mocked: bool = False,
             kind: str = "service", at: dt.datetime | None = None,
             photo_sha256: str | None = None, settings: ActivitySettings | None = None) -> dict:
    """Record a check-in; returns it with its flags (a flagged one waits for a planner)."""
    s = settings or current(ActivitySettings)
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
    return _load(conn, new_id, where=(place["county_code"], at))


def check_out(conn: Connection, checkin_id: int, at: dt.datetime | None = None,
              settings: ActivitySettings | None = None) -> dict:
    """Close a check-in: its hours, and the ``short`` flag under ``min_minutes``."""
    s = settings or current(ActivitySettings)
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
    s = settings or current(ActivitySettings)
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
    s = settings or current(ActivitySettings)
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


# --- verified visits kept per month ---------------------------------------------------------------

# one refresh at a time: a month is computed and stored under the lock (see keep_visits)
_KEEP_LOCK = 0x76697369  # 'visi'
# counties per transaction: a check-in whose day is being recomputed waits for one batch only
_KEEP_BATCH = 12

# The (county, month) pairs asked for that are not kept, or whose days a write has marked since
# they were (changed_days; county '*': the check-ins were truncated).
_STALE = """
SELECT c.county_code, m.month
FROM unnest(CAST(:counties AS text[])) AS c(county_code)
CROSS JOIN unnest(CAST(:months AS date[])) AS m(month)
WHERE NOT EXISTS (SELECT FROM checkin_visits_state s
                  WHERE s.county_code = c.county_code AND s.month = m.month)
   OR EXISTS (SELECT FROM changed_days d
              WHERE d.table_name = 'checkins' AND d.county_code IN (c.county_code, '*')
                AND (d.county_code = '*' OR d.day >= m.month
                     AND d.day < CAST(m.month + interval '1 month' AS date)))
ORDER BY m.month, c.county_code
"""

# One month's verified visits of some counties, per compound and the organization checked in
# for: a check-in counts when it is valid, or approved by a planner, and checked out (the rule of
# gridgov/sql/visits.sql, which reads these rows and applies the assignments). Its day is its
# bit (1 << day - 1) in ``days``.
_KEEP = """
WITH v AS MATERIALIZED (
    SELECT c.county_code, c.compound_code, c.org_code, c.member_code, c.checked_in_at, c.hours
    FROM checkins c
    WHERE c.county_code = ANY(CAST(:counties AS text[]))
      AND c.checked_in_at >= :lo AND c.checked_in_at < :hi
      AND c.status IN ('valid', 'approved') AND c.checked_out_at IS NOT NULL
      AND c.org_code IS NOT NULL
), per_org AS (
    SELECT county_code, compound_code, org_code,
           bit_or(1 << (extract(day FROM checked_in_at AT TIME ZONE 'Asia/Shanghai')::int - 1))
             AS days,
           count(*) AS visits, sum(hours) AS hours, max(checked_in_at) AS last_at,
           array_agg(DISTINCT member_code ORDER BY member_code) AS members
    FROM v GROUP BY county_code, compound_code, org_code
), per_compound AS (
    SELECT county_code, compound_code, count(DISTINCT member_code) AS members
    FROM v GROUP BY county_code, compound_code
)
INSERT INTO checkin_visits (month, county_code, compound_code, org_code, days, visits, hours,
                            last_at, members, compound_orgs, compound_members)
SELECT CAST(:month AS date), o.county_code, o.compound_code, o.org_code, o.days, o.visits,
       o.hours, o.last_at, o.members,
       count(*) OVER (PARTITION BY o.county_code, o.compound_code), p.members
FROM per_org o JOIN per_compound p USING (county_code, compound_code)
"""


def next_month(month: dt.date) -> dt.date:
    return (month.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


@contextmanager
def _transaction(bind: Engine | Connection):
    if isinstance(bind, Engine):
        with bind.begin() as conn:
            yield conn
    else:
        with bind.begin():
            yield bind


def stale_months(conn: Connection, counties: list[str], months: list[dt.date]
                 ) -> list[tuple[str, dt.date]]:
    """The (county, month) of ``counties`` × ``months`` (first days) whose verified visits are
    not kept, or were kept before a write changed one of their check-ins."""
    if not counties or not months:
        return []
    return [tuple(r) for r in conn.execute(text(_STALE), {"counties": counties,
                                                          "months": months}).all()]


def keep_visits(bind: Engine | Connection, counties: list[str], months: list[dt.date]) -> int:
    """Bring the verified visits kept per month (``checkin_visits``) up to date for ``counties``
    in ``months`` (their first days): compute each (county, month) not kept yet or marked by a
    write since (``changed_days``), a few counties per transaction. ``bind`` is an engine, or a
    connection outside any transaction: each step commits. Returns the (county, month)s
    computed.

    Each step holds one advisory lock and removes the marks of its months before it reads the
    check-ins: a write committed after that read leaves its mark, and the month is computed
    again the next time, never kept as if it were up to date."""
    truncated = text("SELECT EXISTS (SELECT FROM changed_days WHERE table_name = 'checkins' "
                     "AND county_code = '*')")
    with _transaction(bind) as conn:
        if conn.execute(truncated).scalar():
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _KEEP_LOCK})
            if conn.execute(truncated).scalar():
                # nothing kept holds any more, and every month is computed when asked
                conn.execute(text(
                    "DELETE FROM checkin_visits; DELETE FROM checkin_visits_state; "
                    "DELETE FROM changed_days WHERE table_name = 'checkins'"))
        todo = stale_months(conn, counties, months)
    by_month: dict[dt.date, list[str]] = {}
    for county, month in todo:
        by_month.setdefault(month, []).append(county)
    done = 0
    for month, stale in by_month.items():
        for i in range(0, len(stale), _KEEP_BATCH):
            with _transaction(bind) as conn:
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _KEEP_LOCK})
                batch = [c for c, _ in stale_months(conn, stale[i:i + _KEEP_BATCH], [month])]
                if not batch:  # kept by another caller meanwhile
                    continue
                end = next_month(month)
                params = {"counties": batch, "month": month, "next": end,
                          "lo": dt.datetime.combine(month, dt.time(), SHANGHAI),
                          "hi": dt.datetime.combine(end, dt.time(), SHANGHAI)}
                conn.execute(text(
                    "DELETE FROM changed_days WHERE table_name = 'checkins' AND county_code = "
                    "ANY(:counties) AND day >= :month AND day < :next"), params)
                conn.execute(text("DELETE FROM checkin_visits WHERE county_code = ANY(:counties) "
                                  "AND month = :month"), params)
                conn.execute(text(_KEEP), params)
                conn.execute(text(
                    "INSERT INTO checkin_visits_state (county_code, month) SELECT c, :month "
                    "FROM unnest(CAST(:counties AS text[])) AS c ON CONFLICT (county_code, month) "
                    "DO UPDATE SET computed_at = now()"), params)
                done += len(batch)
    return done
