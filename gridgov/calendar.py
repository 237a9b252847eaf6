"""The working-time calendar: every deadline in gridgov is computed here, and nowhere else.

Case SLAs, and later account and demand deadlines, all come from one :class:`Calendar`, so that a
holiday, a make-up working day (调休) or a change of office hours is one fix in one place. Times
are timezone-aware and results are given in Asia/Shanghai.

Working days follow China's official calendar (public holidays and 调休 days) from the
``chinese-calendar`` package. A year it does not know yet is counted Monday–Friday, with an
:class:`UnknownYearWarning` (once per year per process) and a log line, until the package is
upgraded or the year's days are put in the local override file (``GRIDGOV_CALENDAR_OVERRIDES``,
see :func:`read_overrides`), whose days win over the package.

Limit types (a case category declares one), and the unit their amounts and :meth:`Calendar.elapsed`
are in:

``urgent_hours`` (hours)
    clock hours around the clock, nights and holidays included.
``working_hours`` (hours)
    only the working hours (default 08:30–12:00 and 14:30–18:00) of working days run.
``working_days`` (days)
    one working day is one working day's worth of working hours (7 h by default), so the deadline
    is **the same clock time N working days later**: 1 working day from Friday 16:00 is Monday
    16:00. A start outside working hours counts from the next opening (a start in the lunch
    break from 14:30, a start at night, at the weekend or on a holiday from the next working
    day's 08:30), so its deadline is **the end of the Nth working day** (18:00). Fractions work
    the same way: 0.5 working days is 3.5 working hours.
``natural_days`` (days)
    calendar days of 24 hours, nights and holidays included.

Every deadline is the *earliest* instant at which the limit's clock has run the amount: a
working-hours deadline that uses up a morning is 12:00 that day, not 14:30.

Across the 2025 National Day holiday (October 1–8 off; Sunday September 28 and Saturday
October 11 are make-up working days):

>>> from datetime import date, datetime
>>> from gridgov.calendar import Calendar, SHANGHAI
>>> cal = Calendar()  # the defaults; gridgov code uses Calendar.from_settings()
>>> cal.is_workday(date(2025, 10, 11)), cal.is_workday(date(2025, 10, 18))  # 调休 / plain Sat
(True, False)
>>> start = datetime(2025, 9, 30, 16, 0, tzinfo=SHANGHAI)  # the Tuesday before the holiday
>>> cal.deadline(start, 3, "working_days").isoformat()  # Thu 9, Fri 10, Sat 11 (调休)
'2025-10-11T16:00:00+08:00'
>>> cal.deadline(datetime(2025, 10, 3, 10, 0, tzinfo=SHANGHAI), 1, "working_days").isoformat()
'2025-10-09T18:00:00+08:00'

Working hours skip the lunch break and the night; urgent hours do not:

>>> monday = datetime(2025, 9, 29, 11, 0, tzinfo=SHANGHAI)
>>> cal.deadline(monday, 2, "working_hours").isoformat()  # 11:00–12:00, then 14:30–15:30
'2025-09-29T15:30:00+08:00'
>>> cal.deadline(monday, 2, "urgent_hours").isoformat()
'2025-09-29T13:00:00+08:00'

How much of a limit is used, for the 80 % warning and overdue (a suspended span stops the clock):

>>> due = cal.deadline(monday, 2, "working_hours")
>>> cal.fraction_used(monday, due, 2, "working_hours")
1.0
>>> cal.elapsed(monday, due, "working_hours",
...             pauses=[(monday, datetime(2025, 9, 29, 11, 30, tzinfo=SHANGHAI))])
1.5
"""

from __future__ import annotations

import csv
import logging
import sys
import threading
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

import chinese_calendar
import numpy as np
import pandas as pd

from gridgov.errors import ConfigError
from gridgov.settings import CalendarSettings, current

