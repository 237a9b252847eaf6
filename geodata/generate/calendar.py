"""China's official working calendar for the synthetic year: the one working-day rule every layer
draws on (case deadlines, the days members and sites are busy, account deadlines, demand time
limits, progress reports).

Real: the State Council's notice on the 2026 holidays (国务院办公厅, November 2025), that is the
weekdays off and the make-up working days (调休) on a weekend, and the office hours 08:30-12:00
and 14:30-18:00, which are gridgov.calendar's defaults. December 2025 has no holiday and no
make-up day, so outside 2026 a working day is Monday to Friday.

The generator does not import gridgov (it needs only numpy, shapely and pyproj), so the days are
listed here, once; they are the ones the chinese-calendar package gives gridgov, and
tests/test_seed.py checks that account and demand deadlines drawn on them equal gridgov's.
"""
from __future__ import annotations

import datetime as dt

HOLIDAYS = ["2026-01-01", "2026-01-02", "2026-02-16", "2026-02-17", "2026-02-18", "2026-02-19",
            "2026-02-20", "2026-02-23", "2026-04-06", "2026-05-01", "2026-05-04", "2026-05-05",
            "2026-06-19", "2026-09-25", "2026-10-01", "2026-10-02", "2026-10-05", "2026-10-06",
            "2026-10-07"]
MAKEUP_DAYS = ["2026-01-04", "2026-02-14", "2026-02-28", "2026-05-09", "2026-09-20", "2026-10-10"]
WORK_PERIODS = ((8 * 60 + 30, 12 * 60), (14 * 60 + 30, 18 * 60))   # minutes of the day
CLOSING = WORK_PERIODS[-1][1]    # 18:00: "the end of a working day", as gridgov's deadlines

_OFF = frozenset(dt.date.fromisoformat(d) for d in HOLIDAYS)
_ON = frozenset(dt.date.fromisoformat(d) for d in MAKEUP_DAYS)


def is_workday(d: dt.date) -> bool:
    """A working day: Monday to Friday unless a holiday, or a make-up day (调休)."""
    return d in _ON or (d.weekday() < 5 and d not in _OFF)


def workday_on_or_after(d: dt.date, n: int = 1) -> dt.date:
    """The n-th working day on or after d (n=1: d itself if it is one)."""
    d -= dt.timedelta(days=1)
    return add_workdays(d, n)


def add_workdays(d: dt.date, n: int) -> dt.date:
    """The n-th working day after d (d itself not counted)."""
    for _ in range(n):
        d += dt.timedelta(days=1)
        while not is_workday(d):
            d += dt.timedelta(days=1)
    return d


def last_workday_on_or_before(d: dt.date) -> dt.date:
    """d itself if it is a working day, else the working day before it."""
    while not is_workday(d):
        d -= dt.timedelta(days=1)
    return d
