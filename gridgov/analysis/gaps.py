"""Gaps: one ranked list of compounds needing action, with the rules each breaks and a priority
score whose parts are shown.

Score parts (points), chosen so that an uncovered compound outranks any under-covered one of the
same size and distance matters less than people:
- ``score_uncovered``: 100 + households / 10 when no organization covers the compound;
- ``score_shortfall``: 2 × members missing to meet the thresholds (under-covered or uncovered);
- ``score_distance``: 1 per 200 m that the farthest office lies beyond ``far_m``;
- ``score_access``: 1 per 100 m walked beyond the target life circle (settings.access_target,
  default the 10-minute circle, 500 m), × households / 500;
- ``score_fragmented``: 5 per organization beyond ``max_orgs``;
- ``score_overdue``: 3 per open case past its handling deadline (what happens, not only what is
  on paper);
- ``score_cases``: cases per 100 households over the last ``case_window_days`` (90), halved, where
  that rate reaches ``hotspot_per_100_households`` (10).

Example:
    >>> from datetime import date
    >>> g = gaps(engine, as_of=date(2026, 11, 28))     # most urgent first
    >>> g[["name", "priority", "shortfall"]].head(3)
                 name  priority  shortfall
    0  阳坡塔易地搬迁安置小区      41.3       16.0
    1        庞家会小区      34.9       14.0
    2         北街小区      33.3       13.0
    >>> g.loc[0, "reasons_zh"]
    '力量不足：需增加16名党员（按每名党员联系25户计）；有1件工单逾期未办结；近90天每百户12.6件工单，问题多发'
    >>> to_xlsx(g, "gaps.xlsx")                        # for officials
    PosixPath('gaps.xlsx')
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
from sqlalchemy import Connection, Engine, text

from gridgov.analysis.sqlfiles import connection
from gridgov.analysis.access import access
from gridgov.analysis.coverage import coverage
from gridgov.settings import ActivitySettings, AnalysisSettings, current

REASON_ZH = {
    "uncovered": "未包联：没有机关党组织包联",
    "under_covered": "力量不足：需增加{shortfall:.0f}名党员（按每名党员联系{hpm:.0f}户计）",
    "far_assignment": "包联单位驻地过远（{far:.1f}公里）",
    "fragmented": "包联单位过多（{orgs}个），责任分散",
    "no_site_nearby": "不在新时代文明实践阵地{circle}生活圈内（步行约{walk:.0f}米）",
    "inactive": "有名无实：{period}党员走访仅{visited:.0f}天（应不少于{min_days}天）",
    "overdue_cases": "有{overdue:.0f}件工单逾期未办结",
    "case_hotspot": "近{days}天每百户{per100:.1f}件工单，问题多发",
}

_CASES = text("""
SELECT compound_code AS code,
       count(*) FILTER (WHERE status = ANY(:open) AND handle_due < :now) AS overdue_cases,
       count(*) FILTER (WHERE reported_at >= :since AND status <> 'duplicate') AS recent_cases