__all__ = ["Calendar", "UnknownYearWarning", "LIMIT_TYPES", "UNITS", "SHANGHAI",
           "DEFAULT_WORKING_HOURS", "parse_working_hours", "read_overrides"]

log = logging.getLogger(__name__)

SHANGHAI = ZoneInfo("Asia/Shanghai")
DEFAULT_WORKING_HOURS = ("08:30-12:00", "14:30-18:00")
UNITS = {"urgent_hours": "hours", "working_hours": "hours",
         "working_days": "days", "natural_days": "days"}
LIMIT_TYPES = tuple(UNITS)
_WORKING = frozenset({"working_hours", "working_days"})

# All arithmetic is in integer microseconds (datetime's resolution): floats would make
# fraction_used(start, deadline) come out as 0.9999999 instead of exactly 1.0.
_US = 1_000_000
_HOUR = 3600 * _US
_DAY24 = 24 * _HOUR
# Working time is counted from a fixed origin, so a count taken before the tables grew (to cover
# an earlier or later year) still matches one taken after.
_EPOCH = date(2000, 1, 1)
_EPOCH_UTC = datetime(2000, 1, 1, tzinfo=SHANGHAI).astimezone(timezone.utc)
_UNIX_ORDINAL = date(1970, 1, 1).toordinal()


class UnknownYearWarning(UserWarning):
    """chinese-calendar has no official calendar for a year: it is counted Monday–Friday."""


_known_years: set[int] = set()  # years the package has data for, as found so far
# Years already warned about: once per year per process, as a batch over millions of cases
# would otherwise repeat the same line millions of times.
_warned_years: set[int] = set()
_warn_lock = threading.Lock()


# ---------------------------------------------------------------------------- configuration


def parse_working_hours(periods: Iterable[str]) -> tuple[tuple[int, int], ...]:
    """``["08:30-12:00", "14:30-18:00"]`` as (start, end) microseconds after midnight.

    The periods must be in order of the day and must not overlap; ``24:00`` may end the last.

    >>> parse_working_hours(["08:30-12:00"])
    ((30600000000, 43200000000),)
    """
    if isinstance(periods, str):  # one period given bare, not as a list
        periods = [periods]
    out: list[tuple[int, int]] = []
    for text in periods:
        try:
            a, b = (_hhmm(part) for part in str(text).split("-"))
        except ValueError:
            raise ValueError(f"{text!r} is not a period HH:MM-HH:MM") from None
        if not a < b:
            raise ValueError(f"{text!r} ends before it starts")
        if out and a < out[-1][1]:
            raise ValueError(f"{text!r} starts before the period before it ends "
                             "(periods go in order of the day, without overlap)")
        out.append((a, b))
    if not out:
        raise ValueError("no working-hours period given")
    return tuple(out)


def _hhmm(text: str) -> int:
    hours, minutes = text.strip().split(":")
    h, m = int(hours), int(minutes)
    if not (0 <= h <= 24 and 0 <= m < 60 and h * 60 + m <= 24 * 60):
        raise ValueError(text)
    return (h * 60 + m) * 60 * _US


