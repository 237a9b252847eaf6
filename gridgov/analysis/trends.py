"""Trends the command center reads at a glance: coverage on paper and in fact per month,
check-ins per week, accounts on time per month, key-task progress, cases closed on time.

Each trend is a DataFrame (one row per period, dates as ``datetime.date``) and a Vega-Lite chart
built with altair; the overview's trends page (/maps/trends) draws the same charts with the
vendored vega-embed, and notebooks can show or change them (``chart.properties(width=...)``).
Only counts, totals and rates leave here: no member, no position.

The window is the last 12 full months (Beijing time) unless ``months`` says otherwise; weeks run
Monday to Sunday, from the window's first Monday to the last complete week.

- coverage: :func:`gridgov.analysis.coverage.kpis` on the visits basis for each month (the
  paper rate as of the month's end, the rate in fact, the gap). Months before the first
  check-in the store holds have no rate in fact (check-ins had not started), rather than 0 %.
- check-ins: per week, those that count (valid or approved, and checked out: what the visits
  basis counts) and the others (waiting for a planner, rejected, still open).
- accounts: per month, the accounts whose due time has passed, and the share submitted by it
  (``submitted_at <= due_at``).
- key tasks: per task and month, the mean progress of its responsible units, each unit at its
  latest report by the month's end (a unit that has not reported counts 0 %).
- cases: per month, :func:`gridgov.cases.kpis.case_kpis` for the county (按期结案率).

Example:
    >>> f = frames(engine, months=["2026-09", "2026-10"])
    >>> list(f)
    ['coverage', 'checkins', 'accounts', 'key_tasks', 'cases']
    >>> list(f["coverage"].columns[:4])
    ['month', 'paper_coverage_rate', 'verified_coverage_rate', 'coverage_gap']
    >>> c = charts(f)["coverage"]                      # an altair chart
    >>> c.to_dict()["$schema"]
    'https://vega.github.io/schema/vega-lite/v6...json'
"""

from __future__ import annotations

import datetime as dt
import math

import altair as alt
import numpy as np
import pandas as pd
from sqlalchemy import Connection, Engine, text

from gridgov.analysis import coverage as coverage_mod
from gridgov.analysis.sqlfiles import connection

__all__ = ["TRENDS", "THEMES", "INPUTS", "months_back", "coverage_by_month", "month_status",
           "checkins_by_week", "accounts_by_month", "key_tasks_by_month", "cases_by_month",
           "frame", "frames", "charts", "headlines"]

ZONE = dt.timezone(dt.timedelta(hours=8))
FONT = '"Noto Sans CJK SC", "Microsoft YaHei", sans-serif'
# name -> (title, what it counts): the page's cards and the charts' titles
TRENDS = {
    "coverage": ("包联覆盖率：纸面与实际走访", "每月；实际走访＝当月至少2天有核验打卡"),
    "checkins": ("党员进社区报到打卡", "每周打卡次数"),
    "accounts": ("报账按时率", "每月；截止前提交的报账占应报账"),
    "key_tasks": ("重点任务进度", "各责任单位月末最新进度的平均"),
    "cases": ("事件工单按期结案率", "每月；按处置时限所在月份统计"),
}
# light: an office screen; dark: the wall screen (dark ground, light text, strong colours)
THEMES = {
    "light": {"background": "#ffffff", "text": "#263238", "muted": "#607d8b", "grid": "#e6e9ec",
              "paper": "#1565c0", "verified": "#2e7d32", "gap": "#ef9a9a", "bar": "#1565c0",
              "other": "#b0bec5", "late": "#c62828", "scheme": "blues"},
    "dark": {"background": "#0d1726", "text": "#e8eef7", "muted": "#9fb3c8", "grid": "#22324a",
             "paper": "#64b5f6", "verified": "#00e676", "gap": "#ff8a80", "bar": "#4fc3f7",
             "other": "#546e7a", "late": "#ff5252", "scheme": "tealblues"},
}
# a month ("YYYY-MM-DD") on an axis: the month, and under it the year at January and at the
# first month shown (two lines: twelve months fit a narrow chart)
MONTH_LABEL = ("[toNumber(slice(datum.value, 5, 7)) + '月', "
               "slice(datum.value, 5, 7) == '01' || datum.index == 0 ? "
               "slice(datum.value, 0, 4) + '年' : '']")
