"""Retention of check-in positions (issue 10, item 9): after ``ActivitySettings.retention_days``
(365) a check-in is reduced to the compound and the day, and month partitions wholly past the
retention period leave the live table.

Reducing a check-in (:func:`reduce`) keeps who, which compound, the kind, the status and its
flags, the hours and the planner's decision, and removes everything that says where the member
was and when exactly:

- ``geom`` (the position), ``accuracy_m``, ``distance_m`` and ``speed_kmh`` become NULL;
- ``checked_in_at`` becomes the start of its day (Beijing time) and ``checked_out_at`` the
  same moment (still set: a closed check-in stays closed and keeps counting as verified). As
  (member, checked_in_at) is unique, the n-th check-in of a member's day is kept at midnight plus
  n-1 microseconds: the order of the day's visits remains, not their times;
- ``reduced`` becomes true.

The cut-off is a day boundary (midnight, Beijing time, ``retention_days`` before today), so a
day is always reduced whole, in one run.

Month partitions (``checkins__COUNTY__YYYY_MM``) whose whole range lies before the cut-off are
then detached from their county's partition and kept, renamed
``checkins_archive__COUNTY__YYYY_MM``: their rows are already reduced (no positions, no times),
they still hold the verified hours of past years for annual reviews, they leave every live
query and index, and ``gridgov backup`` carries them. Dropping one is an operator's decision
(``DROP TABLE checkins_archive__141129__2025_10``). A month that is made again later (a late
import) and detached again is appended to its archive. The partitions' ranges are read from
the catalogue, whatever time zone they were made in.

Run it with ``gridgov retention [--dry-run]``; the job-queue worker runs it daily
(gridgov.jobs.activity).

Example:
    >>> import datetime as dt
    >>> plan = run(engine, now=dt.datetime(2026, 11, 28, 12, tzinfo=dt.timezone.utc), dry_run=True)
    >>> plan["cutoff"], plan["dry_run"]
    ('2025-11-28T00:00:00+08:00', True)
"""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import Connection, Engine, text

from gridgov.calendar import SHANGHAI
from gridgov.settings import ActivitySettings, current

log = logging.getLogger(__name__)

ARCHIVE = "checkins_archive"
_MONTH = r"^checkins__([A-Za-z0-9]+)__([0-9]{4}_[0-9]{2})$"

_REDUCE = """
WITH days AS (
    SELECT DISTINCT county_code, member_code,
           (checked_in_at AT TIME ZONE 'Asia/Shanghai')::date AS day
    FROM checkins WHERE NOT reduced AND checked_in_at < :cutoff
), ranked AS (
    SELECT c.id, c.county_code, c.checked_in_at, c.reduced, d.day,
           row_number() OVER (PARTITION BY c.county_code, c.member_code, d.day
                              ORDER BY c.checked_in_at, c.id) - 1 AS n
    FROM checkins c
    JOIN days d ON d.county_code = c.county_code AND d.member_code = c.member_code
     AND c.checked_in_at >= (d.day::timestamp AT TIME ZONE 'Asia/Shanghai')
     AND c.checked_in_at < ((d.day + 1)::timestamp AT TIME ZONE 'Asia/Shanghai')
), target AS (
    SELECT id, county_code, checked_in_at,
           (day::timestamp AT TIME ZONE 'Asia/Shanghai') + n * interval '1 microsecond' AS kept
    FROM ranked WHERE NOT reduced
)
UPDATE checkins c
SET geom = NULL, accuracy_m = NULL, distance_m = NULL, speed_kmh = NULL,
    checked_in_at = t.kept,
    checked_out_at = CASE WHEN c.checked_out_at IS NULL THEN NULL ELSE t.kept END,
    reduced = true, updated_at = now()
FROM target t
WHERE c.id = t.id AND c.county_code = t.county_code AND c.checked_in_at = t.checked_in_at
"""

# month partitions of the check-ins and the end of their range, as the catalogue has it
_MONTHS = r"""
SELECT parent.relname AS parent, child.relname AS name,
       CAST(substring(pg_get_expr(child.relpartbound, child.oid)
                      FROM 'TO \(''([^'']+)''\)') AS timestamptz) AS ends
FROM pg_inherits i
JOIN pg_class child ON child.oid = i.inhrelid
JOIN pg_class parent ON parent.oid = i.inhparent
JOIN pg_namespace n ON n.oid = child.relnamespace
WHERE n.nspname = current_schema() AND child.relname ~ :pattern
ORDER BY child.relname
"""


