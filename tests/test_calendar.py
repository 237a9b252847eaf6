"""The working-time calendar (issue 9, "SLA in working time"): official holidays and 调休 days,
working hours, the four limit types, pauses, unknown years, local overrides. No database."""

from __future__ import annotations

import doctest
import logging
import warnings
from datetime import date, datetime, timedelta, timezone

import numpy as np
import pandas as pd
import pytest

import gridgov.calendar as calendar_module
from gridgov.calendar import LIMIT_TYPES, SHANGHAI, Calendar, UnknownYearWarning
from gridgov.errors import ConfigError
from gridgov.settings import CalendarSettings


def sh(*args) -> datetime:
    return datetime(*args, tzinfo=SHANGHAI)


@pytest.fixture(scope="module")
def cal() -> Calendar:
    return Calendar()


@pytest.fixture
def fresh_warnings(monkeypatch):
    # the warning is once per year per process: give each test its own process memory
    monkeypatch.setattr(calendar_module, "_warned_years", set())


def test_module_examples():
    result = doctest.testmod(calendar_module, optionflags=doctest.ELLIPSIS)
    assert result.attempted and not result.failed


# ------------------------------------------------------------------ working days and holidays


def test_days_agree_with_the_package(cal):
    # the tables are read from the package's public day lists, not asked day by day: same answer
    import chinese_calendar

    day = date(2024, 1, 1)
    while day.year <= 2026:
        assert cal.is_workday(day) == chinese_calendar.is_workday(day), day
        day += timedelta(days=1)


def test_working_days_across_national_day_2025(cal):
    start = sh(2025, 9, 30, 16)  # Tuesday; October 1–8 are off
    assert cal.deadline(start, 1, "working_days") == sh(2025, 10, 9, 16)
    assert cal.deadline(start, 2, "working_days") == sh(2025, 10, 10, 16)
    assert cal.deadline(start, 3, "working_days") == sh(2025, 10, 11, 16)  # the 调休 Saturday
    assert cal.deadline(start, 4, "working_days") == sh(2025, 10, 13, 16)  # Sunday 12 is off
    # started in the holiday: counts from the opening of October 9, so due at its close
    assert cal.deadline(sh(2025, 10, 3, 10), 1, "working_days") == sh(2025, 10, 9, 18)
    # the make-up Sunday before the holiday is a working day too
    assert cal.deadline(sh(2025, 9, 27, 10), 1, "working_days") == sh(2025, 9, 28, 18)


def test_make_up_saturday_counts_and_a_normal_saturday_does_not(cal):
    assert cal.is_workday(date(2025, 10, 11))  # Saturday, 调休
    assert cal.is_workday(date(2025, 9, 28))  # Sunday, 调休
    assert not cal.is_workday(date(2025, 10, 18))  # plain Saturday
    assert not cal.is_workday(date(2025, 10, 1))  # National Day
    assert cal.is_workday(date(2025, 10, 17))  # plain Friday
    # a datetime is judged by its Shanghai date: 2025-10-10 20:00 UTC is Saturday the 11th there
    assert cal.is_workday(datetime(2025, 10, 10, 20, tzinfo=timezone.utc))
    # Friday 16:00 + 1 working day = Monday 16:00 (the documented rule), the weekend skipped
    assert cal.deadline(sh(2025, 10, 17, 16), 1, "working_days") == sh(2025, 10, 20, 16)
    # a case that comes in on a normal Saturday counts from Monday's opening: due at its close
    assert cal.deadline(sh(2025, 10, 18, 9), 1, "working_days") == sh(2025, 10, 20, 18)


def test_working_days_outside_hours_and_fractions(cal):
    # after hours on Friday: counts from Monday's opening
    assert cal.deadline(sh(2025, 10, 17, 19), 2, "working_days") == sh(2025, 10, 21, 18)
    # in the lunch break: counts from 14:30, reached at the next day's 12:00 (= 14:30, earliest)
    assert cal.deadline(sh(2025, 10, 20, 13), 1, "working_days") == sh(2025, 10, 21, 12)
    # half a working day is half its working hours (3.5 h)
    assert cal.workday_hours == 7
    assert cal.deadline(sh(2025, 10, 20, 8, 30), 0.5, "working_days") == sh(2025, 10, 20, 12)


# ------------------------------------------------------------------ hours