# a week (its Monday, "YYYY-MM-DD"): named only when it is the first week of a month
WEEK_LABEL = ("toNumber(slice(datum.value, 8, 10)) <= 7 ? [toNumber(slice(datum.value, 5, 7)) + "
              "'月', slice(datum.value, 5, 7) == '01' || datum.index < 0.05 ? "
              "slice(datum.value, 0, 4) + '年' : ''] : ''")


# ------------------------------------------------------------------------------------ periods

def _last_full_month() -> dt.date:
    return coverage_mod.visit_period(None)[0]


def months_back(n: int = 12, last: str | dt.date | None = None) -> list[str]:
    """``n`` months as "YYYY-MM", oldest first, ending with ``last`` (default the last full
    month, Beijing time).

    >>> months_back(3, "2026-01")
    ['2025-11', '2025-12', '2026-01']
    """
    if last is None:
        first = _last_full_month()
    elif isinstance(last, str):
        first = dt.date.fromisoformat(last[:7] + "-01")
    else:
        first = last.replace(day=1)
    out = []
    for _ in range(n):
        out.append(first.strftime("%Y-%m"))
        first = (first - dt.timedelta(days=1)).replace(day=1)
    return out[::-1]


def _month_start(month: str) -> dt.date:
    return dt.date.fromisoformat(month + "-01")