FROM cases
WHERE compound_code IS NOT NULL AND (:all_counties OR county_code = ANY(:counties))
GROUP BY compound_code
""")


def case_load(conn, counties: list[str] | None, window_days: int,
              now: dt.datetime | None = None) -> pd.DataFrame:
    """Per compound: open cases past their deadline, and cases reported in the window."""
    from gridgov.cases.lifecycle import OPEN

    now = now or dt.datetime.now(dt.timezone.utc)
    result = conn.execute(_CASES, {"open": list(OPEN), "now": now,
                                   "since": now - dt.timedelta(days=window_days),
                                   "all_counties": not counties, "counties": list(counties or [])})
    return pd.DataFrame(result.all(), columns=["code", "overdue_cases", "recent_cases"])


def gaps(bind: Engine | Connection, as_of: dt.date | None = None,
         counties: list[str] | None = None,
         settings: AnalysisSettings | None = None, *, basis: str = "paper",
         period: tuple[dt.date, dt.date] | str | None = None,
         activity: ActivitySettings | None = None) -> gpd.GeoDataFrame:
    """Compounds that break at least one rule, highest priority first. ``basis="visits"``
    ranks by what happens too: a compound covered on paper but not visited in ``period``
    (default the last full month) outranks a thin one."""
    s = settings or current(AnalysisSettings)
    act = activity or current(ActivitySettings)
    with connection(bind) as conn:
        cov = coverage(conn, as_of, counties, s, basis=basis, period=period, activity=act)
        acc = access(conn, counties, s)
        # cases as of the end of that day (Beijing): a date given gives the same answer tomorrow
        at = dt.datetime.combine(as_of + dt.timedelta(days=1), dt.time(),
                                 dt.timezone(dt.timedelta(hours=8))) if as_of else None
        cases = case_load(conn, counties, s.case_window_days, at)
    acc = pd.DataFrame(acc[acc["kind"] == "compound"][["code", "nearest_walk_m", "life_circle",
                                                       "station_code"]])
    g = cov.merge(acc, on="code", how="left").merge(cases, on="code", how="left")
    g[["overdue_cases", "recent_cases"]] = g[["overdue_cases", "recent_cases"]].fillna(0)
    g["cases_per_100"] = (100 * g["recent_cases"] / g["households"].where(g["households"] > 0)
                          ).fillna(0.0).round(2)
    overdue = g["overdue_cases"] > 0
    hotspot = g["cases_per_100"] >= s.hotspot_per_100_households
    g["shortfall"] = np.maximum(np.ceil(g["members_needed"] - g["members"] - 1e-9), 0)
    uncovered = g["status"] == "uncovered"
    paper_status = g["paper_status"] if "paper_status" in g else g["status"]
    under = paper_status == "under_covered"
    inactive = g["status"] == "inactive"
    visit_days = g["visit_days"] if "visit_days" in g else pd.Series(0, index=g.index)
    target = s.access_target_m
    no_site = ~(g["nearest_walk_m"] <= target)  # NaN (no site at all) counts as a gap
    fragmented = g["fragmented"].fillna(False).astype(bool)
    far = g["far_assignment"].astype(bool)

    g["score_uncovered"] = np.where(uncovered, 100 + g["households"] / 10, 0.0)
    g["score_shortfall"] = np.where(uncovered | under, 2 * g["shortfall"], 0.0)
    g["score_distance"] = np.where(far, (g["max_office_m"] - s.far_m) / 200, 0.0)
    walk_excess = (g["nearest_walk_m"].fillna(target * 3) - target).clip(lower=0)
    g["score_access"] = np.where(no_site, walk_excess / 100 * g["households"] / 500, 0.0)
    g["score_fragmented"] = np.where(fragmented, 5 * (g["orgs"] - s.max_orgs), 0.0)
    # what happens counts beside what is on paper: late cases first, then many cases
    g["score_overdue"] = 3.0 * g["overdue_cases"]
    g["score_cases"] = np.where(hotspot, g["cases_per_100"] / 2, 0.0)
    # on paper but not visited: nearly as bad as no one at all, worse than too few members
    g["score_inactive"] = np.where(inactive, 80 + g["households"] / 20, 0.0)
    parts = ["score_uncovered", "score_shortfall", "score_distance", "score_access",
             "score_fragmented", "score_overdue", "score_cases", "score_inactive"]
    g[parts] = g[parts].astype(float).round(2)
    g["priority"] = g[parts].sum(axis=1).round(2)

    rules, reasons = [], []
    for i, row in g.iterrows():
        r = []
        if uncovered[i]:
            r.append("uncovered")
        if under[i]:
            r.append("under_covered")
        if inactive[i]:
            r.append("inactive")
        if far[i]:
            r.append("far_assignment")
        if fragmented[i]:
            r.append("fragmented")
        if no_site[i]:
            r.append("no_site_nearby")
        if overdue[i]:
            r.append("overdue_cases")
        if hotspot[i]:
            r.append("case_hotspot")
        rules.append(r)
        reasons.append("；".join(REASON_ZH[k].format(
            shortfall=row["shortfall"], hpm=s.max_households_per_member,
            far=(row["max_office_m"] or 0) / 1000, orgs=row["orgs"],
            circle=s.access_target.replace("min", "分钟"),
            walk=row["nearest_walk_m"] if pd.notna(row["nearest_walk_m"]) else float("nan"),
            overdue=row["overdue_cases"], days=s.case_window_days, per100=row["cases_per_100"],
            period=_period_zh(cov.attrs.get("period")), min_days=act.min_visit_days,
            visited=visit_days[i])
            for k in r))
    g["rules"] = rules
    g["reasons_zh"] = reasons
    # code last: equal scores keep one order, whatever order the rows came in
    out = g[g["rules"].map(len) > 0].sort_values(["priority", "households", "code"],
                                                 ascending=[False, False, True], kind="stable")
    out.insert(0, "rank", range(1, len(out) + 1))
    return gpd.GeoDataFrame(out.reset_index(drop=True), geometry="geometry", crs=4326)


def _period_zh(period) -> str:
    """("2026-10-01", "2026-11-01") -> "2026年10月"; other spans as dates."""
    if not period:
        return "本期"
    start, end = (dt.date.fromisoformat(p) for p in period)
    if start.day == 1 and (start.replace(day=28) + dt.timedelta(days=4)).replace(day=1) == end:
        return f"{start.year}年{start.month}月"
    return f"{start}至{end - dt.timedelta(days=1)}"


XLSX_COLUMNS = {
    "rank": "排序", "code": "小区编码", "name": "小区名称", "community_name": "所属社区",
    "township_name": "乡镇", "households": "户数", "orgs": "包联单位数", "members": "下沉党员数",
    "shortfall": "党员缺口", "max_office_m": "最远驻地距离(米)", "nearest_walk_m": "至最近阵地步行(米)",
    "priority": "优先级得分", "score_uncovered": "得分:未包联", "score_shortfall": "得分:力量缺口",
    "score_distance": "得分:距离", "score_access": "得分:阵地可达", "score_fragmented": "得分:分散",
    "overdue_cases": "逾期工单", "cases_per_100": "每百户工单", "score_overdue": "得分:逾期工单",
    "score_cases": "得分:工单多发", "score_inactive": "得分:有名无实",
    "reasons_zh": "问题说明", "orgs_zh": "包联单位",
}


def to_table(g: pd.DataFrame) -> pd.DataFrame:
    """The gap list with Chinese headers, as officials read it (no geometry)."""
    frame = pd.DataFrame(g)[list(XLSX_COLUMNS)].rename(columns=XLSX_COLUMNS)
    for col in ("下沉党员数", "最远驻地距离(米)", "至最近阵地步行(米)"):
        frame[col] = frame[col].astype(float).round(0 if "米" in col else 1)
    return frame


def to_xlsx(g: pd.DataFrame, path):
    """Write the gap list for officials to ``path`` (a file name or a binary file object)."""
    path = Path(path) if isinstance(path, str) else path
    with pd.ExcelWriter(path, engine="openpyxl") as writer:
        to_table(g).to_excel(writer, sheet_name="问题小区", index=False)
        sheet = writer.sheets["问题小区"]
        for col, width in zip("ABCDEFGHIJKLMNOPQRS", (6, 18, 18, 16, 10, 8, 10, 10, 8, 14, 14,
                                                       10, 10, 10, 8, 10, 8, 60, 60)):
            sheet.column_dimensions[col].width = width
        sheet.freeze_panes = "C2"
    return path
