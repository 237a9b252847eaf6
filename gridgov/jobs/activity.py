"""Periodic jobs of the check-ins, run by the job-queue worker (gridgov.jobs.queue):

- at 23:59 Beijing time, the check-ins of the day still open are closed with zero hours and
  flagged for a planner (:func:`gridgov.activity.checkins.auto_checkout`); days missed while no
  worker ran are closed at the next run;
- daily at 03:30 Beijing time, the retention job (:func:`gridgov.activity.retention.run`):
  positions past ``retention_days`` reduced to compound and day, old months detached.

procrastinate reads cron expressions in UTC: 23:59 in Beijing (UTC+8, no daylight saving) is
``59 15 * * *``, 03:30 is ``30 19 * * *``. Each run is keyed by its scheduled time
(procrastinate's periodic deferrer passes it) and a queueing lock keeps a second one from
being enqueued while one waits. The tasks register when gridgov.jobs.notify (the worker's
import path) is imported.

Example:
    >>> import datetime as dt
    >>> days_to_close(dt.datetime(2026, 11, 28, 15, 59, tzinfo=dt.timezone.utc))
    datetime.date(2026, 11, 28)
"""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import Connection, text

from gridgov.calendar import SHANGHAI
from gridgov.jobs import queue

log = logging.getLogger(__name__)

AUTO_CHECKOUT = "gridgov.activity.auto_checkout"
RETENTION = "gridgov.activity.retention"
QUEUE = "activity"
AUTO_CHECKOUT_CRON = "59 15 * * *"  # 23:59 Beijing time
RETENTION_CRON = "30 19 * * *"  # 03:30 Beijing time


def days_to_close(at: dt.datetime) -> dt.date:
    """The day (Beijing time) a run scheduled at ``at`` closes: the day it is 23:59 on."""
    return at.astimezone(SHANGHAI).date()


def close_open_days(conn: Connection, through: dt.date) -> dict[str, int]:
    """Auto check-out of every day up to ``through`` that still has open check-ins (the day
    itself, and any day a stopped worker missed); returns day -> check-ins closed."""
    conn.execute(text("SELECT pg_advisory_xact_lock(hashtext('gridgov.auto_checkout'))"))
    from gridgov.activity import checkins

    end = dt.datetime.combine(through, dt.time(23, 59), SHANGHAI)
    days = [r[0] for r in conn.execute(text(
        "SELECT DISTINCT (checked_in_at AT TIME ZONE 'Asia/Shanghai')::date AS day "
        "FROM checkins WHERE checked_out_at IS NULL AND checked_in_at < :end ORDER BY day"),
        {"end": end})]
    closed = {day.isoformat(): checkins.auto_checkout(conn, day) for day in days}
    if any(closed.values()):
        log.info("auto check-out: %s", closed)
    return closed


@queue.app.periodic(cron=AUTO_CHECKOUT_CRON, periodic_id="auto_checkout")
@queue.app.task(name=AUTO_CHECKOUT, queue=QUEUE, queueing_lock=AUTO_CHECKOUT, pass_context=True)
def auto_checkout_task(context, timestamp: int) -> None:
    """23:59 Beijing time: close the day's open check-ins (and any missed day's)."""
    at = dt.datetime.fromtimestamp(timestamp, dt.timezone.utc)
    with queue.engine_of(context).begin() as conn:
        close_open_days(conn, days_to_close(at))


@queue.app.periodic(cron=RETENTION_CRON, periodic_id="retention")
@queue.app.task(name=RETENTION, queue=QUEUE, queueing_lock=RETENTION, pass_context=True)
def retention_task(context, timestamp: int) -> None:
    """Daily: the retention job as of the scheduled time."""
    from gridgov.activity import retention

    retention.run(queue.engine_of(context),
                  now=dt.datetime.fromtimestamp(timestamp, dt.timezone.utc))
