"""The deadline of each stage of a case, from the one working-time calendar (gridgov.calendar).

- dispatch: the center files and dispatches within ``dispatch_hours`` working hours of intake;
- sign: the unit signs within ``sign_hours`` working hours of dispatch, a department called by a
  community's whistle (吹哨) within ``whistle_sign_minutes`` on the clock;
- handle: the category's own limit and limit type, from dispatch (and again after rework);
  ``warn_at`` is 80 % of it;
- check: the center checks within ``check_days`` working days of the unit's feedback.

Deadlines are stored on the case when a stage starts, so "overdue" and "on time" are plain
comparisons in SQL (the KPIs over millions of cases need no calendar).

Example:
    >>> import datetime as dt
    >>> from gridgov.calendar import SHANGHAI
    >>> friday = dt.datetime(2025, 9, 26, 17, 0, tzinfo=SHANGHAI)
    >>> handle_deadlines(friday, 1, "working_days")[0].isoformat()   # Sunday 28th is 调休
    '2025-09-28T17:00:00+08:00'
"""

from __future__ import annotations

import datetime as dt

from gridgov.calendar import Calendar
from gridgov.settings import CaseSettings, current

_CALENDAR: Calendar | None = None


def calendar() -> Calendar:
    """The process's calendar (read from settings once)."""
    global _CALENDAR
    if _CALENDAR is None:
        _CALENDAR = Calendar.from_settings()
    return _CALENDAR


def dispatch_due(reported_at: dt.datetime, settings: CaseSettings | None = None) -> dt.datetime:
    settings = settings or current(CaseSettings)
    return calendar().deadline(reported_at, settings.dispatch_hours, "working_hours")


def sign_due(dispatched_at: dt.datetime, whistle: bool,
             settings: CaseSettings | None = None) -> dt.datetime:
    settings = settings or current(CaseSettings)
    if whistle:  # a department answers a whistle around the clock
        return calendar().deadline(dispatched_at, settings.whistle_sign_minutes / 60,
                                   "urgent_hours")
    return calendar().deadline(dispatched_at, settings.sign_hours, "working_hours")


def handle_deadlines(start: dt.datetime, limit: float, limit_type: str,
                     settings: CaseSettings | None = None) -> tuple[dt.datetime, dt.datetime]:
    """(handle_due, warn_at) for a handling clock starting at ``start``."""
    settings = settings or current(CaseSettings)
    cal = calendar()
    return (cal.deadline(start, limit, limit_type),
            cal.deadline(start, limit * settings.warning_fraction, limit_type))


def check_due(handled_at: dt.datetime, settings: CaseSettings | None = None) -> dt.datetime:
    settings = settings or current(CaseSettings)
    return calendar().deadline(handled_at, settings.check_days, "working_days")


def resumed(due: dt.datetime | None, paused_at: dt.datetime, now: dt.datetime,
            limit_type: str) -> dt.datetime | None:
    """A deadline after a suspension: what was left of the clock at ``paused_at`` runs again
    from ``now`` (the clock stops while a case is suspended)."""
    if due is None:
        return None
    cal = calendar()
    left = max(cal.elapsed(paused_at, due, limit_type), 0.0)
    return cal.deadline(now, left, limit_type)