def test_working_hours_skip_lunch_and_nights(cal):
    monday = sh(2025, 10, 20, 11)
    assert cal.deadline(monday, 2, "working_hours") == sh(2025, 10, 20, 15, 30)
    assert cal.deadline(sh(2025, 10, 20, 17), 2, "working_hours") == sh(2025, 10, 21, 9, 30)
    # a morning used up exactly ends at 12:00, not at 14:30
    assert cal.deadline(sh(2025, 10, 20, 8, 30), 3.5, "working_hours") == sh(2025, 10, 20, 12)
    # Friday evening to Monday morning, and over the National Day holiday
    assert cal.deadline(sh(2025, 10, 17, 17), 4, "working_hours") == sh(2025, 10, 20, 11, 30)
    assert cal.deadline(sh(2025, 9, 30, 17), 2, "working_hours") == sh(2025, 10, 9, 9, 30)
    # started at night, counted from the opening
    assert cal.deadline(sh(2025, 10, 20, 2), 1, "working_hours") == sh(2025, 10, 20, 9, 30)


def test_urgent_hours_run_through_nights_and_holidays(cal):
    assert cal.deadline(sh(2025, 10, 1, 22), 6, "urgent_hours") == sh(2025, 10, 2, 4)
    assert cal.deadline(sh(2025, 10, 20, 11), 2, "urgent_hours") == sh(2025, 10, 20, 13)
    # any zone in, Shanghai out
    due = cal.deadline(datetime(2025, 10, 20, 3, tzinfo=timezone.utc), 1.5, "urgent_hours")
    assert due == sh(2025, 10, 20, 12, 30) and due.tzinfo is SHANGHAI
    assert due.isoformat() == "2025-10-20T12:30:00+08:00"


def test_natural_days(cal):
    assert cal.deadline(sh(2025, 9, 30, 16), 3, "natural_days") == sh(2025, 10, 3, 16)
    assert cal.deadline(sh(2025, 9, 30, 16), 0.5, "natural_days") == sh(2025, 10, 1, 4)
    assert cal.elapsed(sh(2025, 9, 30, 16), sh(2025, 10, 7, 16), "natural_days") == 7


def test_zero_amount_is_the_start(cal):
    start = sh(2025, 10, 20, 14, 30)  # at the afternoon opening: not "due" at 12:00 before it
    for kind in LIMIT_TYPES:
        assert cal.deadline(start, 0, kind) == start


# ------------------------------------------------------------------ elapsed and fraction_used


STARTS = [sh(2025, 9, 30, 16), sh(2025, 10, 3, 10), sh(2025, 10, 20, 13), sh(2025, 10, 17, 17, 59),
          datetime(2025, 12, 31, 9, 17, 3, 123456, tzinfo=timezone.utc)]


@pytest.mark.parametrize("kind,amount", [("urgent_hours", 6), ("working_hours", 4.25),
                                         ("working_days", 3), ("natural_days", 2.5)])
@pytest.mark.parametrize("start", STARTS, ids=lambda s: s.isoformat())
def test_elapsed_and_fraction_agree_with_deadline(cal, start, kind, amount):
    due = cal.deadline(start, amount, kind)
    assert cal.fraction_used(start, due, amount, kind) == 1.0  # exactly: the overdue test is >
    assert cal.elapsed(start, due, kind) == pytest.approx(amount)
    assert cal.fraction_used(start, start, amount, kind) == 0
    warn_at = cal.deadline(start, 0.8 * amount, kind)
    assert cal.fraction_used(start, warn_at, amount, kind) == pytest.approx(0.8)
    assert warn_at <= due
    later = due + timedelta(days=10)
    assert cal.fraction_used(start, later, amount, kind) > 1


def test_elapsed_in_the_limits_unit(cal):
    # Friday 16:00 to Monday 16:00: 7 working hours, 1 working day, 72 clock hours, 3 days
    start, end = sh(2025, 10, 17, 16), sh(2025, 10, 20, 16)
    assert cal.elapsed(start, end, "working_hours") == 7
    assert cal.elapsed(start, end, "working_days") == 1
    assert cal.elapsed(start, end, "urgent_hours") == 72
    assert cal.elapsed(start, end, "natural_days") == 3
    assert cal.elapsed(end, start, "working_hours") == -7