def _next_month(day: dt.date) -> dt.date:
    return (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


def _at(day: dt.date) -> dt.datetime:
    """Midnight at the start of ``day``, Beijing time."""
    return dt.datetime.combine(day, dt.time(), ZONE)


def _first_checkin(conn: Connection, counties: list[str] | None) -> dt.date | None:
    first = conn.execute(text(
        "SELECT min(checked_in_at) FROM checkins WHERE CAST(:k AS text[]) IS NULL "
        "OR county_code = ANY(:k)"), {"k": counties or None}).scalar()
    return first.astimezone(ZONE).date() if first is not None else None


# ----------------------------------------------------------------------------------- coverage

def coverage_by_month(bind: Engine | Connection, months: list[str] | None = None,
                      counties: list[str] | None = None) -> pd.DataFrame:
    """Per month: compounds, paper and verified coverage rates and the gap, the compounds
    inactive (有名无实) and uncovered, verified visits. The rate in fact is missing (NaN) for a
    month that ends before the first check-in."""
    months = months or months_back()
    rows = []
    with connection(bind) as conn:
        first = _first_checkin(conn, counties)
        for m in months:
            start = _month_start(m)
            k = coverage_mod.kpis(coverage_mod.coverage(conn, basis="visits", period=m,
                                                        counties=counties))
            started = first is not None and first < _next_month(start)
            rows.append({
                "month": start, "paper_coverage_rate": k["paper_coverage_rate"],
                "verified_coverage_rate": k["verified_coverage_rate"] if started else np.nan,
                "coverage_gap": k["coverage_gap"] if started else np.nan,
                "compounds": k["compounds"], "inactive": k["inactive"] if started else pd.NA,
                "uncovered": k["uncovered"], "verified_visits": k["verified_visits"],
                "started": started})
    frame = pd.DataFrame(rows, columns=[
        "month", "paper_coverage_rate", "verified_coverage_rate", "coverage_gap", "compounds",
        "inactive", "uncovered", "verified_visits", "started"])
    frame["inactive"] = frame["inactive"].astype("Int64")
    return frame


def month_status(bind: Engine | Connection, period: str,
                 counties: list[str] | None = None) -> dict:
    """What the overview's month slider shows for ``period`` ("YYYY-MM"): each compound's
    status on the visits basis and its days of verified visits ({code: [status, visit_days]}),
    and the month's figures (paper and verified coverage rates, gap, inactive compounds)."""
    with connection(bind) as conn:
        cov = coverage_mod.coverage(conn, basis="visits", period=period, counties=counties)
        first = _first_checkin(conn, counties)
    k = coverage_mod.kpis(cov)
    start = _month_start(period)
    return {
        "period": period, "label": f"{start.year}年{start.month}月",
        "started": first is not None and first < _next_month(start),
        "kpis": {name: k[name] for name in (
            "compounds", "paper_coverage_rate", "verified_coverage_rate", "coverage_gap",
            "inactive", "uncovered", "verified_visits")},
        "status": {code: [status, int(days)] for code, status, days in
                   zip(cov["code"], cov["status"], cov["visit_days"])},
    }


# ----------------------------------------------------------------------------------- activity

_CHECKINS = text("""
SELECT date_trunc('week', checked_in_at AT TIME ZONE 'Asia/Shanghai')::date AS week,
       count(*)::int AS checkins,
       count(*) FILTER (WHERE status IN ('valid', 'approved') AND checked_out_at IS NOT NULL)::int
           AS verified,
       count(DISTINCT member_code)::int AS members
FROM checkins
WHERE (CAST(:counties AS text[]) IS NULL OR county_code = ANY(:counties))
  AND checked_in_at >= :start AND checked_in_at < :end
GROUP BY 1 ORDER BY 1
""")


def checkins_by_week(bind: Engine | Connection, start: dt.date, end: dt.date | None = None,
                     counties: list[str] | None = None) -> pd.DataFrame:
    """Per week (Monday first) from the first Monday on or after ``start`` to the last complete
    week before ``end`` (default today, Beijing time): check-ins, those that count
    (``verified``), the others, members who checked in. Weeks without any are there, at 0,
    except those before the week of the first check-in in the store (check-ins had not
    started: no data, rather than no visits)."""
    today = dt.datetime.now(ZONE).date()
    end = end or today
    first = start + dt.timedelta(days=(7 - start.weekday()) % 7)
    stop = end - dt.timedelta(days=end.weekday())  # the Monday of end's week: not complete
    with connection(bind) as conn:
        began = _first_checkin(conn, counties)
    if began is not None:
        first = max(first, began - dt.timedelta(days=began.weekday()))
    weeks = pd.DataFrame({"week": [first + dt.timedelta(weeks=i)
                                   for i in range(max(0, (stop - first).days // 7))]})
    with connection(bind) as conn:
        result = conn.execute(_CHECKINS, {"counties": counties or None, "start": _at(first),
                                          "end": _at(stop)})
        got = pd.DataFrame(result.all(), columns=list(result.keys()))
    frame = weeks.merge(got, on="week", how="left") if len(got) else weeks.assign(
        checkins=0, verified=0, members=0)
    for col in ("checkins", "verified", "members"):
        frame[col] = frame[col].fillna(0).astype(int)
    frame["other"] = frame["checkins"] - frame["verified"]
    return frame[["week", "checkins", "verified", "other", "members"]]


_ACCOUNTS = text("""
SELECT month,
       count(*)::int AS accounts,
       count(*) FILTER (WHERE due_at IS NOT NULL AND due_at <= now())::int AS due,
       count(*) FILTER (WHERE submitted_at IS NOT NULL)::int AS submitted,
       count(*) FILTER (WHERE due_at IS NOT NULL AND due_at <= now()
                          AND submitted_at IS NOT NULL AND submitted_at <= due_at)::int AS on_time
FROM accounts
WHERE (CAST(:counties AS text[]) IS NULL OR county_code = ANY(:counties))
  AND month >= :start AND month < :end
GROUP BY month ORDER BY month
""")


def accounts_by_month(bind: Engine | Connection, months: list[str] | None = None,
                      counties: list[str] | None = None) -> pd.DataFrame:
    """Per month with accounts: accounts, those due (their due time passed), submitted, on
    time (submitted by the due time), and ``on_time_rate`` = on time / due."""
    months = months or months_back()
    with connection(bind) as conn:
        result = conn.execute(_ACCOUNTS, {
            "counties": counties or None, "start": _month_start(months[0]),
            "end": _next_month(_month_start(months[-1]))})
        frame = pd.DataFrame(result.all(), columns=["month", "accounts", "due", "submitted",
                                                    "on_time"])
    frame["on_time_rate"] = frame["on_time"] / frame["due"].where(frame["due"] > 0)
    return frame


_PROGRESS = text("""
WITH m AS (
    SELECT generate_series(CAST(:start AS date), CAST(:last AS date), interval '1 month')::date
           AS month
), u AS (
    SELECT t.code AS task_code, t.name AS task_name, ku.org_code
    FROM key_tasks t JOIN key_task_units ku ON ku.task_code = t.code
    WHERE CAST(:counties AS text[]) IS NULL OR t.county_code = ANY(:counties)
)
SELECT m.month, u.task_code, u.task_name,
       avg(coalesce(p.percent, 0))::float8 AS percent,
       count(*)::int AS units, count(p.percent)::int AS reported
FROM m CROSS JOIN u
LEFT JOIN LATERAL (
    SELECT kp.percent FROM key_task_progress kp
    WHERE kp.task_code = u.task_code AND kp.org_code = u.org_code
      AND kp.reported_on < (m.month + interval '1 month')
    ORDER BY kp.reported_on DESC LIMIT 1
) p ON true
GROUP BY 1, 2, 3 ORDER BY 2, 1
""")


def key_tasks_by_month(bind: Engine | Connection, months: list[str] | None = None,
                       counties: list[str] | None = None) -> pd.DataFrame:
    """Per key task and month: the mean progress (percent) of its responsible units, each at
    its latest report by the month's end (0 before its first), units, units that reported.
    Empty when no progress was reported by the window's end."""
    months = months or months_back()
    start, last = _month_start(months[0]), _month_start(months[-1])
    columns = ["month", "task_code", "task_name", "percent", "units", "reported"]
    with connection(bind) as conn:
        any_report = conn.execute(text(
            "SELECT EXISTS (SELECT 1 FROM key_task_progress WHERE reported_on < :end AND "
            "(CAST(:counties AS text[]) IS NULL OR county_code = ANY(:counties)))"),
            {"end": _next_month(last), "counties": counties or None}).scalar()
        if not any_report:
            return pd.DataFrame(columns=columns)
        result = conn.execute(_PROGRESS, {"start": start, "last": last,
                                          "counties": counties or None})
        return pd.DataFrame(result.all(), columns=columns)


def cases_by_month(engine: Engine, months: list[str] | None = None,
                   counties: list[str] | None = None) -> pd.DataFrame:
    """Per month: cases due (their handling deadline fell in it), closed on time, and
    ``on_time_rate`` (按期结案率), for the counties together."""
    from gridgov.cases.kpis import case_kpis

    months = months or months_back()
    k = case_kpis(engine, level="county", period="month", start=_month_start(months[0]),
                  end=_next_month(_month_start(months[-1])), counties=counties)
    columns = ["month", "due", "closed", "closed_on_time", "on_time_rate"]
    if k.empty:
        return pd.DataFrame(columns=columns)
    frame = (k.groupby("period", as_index=False)[["due", "closed", "closed_on_time"]].sum()
             .rename(columns={"period": "month"}))
    frame["month"] = [d if isinstance(d, dt.date) else pd.Timestamp(d).date()
                      for d in frame["month"]]
    frame["on_time_rate"] = frame["closed_on_time"] / frame["due"].where(frame["due"] > 0)
    return frame[columns]


# the tables each trend is computed from (a cache of a trend keeps their data versions)
INPUTS = {
    "coverage": ("compounds", "assignments", "party_orgs", "divisions", "townships",
                 "grid_cells", "checkins"),
    "checkins": ("checkins",),
    "accounts": ("accounts",),
    "key_tasks": ("key_tasks", "key_task_units", "key_task_progress"),
    "cases": ("cases",),
}


def frame(engine: Engine, name: str, months: list[str] | None = None,
          counties: list[str] | None = None) -> pd.DataFrame:
    """One trend's frame, by its name in :data:`TRENDS`."""
    months = months or months_back()
    if name == "coverage":
        return coverage_by_month(engine, months, counties)
    if name == "checkins":
        return checkins_by_week(engine, _month_start(months[0]), counties=counties)
    if name == "accounts":
        return accounts_by_month(engine, months, counties)
    if name == "key_tasks":
        return key_tasks_by_month(engine, months, counties)
    if name == "cases":
        return cases_by_month(engine, months, counties)
    raise ValueError(f"no trend {name!r}; trends: {', '.join(TRENDS)}")


def frames(engine: Engine, months: list[str] | None = None,
           counties: list[str] | None = None) -> dict[str, pd.DataFrame]:
    """Every trend's frame, by the names of :data:`TRENDS`."""
    months = months or months_back()
    return {name: frame(engine, name, months, counties) for name in TRENDS}


# ------------------------------------------------------------------------------------- charts

def _iso(frame: pd.DataFrame, *cols: str) -> pd.DataFrame:
    """Dates as "YYYY-MM-DD" text (what the charts' axes read), and for a month its Chinese name
    in ``月份`` (what the tooltips say)."""
    out = frame.copy()
    for c in cols:
        days = [d if isinstance(d, dt.date) else pd.Timestamp(d).date() for d in out[c]]
        out[c] = [d.isoformat() for d in days]
        if c == "month":
            out["月份"] = [f"{d.year}年{d.month}月" for d in days]
    return out


def _value(v):
    """A value as JSON has it: missing (NaN, NA) as null, numpy's numbers as Python's."""
    if v is None or v is pd.NA or v is pd.NaT:
        return None
    if isinstance(v, (float, np.floating)):
        return None if math.isnan(v) else float(v)
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.bool_):
        return bool(v)
    return v


def _data(frame: pd.DataFrame) -> alt.Data:
    """The chart's rows inline, without NaN (which is not JSON: a browser refuses the spec)."""
    return alt.Data(values=[{k: _value(v) for k, v in row.items()}
                            for row in frame.to_dict("records")])


def _empty(title: str | None, width, height) -> alt.Chart:
    return alt.Chart(alt.Data(values=[{"text": "暂无数据"}])).mark_text(
        fontSize=22, color="#90a4ae").encode(text="text:N").properties(
        width=width, height=height, **({"title": title} if title else {}))


def _months_x(months: list[str] | None) -> alt.X:
    """Months along x, one band each, every one named (the year at January and at the first);
    ``months`` ("YYYY-MM-DD", the window) keeps every chart on the same twelve."""
    return alt.X("month:O", title=None,
                 scale=alt.Scale(domain=months) if months else alt.Undefined,
                 axis=alt.Axis(labelAngle=0, labelExpr=MONTH_LABEL, labelOverlap=False,
                               ticks=False))


def coverage_chart(frame: pd.DataFrame, theme: str = "light", months: list[str] | None = None,
                   **props) -> alt.Chart:
    t = THEMES[theme]
    long = _iso(frame, "month").melt(
        id_vars=["month", "月份", "compounds", "inactive", "verified_visits"],
        value_vars=["paper_coverage_rate", "verified_coverage_rate"], var_name="basis",
        value_name="rate").dropna(subset=["rate"])
    long["口径"] = long["basis"].map({"paper_coverage_rate": "纸面覆盖率",
                                      "verified_coverage_rate": "实际走访覆盖率"})
    color = alt.Color("口径:N", scale=alt.Scale(domain=["纸面覆盖率", "实际走访覆盖率"],
                                               range=[t["paper"], t["verified"]]),
                      legend=alt.Legend(title=None, orient="top"))
    base = alt.Chart(_data(long)).encode(
        x=_months_x(months),
        y=alt.Y("rate:Q", title=None, scale=alt.Scale(domain=[0, 1]),
                axis=alt.Axis(format=".0%", tickCount=5)),
        color=color,
        tooltip=[alt.Tooltip("月份:N"), alt.Tooltip("口径:N"),
                 alt.Tooltip("rate:Q", title="覆盖率", format=".1%"),
                 alt.Tooltip("inactive:Q", title="有名无实小区"),
                 alt.Tooltip("verified_visits:Q", title="核验走访次数")])
    lines = base.mark_line(strokeWidth=3, point=alt.OverlayMarkDef(size=70, filled=True))
    labels = base.transform_filter("datum['口径'] == '实际走访覆盖率'").mark_text(
        dy=-14, fontSize=13, fontWeight="bold").encode(text=alt.Text("rate:Q", format=".0%"))
    return (lines + labels).properties(**props)


def checkins_chart(frame: pd.DataFrame, theme: str = "light", **props) -> alt.Chart:
    t = THEMES[theme]
    long = _iso(frame, "week").melt(id_vars=["week", "checkins", "members"],
                                    value_vars=["verified", "other"], var_name="kind",
                                    value_name="n")
    long["类别"] = long["kind"].map({"verified": "有效（已核验）", "other": "待审核/未通过/未签退"})
    long["周"] = [f"{d[:4]}年{int(d[5:7])}月{int(d[8:])}日起" for d in long["week"]]
    # one band a week (Monday first), named at each month's first week
    return alt.Chart(_data(long)).mark_bar().encode(
        x=alt.X("week:O", title=None, scale=alt.Scale(paddingInner=0.15),
                axis=alt.Axis(labelExpr=WEEK_LABEL, labelAngle=0, labelOverlap=False,
                              ticks=False)),
        y=alt.Y("n:Q", stack="zero", title="次/周"),
        color=alt.Color("类别:N", scale=alt.Scale(domain=["有效（已核验）", "待审核/未通过/未签退"],
                                                 range=[t["bar"], t["other"]]),
                        legend=alt.Legend(title=None, orient="top")),
        order=alt.Order("kind:N", sort="descending"),
        tooltip=[alt.Tooltip("周:N"), alt.Tooltip("类别:N"), alt.Tooltip("n:Q", title="次数"),
                 alt.Tooltip("checkins:Q", title="全部打卡"),
                 alt.Tooltip("members:Q", title="打卡党员")],
    ).properties(**props)


def _rate_bars(frame: pd.DataFrame, theme: str, title_y: str, counts: list[tuple[str, str]],
               months: list[str] | None = None, **props) -> alt.Chart:
    t = THEMES[theme]
    data = _iso(frame.dropna(subset=["on_time_rate"]), "month")
    base = alt.Chart(_data(data)).encode(
        x=_months_x(months),
        y=alt.Y("on_time_rate:Q", title=None, scale=alt.Scale(domain=[0, 1]),
                axis=alt.Axis(format=".0%", tickCount=5)),
        tooltip=[alt.Tooltip("月份:N"),
                 alt.Tooltip("on_time_rate:Q", title=title_y, format=".1%"),
                 *(alt.Tooltip(f"{c}:Q", title=zh) for c, zh in counts)])
    bars = base.mark_bar(color=t["bar"], width={"band": 0.72})
    labels = base.mark_text(dy=-9, fontSize=13, fontWeight="bold", color=t["text"]).encode(
        text=alt.Text("on_time_rate:Q", format=".0%"))
    return (bars + labels).properties(**props)


def accounts_chart(frame: pd.DataFrame, theme: str = "light", months: list[str] | None = None,
                   **props) -> alt.Chart:
    return _rate_bars(frame, theme, "按时率", [("due", "应报账"), ("on_time", "按时提交"),
                                             ("submitted", "已提交")], months, **props)


def cases_chart(frame: pd.DataFrame, theme: str = "light", months: list[str] | None = None,
                **props) -> alt.Chart:
    return _rate_bars(frame, theme, "按期结案率", [("due", "应结案"),
                                                ("closed_on_time", "按期结案"),
                                                ("closed", "已结案")], months, **props)


def key_tasks_chart(frame: pd.DataFrame, theme: str = "light", months: list[str] | None = None,
                    **props) -> alt.Chart:
    t = THEMES[theme]
    data = _iso(frame, "month")
    data["任务"] = data["task_name"]
    order = list(dict.fromkeys(frame.sort_values("task_code")["task_name"]))
    base = alt.Chart(_data(data)).encode(
        x=_months_x(months),
        y=alt.Y("任务:N", sort=order, title=None, axis=alt.Axis(labelLimit=220, ticks=False)),
        tooltip=[alt.Tooltip("任务:N"), alt.Tooltip("月份:N"),
                 alt.Tooltip("percent:Q", title="平均进度(%)", format=".0f"),
                 alt.Tooltip("reported:Q", title="已报告单位"),
                 alt.Tooltip("units:Q", title="责任单位")])
    cells = base.mark_rect(stroke=t["background"], strokeWidth=1).encode(
        color=alt.Color("percent:Q", title="进度%", scale=alt.Scale(
            domain=[0, 100], scheme=t["scheme"]), legend=alt.Legend(orient="right")))
    text_ = base.mark_text(fontSize=12).encode(
        text=alt.Text("percent:Q", format=".0f"),
        color=alt.condition("datum.percent >= 55", alt.value("#ffffff"),
                            alt.value("#0d1726" if theme == "dark" else "#263238")))
    return (cells + text_).properties(**props)


_CHARTS = {"coverage": coverage_chart, "checkins": checkins_chart, "accounts": accounts_chart,
           "key_tasks": key_tasks_chart, "cases": cases_chart}


def _theme(chart, theme: str):
    t = THEMES[theme]
    return (chart.configure(background=t["background"], font=FONT, padding=8)
            .configure_view(stroke=None)
            .configure_axis(labelColor=t["muted"], titleColor=t["muted"], gridColor=t["grid"],
                            domainColor=t["grid"], tickColor=t["grid"], labelFontSize=14,
                            titleFontSize=14, labelFont=FONT, titleFont=FONT)
            .configure_legend(labelColor=t["text"], titleColor=t["text"], labelFontSize=14,
                              titleFontSize=13, labelFont=FONT, titleFont=FONT,
                              symbolSize=160, labelLimit=400)
            .configure_title(color=t["text"], fontSize=20, font=FONT, anchor="start",
                             subtitleColor=t["muted"], subtitleFont=FONT, subtitleFontSize=13)
            .configure_text(font=FONT, color=t["text"]))


def charts(frames_: dict[str, pd.DataFrame], theme: str = "light", width=560,
           height: int = 300, titles: bool = True) -> dict[str, alt.TopLevelMixin]:
    """Each trend's chart (altair), themed: ``theme`` light or dark, ``width`` in pixels or
    "container" (as wide as the element it is drawn in), ``titles`` from :data:`TRENDS`."""
    if theme not in THEMES:
        raise ValueError(f"theme must be one of {', '.join(THEMES)}")
    out = {}
    cov = frames_.get("coverage")
    months = ([d.isoformat() for d in cov["month"]] if cov is not None and len(cov) else None)
    for name, build in _CHARTS.items():
        frame = frames_.get(name)
        title = alt.Title(TRENDS[name][0], subtitle=TRENDS[name][1]) if titles else None
        props = {"width": width, "height": height, **({"title": title} if title else {})}
        if name != "checkins":
            props["months"] = months
        empty = frame is None or frame.empty or (
            name in ("accounts", "cases") and frame["on_time_rate"].isna().all()) or (
            name == "checkins" and int(frame["checkins"].sum()) == 0)
        chart = (_empty(title, width, height) if empty else build(frame, theme, **props))
        out[name] = _theme(chart, theme)
    return out


# ---------------------------------------------------------------------------------- headlines

def _pct(x) -> str:
    return "—" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.0%}"


def headlines(frames_: dict[str, pd.DataFrame]) -> dict[str, list[tuple[str, str]]]:
    """The latest figure of each trend, for a card's header: [(label, value), ...]."""
    out: dict[str, list[tuple[str, str]]] = {name: [] for name in TRENDS}

    def month_zh(d) -> str:
        return f"{d.month}月"

    cov = frames_.get("coverage")
    if cov is not None and len(cov):
        last = cov.iloc[-1]
        out["coverage"] = [(f"{month_zh(last['month'])}纸面", _pct(last["paper_coverage_rate"])),
                           ("实际走访", _pct(last["verified_coverage_rate"])),
                           ("差距", _pct(last["coverage_gap"]))]
    chk = frames_.get("checkins")
    if chk is not None and len(chk):
        last = chk.iloc[-1]
        out["checkins"] = [(f"{last['week'].month}月{last['week'].day}日当周", f"{last['checkins']:,}"),
                           ("有效", f"{last['verified']:,}")]
    for name in ("accounts", "cases"):
        f = frames_.get(name)
        if f is not None and len(f.dropna(subset=["on_time_rate"])):
            last = f.dropna(subset=["on_time_rate"]).iloc[-1]
            out[name] = [(month_zh(last["month"]), _pct(last["on_time_rate"]))]
    kt = frames_.get("key_tasks")
    if kt is not None and len(kt):
        last = kt[kt["month"] == kt["month"].max()]
        out["key_tasks"] = [(f"{month_zh(last['month'].iloc[0])}平均",
                             f"{last['percent'].mean():.0f}%"),
                            ("过半任务", f"{int((last['percent'] >= 50).sum())}/{len(last)}")]
    return out