def cutoff(now: dt.datetime | None = None, settings: ActivitySettings | None = None
           ) -> dt.datetime:
    """Midnight (Beijing time) ``retention_days`` before ``now``'s day: what began before it is
    past the retention period."""
    s = settings or current(ActivitySettings)
    now = now or dt.datetime.now(dt.timezone.utc)
    day = now.astimezone(SHANGHAI).date() - dt.timedelta(days=s.retention_days)
    return dt.datetime.combine(day, dt.time(), SHANGHAI)


def due(conn: Connection, before: dt.datetime) -> int:
    """How many check-ins began before ``before`` and still hold their position and times."""
    return conn.execute(text("SELECT count(*) FROM checkins WHERE NOT reduced AND "
                             "checked_in_at < :c"), {"c": before}).scalar_one()


def reduce(conn: Connection, before: dt.datetime) -> int:
    """Reduce every check-in that began before ``before`` (a day boundary) to its compound and
    day; returns how many were reduced."""
    return conn.execute(text(_REDUCE), {"cutoff": before}).rowcount


def old_months(conn: Connection, before: dt.datetime) -> list[dict]:
    """Month partitions whose whole range ends by ``before``: parent, name, end of range."""
    rows = conn.execute(text(_MONTHS), {"pattern": _MONTH}).mappings().all()
    return [dict(r) for r in rows if r["ends"] is not None and r["ends"] <= before]


def detach(conn: Connection, parent: str, name: str) -> str:
    """Detach month partition ``name`` from ``parent`` and keep it as its archive table
    (appended to the archive if one exists); returns the archive's name."""
    import re

    county, month = re.match(_MONTH, name).groups()
    archive = f"{ARCHIVE}__{county}__{month}"
    q = conn.dialect.identifier_preparer.quote
    conn.execute(text(f"ALTER TABLE {q(parent)} DETACH PARTITION {q(name)}"))
    if conn.execute(text("SELECT to_regclass(:t) IS NOT NULL"), {"t": archive}).scalar():
        conn.execute(text(f"INSERT INTO {q(archive)} SELECT * FROM {q(name)}"))
        conn.execute(text(f"DROP TABLE {q(name)}"))
    else:
        conn.execute(text(f"ALTER TABLE {q(name)} RENAME TO {q(archive)}"))
    conn.execute(text(f"COMMENT ON TABLE {q(archive)} IS :c").bindparams(
        c="gridgov: check-ins past the retention period, reduced to compound and day; "
          "detached from " + parent))
    return archive


def run(bind: Engine | Connection, now: dt.datetime | None = None, dry_run: bool = False,
        settings: ActivitySettings | None = None) -> dict:
    """Reduce what is past the retention period and detach the months wholly past it, in one
    transaction; with ``dry_run`` only say what would be done. Returns ``cutoff`` (ISO),
    ``reduced`` (check-ins), ``detached`` (partition -> archive) and ``dry_run``."""
    before = cutoff(now, settings)

    def work(conn: Connection) -> dict:
        # one run at a time (the daily job and the command at once)
        conn.execute(text("SELECT pg_advisory_xact_lock(hashtext('gridgov.retention'))"))
        months = old_months(conn, before)
        if dry_run:
            return {"reduced": due(conn, before),
                    "detached": {m["name"]: f"{ARCHIVE}__{m['name'][len('checkins__'):]}"
                                 for m in months}}
        reduced = reduce(conn, before)
        # a reduced row may have moved to another month (its day began in the previous one)
        months = old_months(conn, before)
        detached = {m["name"]: detach(conn, m["parent"], m["name"]) for m in months}
        return {"reduced": reduced, "detached": detached}

    if isinstance(bind, Connection):
        out = work(bind)
    else:
        with bind.begin() as conn:
            out = work(conn)
    if not dry_run and (out["reduced"] or out["detached"]):
        log.info("retention: %d check-in(s) reduced, %d month(s) detached", out["reduced"],
                 len(out["detached"]))
    return {"cutoff": before.isoformat(), **out, "dry_run": dry_run}