def test_pauses_stop_the_clock(cal):
    start = sh(2025, 10, 20, 9)  # Monday; 4 working hours: 9:00–12:00, then 14:30–15:30
    assert cal.deadline(start, 4, "working_hours") == sh(2025, 10, 20, 15, 30)
    pause = (sh(2025, 10, 20, 10), sh(2025, 10, 20, 16))  # suspended 10:00–16:00
    due = cal.deadline(start, 4, "working_hours", pauses=[pause])
    assert due == sh(2025, 10, 21, 9, 30)  # 1 h before, 16:00–18:00 after, 1 h on Tuesday
    assert cal.elapsed(start, due, "working_hours") == 7.5
    assert cal.elapsed(start, due, "working_hours", pauses=[pause]) == 4
    assert cal.fraction_used(start, due, 4, "working_hours", pauses=[pause]) == 1.0
    # overlapping pauses count once; a pause beyond `end` does not count
    overlapping = [pause, (sh(2025, 10, 20, 11), sh(2025, 10, 20, 16, 40)),
                   (sh(2025, 10, 22, 9), sh(2025, 10, 22, 10))]
    assert cal.elapsed(start, due, "working_hours", pauses=overlapping) == pytest.approx(
        4 - 40 / 60)
    # the clock stops for urgent hours too; a pause before the start changes nothing
    urgent = cal.deadline(sh(2025, 10, 1, 22), 6, "urgent_hours",
                          pauses=[(sh(2025, 10, 2, 0), sh(2025, 10, 2, 8)),
                                  (sh(2025, 9, 1), sh(2025, 9, 2))])
    assert urgent == sh(2025, 10, 2, 12)
    # a case suspended over its whole deadline is not overdue until the clock has run again
    assert cal.fraction_used(start, sh(2025, 10, 20, 16), 4, "working_hours",
                             pauses=[pause]) == 0.25
    with pytest.raises(ValueError, match="ends before it starts"):
        cal.elapsed(start, due, "working_hours", pauses=[(pause[1], pause[0])])


# ------------------------------------------------------------------ unknown years, overrides


def test_unknown_year_falls_back_to_weekdays_with_one_warning(fresh_warnings, caplog):
    cal = Calendar()
    with caplog.at_level(logging.WARNING, logger="gridgov.calendar"):
        with pytest.warns(UnknownYearWarning, match="2099"):
            assert cal.is_workday(date(2099, 10, 1))  # a Thursday: no National Day known
    assert any("2099" in r.getMessage() for r in caplog.records)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # once per year: a second use is silent
        assert not cal.is_workday(date(2099, 10, 3))  # Saturday
        # Friday 16:00 + 1 working day: Monday 16:00
        assert cal.deadline(sh(2099, 10, 2, 16), 1, "working_days") == sh(2099, 10, 5, 16)
        # a known year is not warned about, though the tables around it hold unknown ones
        assert cal.is_workday(date(2025, 10, 11))
    # a deadline running from a known year into an unknown one warns about that year
    with pytest.warns(UnknownYearWarning, match="2098"):
        Calendar().deadline(sh(2098, 12, 31, 16), 1, "working_days")


def test_override_file_adds_a_holiday_and_a_workday(tmp_path, monkeypatch):
    path = tmp_path / "overrides.csv"
    path.write_text("# county days, kept by the county office\n"
                    "date,kind,note\n"
                    "2025-10-10,holiday,县里补休\n"
                    "2025-10-18,workday,防汛值班\n"
                    "\n", encoding="utf-8-sig")
    monkeypatch.setenv("GRIDGOV_CALENDAR_OVERRIDES", str(path))
    cal = Calendar.from_settings()
    assert not cal.is_workday(date(2025, 10, 10))  # a Friday the package calls a working day
    assert cal.is_workday(date(2025, 10, 18))  # a Saturday the package calls a rest day
    assert cal.is_workday(date(2025, 10, 11))  # the package still answers for the rest
    # Thu 9 16:00 + 2 working days: Friday 10 is now off, Saturday 11 (调休) first, Monday second
    assert cal.deadline(sh(2025, 10, 9, 16), 2, "working_days") == sh(2025, 10, 13, 16)
    assert cal.deadline(sh(2025, 10, 17, 16), 1, "working_days") == sh(2025, 10, 18, 16)


def test_settings(monkeypatch, tmp_path):
    assert CalendarSettings().overrides is None
    assert CalendarSettings().working_hours == ["08:30-12:00", "14:30-18:00"]
    monkeypatch.setenv("GRIDGOV_CALENDAR_WORKING_HOURS", '["09:00-12:00", "13:00-17:00"]')
    monkeypatch.setenv("GRIDGOV_CALENDAR_OVERRIDES", "")
    cal = Calendar.from_settings()
    assert cal.workday_hours == 7
    assert cal.deadline(sh(2025, 10, 20, 11), 2, "working_hours") == sh(2025, 10, 20, 14)
    monkeypatch.setenv("GRIDGOV_CALENDAR_WORKING_HOURS", '["14:30-18:00", "08:30-12:00"]')
    with pytest.raises(ConfigError, match="GRIDGOV_CALENDAR_WORKING_HOURS.*in order"):
        CalendarSettings()
    monkeypatch.setenv("GRIDGOV_CALENDAR_WORKING_HOURS", '["8.30-12"]')
    with pytest.raises(ConfigError, match="HH:MM-HH:MM"):
        CalendarSettings()