def read_overrides(path: str | Path, setting: str = "GRIDGOV_CALENDAR_OVERRIDES"
                   ) -> dict[date, bool]:
    """The local override file as ``{date: is_workday}``.

    A CSV file with a header line and the columns ``date,kind,note``: ``date`` as YYYY-MM-DD,
    ``kind`` ``workday`` or ``holiday``, ``note`` free text (why the day differs); lines starting
    with ``#`` and blank lines are skipped. UTF-8, with or without the BOM Excel writes.

    Raises :class:`~gridgov.errors.ConfigError` naming the file and line of the first problem.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{setting}: cannot read {path}: {exc}") from None
    kept = [(n, line) for n, line in enumerate(text.splitlines(), 1)
            if line.strip() and not line.lstrip().startswith("#")]
    rows = zip((n for n, _ in kept), csv.reader(line for _, line in kept))
    days: dict[date, bool] = {}
    header = None
    for lineno, row in rows:
        where = f"{setting}: {path}, line {lineno}"
        cells = [cell.strip() for cell in row]
        if header is None:
            header = [cell.lower() for cell in cells]
            if "date" not in header or "kind" not in header:
                raise ConfigError(f"{where}: the header must name the columns date,kind,note")
            i_date, i_kind = header.index("date"), header.index("kind")
            continue
        try:
            day = date.fromisoformat(cells[i_date])
        except (IndexError, ValueError):
            raise ConfigError(f"{where}: date must be YYYY-MM-DD, not "
                              f"{(cells[i_date:i_date + 1] or [''])[0]!r}") from None
        kind = (cells[i_kind] if i_kind < len(cells) else "").lower()
        if kind not in ("workday", "holiday"):
            raise ConfigError(f"{where}: kind must be workday or holiday, not {kind!r}")
        workday = kind == "workday"
        if days.get(day, workday) != workday:
            raise ConfigError(f"{where}: {day} is listed both as a workday and as a holiday")
        days[day] = workday
    return days


# ---------------------------------------------------------------------------- day tables


@lru_cache(maxsize=None)
def _official_year(year: int) -> tuple[bool, ...] | None:
    """Whether each day of ``year`` is an official working day, or None if the package does not
    know the year. Cached per process."""
    first = date(year, 1, 1)
    try:
        chinese_calendar.is_workday(first)
    except NotImplementedError:  # the package's word for "no data for that year"
        return None
    _known_years.add(year)
    # The rule of chinese_calendar.is_workday, on its public tables (days off; make-up working
    # days): asking is_workday day by day costs ~50 µs a day (it scans its tables to check the
    # year every time), 0.4 s for the years a table spans. tests/test_calendar.py checks that
    # both agree.
    off, on = chinese_calendar.holidays, chinese_calendar.workdays
    return tuple(day in on or (day.weekday() < 5 and day not in off)
                 for day in (first + timedelta(d) for d in range(_days_in(year))))


def _days_in(year: int) -> int:
    return 366 if year % 4 == 0 and (year % 100 != 0 or year % 400 == 0) else 365


def _outside_level() -> int:
    """The warnings stacklevel of the first caller outside this module: the warning should name
    the line that asked for the deadline, wherever in here the year came up."""
    level, frame = 2, sys._getframe(2)
    while frame is not None and frame.f_globals.get("__name__") == __name__:
        level, frame = level + 1, frame.f_back
    return level


def _note_years(first: int, last: int) -> None:
    """Warn about each year in first..last that is counted Monday–Friday (once per process)."""
    if first == last and first in _known_years:  # the usual case, kept cheap
        return
    for year in range(first, last + 1):
        if year in _warned_years or _official_year(year) is not None:
            continue
        with _warn_lock:
            if year in _warned_years:
                continue
            _warned_years.add(year)
        message = (f"chinese-calendar {getattr(chinese_calendar, '__version__', '?')} has no "
                   f"official calendar for {year}: counting Monday–Friday as working days there. "
                   "Upgrade chinese-calendar, or list the year's holidays and make-up working "
                   "days in the file named by GRIDGOV_CALENDAR_OVERRIDES.")
        warnings.warn(message, UnknownYearWarning, stacklevel=_outside_level())
        log.warning(message)


@dataclass(frozen=True, eq=False)
class _Table:
    """Day tables for the whole years first_year..last_year (always including 2000, the origin).

    Plain lists serve the one-case path (indexing a list is several times faster than a numpy
    array); the arrays serve :meth:`Calendar.deadlines`.
    """

    first_year: int
    last_year: int
    base: int  # ordinal of January 1 of first_year
    workday: list[bool]  # per day from base
    before: list[int]  # working days from the origin to the start of each day (negative before)
    workdays: list[int]  # day offsets (from base) of the working days, in order
    origin: int  # index in workdays of the first working day on or after the origin
    workday_np: np.ndarray
    before_np: np.ndarray
    workdays_np: np.ndarray

    @property
    def end(self) -> int:  # first ordinal past the table
        return self.base + len(self.workday)


# ---------------------------------------------------------------------------- the calendar


class Calendar:
    """The working-time calendar. Build it once per process or job and reuse it: day tables are
    built on first use of a year and kept (thread-safe).

    ``working_hours``: periods ``"HH:MM-HH:MM"`` in Asia/Shanghai time, the same on every working
    day. ``overrides``: ``{date: is_workday}`` that win over the official calendar.
    """

    def __init__(self, working_hours: Sequence[str] = DEFAULT_WORKING_HOURS,
                 overrides: Mapping[date, bool] | None = None):
        self.periods = parse_working_hours(working_hours)
        # copied: the day tables are built from it once, so later changes would not show
        self._overrides = dict(overrides or {})
        # (start, end, working time of the day before start) per period, for the inverse
        cumulative, pcum = 0, []
        for a, b in self.periods:
            pcum.append((a, b, cumulative))
            cumulative += b - a
        self._pcum = tuple(pcum)
        self._day = cumulative  # working time of one working day: the unit of working_days
        self._close = self.periods[-1][1]
        self._units = {"urgent_hours": _HOUR, "working_hours": _HOUR,
                       "working_days": self._day, "natural_days": _DAY24}
        self._lock = threading.Lock()
        self._table: _Table | None = None

    @classmethod
    def from_settings(cls, settings: CalendarSettings | None = None) -> Calendar:
        """The calendar of :class:`gridgov.settings.CalendarSettings` (``GRIDGOV_CALENDAR_*``)."""
        settings = settings or current(CalendarSettings)
        overrides = read_overrides(settings.overrides) if settings.overrides else None
        return cls(settings.working_hours, overrides)

    @property
    def workday_hours(self) -> float:
        """Working hours in one working day: what one ``working_days`` unit is worth."""
        return self._day / _HOUR

    # ------------------------------------------------------------------ public API

    def is_workday(self, day: date) -> bool:
        """Whether ``day`` is a working day (a timezone-aware datetime: its Shanghai date)."""
        if isinstance(day, datetime):
            day = _local(day, "day").date()
        ordinal = day.toordinal()
        table = self._cover(ordinal, ordinal)
        _note_years(day.year, day.year)
        return table.workday[ordinal - table.base]

    def deadline(self, start: datetime, amount: float, limit_type: str,
                 pauses: Iterable[tuple[datetime, datetime]] = ()) -> datetime:
        """When ``amount`` of ``limit_type`` (hours or days, see :data:`UNITS`) has run from
        ``start``, in Asia/Shanghai; ``pauses`` (suspended spans) stop the clock and push the
        deadline out."""
        unit = self._unit(limit_type)
        if not amount >= 0:
            raise ValueError(f"amount must be zero or more, not {amount!r}")
        cursor = _local(start, "start")
        remaining = round(amount * unit)
        # walk the pauses in order: the clock runs up to each one, stops, and resumes after it
        for a, b in _merged(pauses) if pauses else ():
            if b <= cursor:
                continue
            if a > cursor:
                run = self._measure(a, limit_type) - self._measure(cursor, limit_type)
                if run >= remaining:
                    break
                remaining -= run
            cursor = b
        return self._forward(cursor, remaining, limit_type)

    def elapsed(self, start: datetime, end: datetime, limit_type: str,
                pauses: Iterable[tuple[datetime, datetime]] = ()) -> float:
        """How much of ``limit_type``'s clock ran from ``start`` to ``end``, in its unit (hours or
        days), less the ``pauses`` (overlapping pauses count once). Negative if end < start."""
        return self._elapsed_us(start, end, limit_type, pauses) / self._unit(limit_type)

    def fraction_used(self, start: datetime, now: datetime, amount: float, limit_type: str,
                      pauses: Iterable[tuple[datetime, datetime]] = ()) -> float:
        """The share of the limit used by ``now``: 0 at the start, exactly 1.0 at
        :meth:`deadline` (with the same pauses), above 1 once overdue."""
        unit = self._unit(limit_type)
        total = round(amount * unit)
        if not total > 0:
            raise ValueError(f"amount must be more than zero, not {amount!r}")
        return self._elapsed_us(start, now, limit_type, pauses) / total

    def deadlines(self, starts, amounts, limit_types) -> pd.Series:
        """:meth:`deadline` for many cases at once (no pauses), vectorised for KPI work.

        ``starts``: a Series (or array-like) of timezone-aware timestamps; ``amounts`` and
        ``limit_types``: one value each, or one per start. Returns a Series of
        ``datetime64[us, Asia/Shanghai]`` on the starts' index, NaT where the start or amount is
        missing. Times are taken to the microsecond, as :meth:`deadline` does.
        """
        starts = starts if isinstance(starts, pd.Series) else pd.Series(starts)
        if not isinstance(starts.dtype, pd.DatetimeTZDtype):
            if starts.isna().all() and len(starts):
                starts = starts.astype("datetime64[us, UTC]")
            else:
                raise ValueError("deadlines() needs timezone-aware start times "
                                 f"(got dtype {starts.dtype}); use Series.dt.tz_localize first")
        n = len(starts)
        amounts = np.broadcast_to(np.asarray(amounts, dtype=float), (n,))
        kinds = np.broadcast_to(np.asarray(limit_types, dtype=object), (n,))
        for kind in pd.unique(kinds):
            self._unit(kind)
        if (amounts < 0).any():
            raise ValueError("amounts must be zero or more")

        utc = _to_us(starts.dt.tz_convert("UTC").dt.tz_localize(None))
        wall = _to_us(starts.dt.tz_convert("Asia/Shanghai").dt.tz_localize(None))
        ok = ~(starts.isna().to_numpy() | np.isnan(amounts))
        out = np.full(n, np.iinfo(np.int64).min, dtype=np.int64)  # NaT
        for kind in pd.unique(kinds[ok]):
            rows = ok & (kinds == kind)
            amount_us = np.rint(amounts[rows] * self._units[kind]).astype(np.int64)
            if kind in _WORKING:
                due = self._forward_many(wall[rows], amount_us)
                due = np.maximum(due, utc[rows])  # a zero amount is the start, not before it
            else:
                due = utc[rows] + amount_us
            out[rows] = due
        result = pd.Series(out.astype("datetime64[us]"), index=starts.index)
        return result.dt.tz_localize("UTC").dt.tz_convert("Asia/Shanghai")

    # ------------------------------------------------------------------ clocks

    def _unit(self, limit_type: str) -> int:
        try:
            return self._units[limit_type]
        except (KeyError, TypeError):
            raise ValueError(f"unknown limit type {limit_type!r}; expected one of "
                             f"{', '.join(LIMIT_TYPES)}") from None

    def _elapsed_us(self, start, end, limit_type, pauses) -> int:
        self._unit(limit_type)
        start, end = _local(start, "start"), _local(end, "end")
        used = self._measure(end, limit_type) - self._measure(start, limit_type)
        for a, b in _merged(pauses) if pauses else ():
            a, b = max(a, start), min(b, end)
            if a < b:
                used -= self._measure(b, limit_type) - self._measure(a, limit_type)
        return used

    def _measure(self, t: datetime, limit_type: str) -> int:
        """The limit's clock reading at ``t`` (a Shanghai datetime), in microseconds from the
        origin: differences of readings are elapsed time."""
        if limit_type not in _WORKING:
            # through UTC: subtracting two datetimes of one zone ignores their offsets
            return (t.astimezone(timezone.utc) - _EPOCH_UTC) // timedelta(microseconds=1)
        ordinal = t.toordinal()
        table = self._table
        if table is None or not table.base <= ordinal < table.end:
            table = self._cover(ordinal, ordinal)
        _note_years(t.year, t.year)
        day = ordinal - table.base
        reading = table.before[day] * self._day
        if table.workday[day]:
            clock = ((t.hour * 60 + t.minute) * 60 + t.second) * _US + t.microsecond
            for a, b in self.periods:
                if clock <= a:
                    break
                reading += (clock if clock < b else b) - a
        return reading

    def _forward(self, start: datetime, amount_us: int, limit_type: str) -> datetime:
        """The earliest instant, not before ``start``, at which the clock has run ``amount_us``."""
        if limit_type not in _WORKING:
            return (start.astimezone(timezone.utc)
                    + timedelta(microseconds=amount_us)).astimezone(SHANGHAI)
        target = self._measure(start, limit_type) + amount_us
        n, rest = divmod(target, self._day)
        if rest == 0:
            # exactly n whole working days: reached at the close of the one before, not at the
            # next opening (nothing runs in between, and the earlier time is the true deadline)
            n, clock = n - 1, self._close
        else:
            clock = next(a + rest - done for a, b, done in self._pcum if rest <= done + b - a)
        day = date.fromordinal(self._nth_workday(n))
        _note_years(start.year, day.year)
        due = datetime.combine(day, time(), SHANGHAI) + timedelta(microseconds=clock)
        return max(due, start)

    def _nth_workday(self, n: int) -> int:
        """Ordinal of the nth working day counted from the origin (0: the first on or after it)."""
        while True:
            table = self._table
            i = n + table.origin
            if 0 <= i < len(table.workdays):
                return table.base + table.workdays[i]
            # ~249 working days a year: grow by enough years in one step
            years = (i - len(table.workdays) if i >= 0 else -i) // 200 + 1
            if i < 0:
                self._grow(table.first_year - years, table.last_year)
            else:
                self._grow(table.first_year, table.last_year + years)

    def _forward_many(self, wall: np.ndarray, amount_us: np.ndarray) -> np.ndarray:
        """:meth:`_forward` for Shanghai wall times (µs since 1970-01-01), as UTC µs."""
        days = wall // _DAY24 + _UNIX_ORDINAL
        clock = wall % _DAY24
        table = self._cover(int(days.min()), int(days.max()))
        d = days - table.base
        worked = sum(np.clip(clock - a, 0, b - a) for a, b in self.periods)
        target = table.before_np[d] * self._day + np.where(table.workday_np[d], worked, 0)
        target = target + amount_us
        n, rest = np.divmod(target, self._day)
        whole = rest == 0
        n = n - whole
        clock = np.select([rest <= done + b - a for a, b, done in self._pcum],
                          [a + rest - done for a, b, done in self._pcum], 0)
        clock = np.where(whole, self._close, clock)
        # make sure the tables reach the last working day needed, then look them up
        self._nth_workday(int(n.max()))
        self._nth_workday(int(n.min()))
        table = self._table
        due_days = table.base + table.workdays_np[n + table.origin]
        # warn about the unknown years each case actually spans (not the gaps between cases)
        # (one int per pair: np.unique over rows sorts ten times slower)
        spans = np.unique(_years(days) * 10_000 + _years(due_days))
        for span in spans.tolist():
            _note_years(*divmod(span, 10_000))
        due_wall = (due_days - _UNIX_ORDINAL) * _DAY24 + clock
        local = pd.DatetimeIndex(due_wall.astype("datetime64[us]")).tz_localize("Asia/Shanghai")
        return _to_us(local.tz_convert("UTC").tz_localize(None))

    # ------------------------------------------------------------------ tables

    def _cover(self, first: int, last: int) -> _Table:
        """The day tables, grown if needed to cover the ordinals first..last."""
        table = self._table
        if table is not None and table.base <= first and last < table.end:
            return table
        lo, hi = date.fromordinal(first).year, date.fromordinal(last).year
        if table is not None:
            lo, hi = min(lo, table.first_year), max(hi, table.last_year)
        # a year of margin after: deadlines run forward, often into the next year
        return self._grow(lo, min(hi + 1, 9999))

    def _grow(self, first_year: int, last_year: int) -> _Table:
        if first_year < 1 or last_year > 9999:
            raise ValueError("the working-time calendar covers the years 1 to 9999")
        with self._lock:
            table = self._table
            if table is not None:
                if table.first_year <= first_year and last_year <= table.last_year:
                    return table
                first_year = min(first_year, table.first_year)
                last_year = max(last_year, table.last_year)
            first_year, last_year = min(first_year, _EPOCH.year), max(last_year, _EPOCH.year)
            base = date(first_year, 1, 1).toordinal()
            workday: list[bool] = []
            for year in range(first_year, last_year + 1):
                workday.extend(self._year(year))
            # working days before each day, counted from the origin (so independent of base)
            before = [0] * len(workday)
            count = 0
            for i, w in enumerate(workday):
                before[i] = count
                count += w
            zero = before[_EPOCH.toordinal() - base]
            before = [c - zero for c in before]
            workdays = [i for i, w in enumerate(workday) if w]
            self._table = _Table(
                first_year, last_year, base, workday, before, workdays, zero,
                np.array(workday, dtype=bool), np.array(before, dtype=np.int64),
                np.array(workdays, dtype=np.int64))
            return self._table

    def _year(self, year: int) -> list[bool]:
        """Each day of ``year``: working day or not, overrides applied. Unknown years are built
        silently (the tables span whole ranges); the warning comes when a year is used."""
        first = date(year, 1, 1)
        official = _official_year(year)
        if official is None:
            official = tuple((first + timedelta(d)).weekday() < 5 for d in range(_days_in(year)))
        days = list(official)
        for day, is_work in self._overrides.items():
            if day.year == year:
                days[day.toordinal() - first.toordinal()] = bool(is_work)
        return days


# ---------------------------------------------------------------------------- helpers


def _local(t, name: str) -> datetime:
    """``t`` in Asia/Shanghai; naive datetimes are refused, since their zone is a guess."""
    if not isinstance(t, datetime):
        raise TypeError(f"{name} must be a timezone-aware datetime, not {type(t).__name__}")
    if t.tzinfo is None or t.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware (got naive {t!r}); "
                         "attach the zone, e.g. t.replace(tzinfo=gridgov.calendar.SHANGHAI)")
    if isinstance(t, pd.Timestamp):
        t = t.to_pydatetime()
    return t.astimezone(SHANGHAI)


def _merged(pauses: Iterable[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    """Pauses in Shanghai time, in order, overlapping ones joined (so no span counts twice)."""
    spans = []
    for pause in pauses:
        a, b = pause
        a, b = _local(a, "pause start"), _local(b, "pause end")
        if b < a:
            raise ValueError(f"pause ends before it starts: {a.isoformat()} to {b.isoformat()}")
        spans.append((a, b))
    spans.sort()
    merged: list[tuple[datetime, datetime]] = []
    for a, b in spans:
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    return merged


def _to_us(values) -> np.ndarray:
    """Naive datetime64 values (any resolution) as int64 microseconds since 1970-01-01."""
    return np.asarray(values, dtype="datetime64[us]").view(np.int64)


def _years(ordinals: np.ndarray) -> np.ndarray:
    """The calendar year of each date ordinal."""
    days = (ordinals - _UNIX_ORDINAL).astype("datetime64[D]")
    return days.astype("datetime64[Y]").astype(np.int64) + 1970