@pytest.mark.parametrize("body,problem", [
    ("day,kind\n2025-10-10,holiday\n", "header"),
    ("date,kind,note\n2025-13-10,holiday,x\n", "line 2: date must be YYYY-MM-DD"),
    ("date,kind,note\n2025-10-10,day off,x\n", "line 2: kind must be workday or holiday"),
    ("date,kind\n2025-10-10,holiday\n2025-10-10,workday\n", "line 3: .*both"),
])
def test_bad_override_file_names_the_line(tmp_path, body, problem):
    path = tmp_path / "overrides.csv"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(ConfigError, match=f"GRIDGOV_CALENDAR_OVERRIDES: .*{problem}"):
        calendar_module.read_overrides(path)
    with pytest.raises(ConfigError, match="cannot read"):
        calendar_module.read_overrides(tmp_path / "missing.csv")


# ------------------------------------------------------------------ refusals


def test_naive_datetimes_are_refused(cal):
    naive, aware = datetime(2025, 10, 20, 9), sh(2025, 10, 20, 9)
    calls = [lambda: cal.deadline(naive, 1, "working_hours"),
             lambda: cal.elapsed(naive, aware, "working_hours"),
             lambda: cal.elapsed(aware, naive, "urgent_hours"),
             lambda: cal.fraction_used(aware, naive, 1, "working_days"),
             lambda: cal.elapsed(aware, aware, "working_hours", pauses=[(naive, aware)]),
             lambda: cal.is_workday(naive),
             lambda: cal.deadlines(pd.Series([pd.Timestamp("2025-10-20 09:00")]), 1,
                                   "working_hours")]
    for call in calls:
        with pytest.raises(ValueError, match="timezone-aware"):
            call()


def test_bad_limit_type_and_amount(cal):
    with pytest.raises(ValueError, match="unknown limit type 'hours'.*working_days"):
        cal.deadline(sh(2025, 10, 20, 9), 1, "hours")
    with pytest.raises(ValueError, match="zero or more"):
        cal.deadline(sh(2025, 10, 20, 9), -1, "working_hours")
    with pytest.raises(ValueError, match="more than zero"):
        cal.fraction_used(sh(2025, 10, 20, 9), sh(2025, 10, 20, 10), 0, "working_hours")


# ------------------------------------------------------------------ many at once


def test_vectorised_deadlines_match_one_by_one(cal):
    rng = np.random.default_rng(9)
    n = 400
    origin = pd.Timestamp("2025-09-01", tz="Asia/Shanghai")
    # whole minutes mostly, some exact openings and closes, one in UTC
    starts = origin + pd.to_timedelta(rng.integers(0, 150 * 24 * 60, n), unit="min")
    starts = pd.Series(starts, index=pd.RangeIndex(100, 100 + n))
    starts.iloc[:4] = [pd.Timestamp("2025-10-20 08:30", tz="Asia/Shanghai"),
                       pd.Timestamp("2025-10-20 18:00", tz="Asia/Shanghai"),
                       pd.Timestamp("2025-10-20 14:30", tz="Asia/Shanghai"),
                       pd.Timestamp("2025-12-31 09:00", tz="Asia/Shanghai")]
    amounts = rng.choice([0, 0.5, 1, 2, 3, 3.5, 7, 24, 15.25], n)
    kinds = rng.choice(LIMIT_TYPES, n)
    got = cal.deadlines(starts, amounts, kinds)
    assert str(got.dtype).endswith("Asia/Shanghai]") and (got.index == starts.index).all()
    for start, amount, kind, due in zip(starts, amounts, kinds, got):
        assert due == cal.deadline(start.to_pydatetime(), amount, kind), (start, amount, kind)
    # scalars broadcast; a missing start or amount gives NaT
    one = cal.deadlines(pd.Series([starts.iloc[0], pd.NaT, starts.iloc[2]]), [1, 1, np.nan],
                        "working_days")
    assert one.iloc[0] == sh(2025, 10, 20, 18)  # from the opening: the close of the same day
    assert one.iloc[1:].isna().all()
