"""The scorecard (考核): one row per organization for a month, ranked, with its reasons in
Chinese.

Components, each a share from 0 to 1:

- 走访 visits: of the compounds the organization is assigned to, those covered in fact in the
  period (:func:`gridgov.analysis.coverage.coverage` with ``basis="visits"``: enough days of
  verified visits by members of the assigned organizations; not ``inactive``);
- 报账 accounts: accounts for the period's month(s) submitted on time / accounts due (an
  account is due once submitted or past its due time; months without an account for the
  organization give no data);
- 要账 demands: demands to the organization, or to its work group, answered by their due time /
  demands falling due in the period (up to ``as_of``); a demand withdrawn (closed unanswered)
  before its due time is not counted;
- 工单 cases, when there are cases: the case KPIs' 按期结案率 at level unit
  (:mod:`gridgov.cases.kpis`), counted from ``min_due_to_rank`` due cases, as the KPIs rank.

The score (0-100) is the weighted mean of the components that have data, with the weights of
:class:`gridgov.settings.ActivitySettings` renormalised over them. Organizations with no
assigned compound, or with fewer than two components with data, are listed but not ranked.

Example:
    >>> card = scorecard(engine, "2025-09")
    >>> list(card.columns[:4])
    ['period', 'org_code', 'org_name', 'work_group_name']
"""

from __future__ import annotations

import datetime as dt
from typing import Iterable

import pandas as pd
from sqlalchemy import Engine, text

from gridgov.activity.accounts import as_instant
from gridgov.analysis.coverage import coverage, visit_period
from gridgov.calendar import SHANGHAI
from gridgov.settings import ActivitySettings, CaseSettings, current

__all__ = ["scorecard", "LABELS_ZH", "COMPONENTS", "MIN_COMPONENTS", "to_csv", "to_xlsx"]

COMPONENTS = {"visits": "走访", "accounts": "报账", "demands": "要账", "cases": "工单"}
MIN_COMPONENTS = 2
LABELS_ZH = {
    "period": "考核期", "org_code": "党组织编码", "org_name": "党组织名称",
    "work_group_name": "工作组", "rank": "排名", "score": "综合得分",
    "compounds_assigned": "包联小区数", "compounds_covered": "走访覆盖小区数",
    "visits_score": "走访覆盖率",
    "accounts_due": "应报账次数", "accounts_on_time": "按期报账次数", "accounts_score": "报账按期率",
    "demands_due": "到期要账数", "demands_answered": "按期回复数", "demands_score": "要账按期回复率",
    "cases_due": "应结案工单数", "cases_on_time": "按期结案工单数", "cases_score": "按期结案率",
    "components": "计分项数", "weights_zh": "权重", "reasons_zh": "得分依据",
    "ranked": "是否排名", "note_zh": "备注",
}


def _period(period: str | tuple[dt.date, dt.date]) -> tuple[dt.date, dt.date, str]:
    start, end = visit_period(period)
    label = start.strftime("%Y-%m") if (end - start).days <= 31 and start.day == 1 \
        else f"{start:%Y-%m-%d}~{end - dt.timedelta(days=1):%Y-%m-%d}"
    return start, end, label


def _frame(conn, sql: str, params: dict) -> pd.DataFrame:
    result = conn.execute(text(sql), params)
    return pd.DataFrame(result.all(), columns=list(result.keys()))


def scorecard(engine: Engine, period: str | tuple[dt.date, dt.date],
              as_of: dt.datetime | dt.date | None = None,
              counties: Iterable[str] | None = None,
              settings: ActivitySettings | None = None,
              case_settings: CaseSettings | None = None) -> pd.DataFrame:
    """One row per organization for ``period`` ("YYYY-MM", or (start, end) dates, end
    excluded), as of ``as_of`` (default now): component counts and shares, the score, the rank
    and the reasons in Chinese. Ranked rows first, by rank; then the others by code."""
    s = settings or current(ActivitySettings)
    cs = case_settings or current(CaseSettings)
    counties = list(counties) if counties else None
    start, end, label = _period(period)
    t0 = dt.datetime.combine(start, dt.time(), SHANGHAI)
    t1 = dt.datetime.combine(end, dt.time(), SHANGHAI)
    now = as_instant(as_of)
    params = {"k": counties, "start": start, "end": end, "t0": t0, "t1": t1, "now": now}
    with engine.connect() as conn:
        orgs = _frame(conn, """
            SELECT o.code AS org_code, o.name AS org_name, o.work_group_code,
                   g.name AS work_group_name
            FROM party_orgs o LEFT JOIN work_groups g ON g.code = o.work_group_code
            WHERE CAST(:k AS text[]) IS NULL OR o.county_code = ANY(:k) ORDER BY o.code""",
                      params)
        acc = _frame(conn, """
            SELECT org_code,
                   count(*) FILTER (WHERE submitted_at IS NOT NULL OR due_at <= :now) AS due,
                   count(*) FILTER (WHERE submitted_at <= due_at) AS on_time
            FROM accounts WHERE month >= :start AND month < :end
              AND (CAST(:k AS text[]) IS NULL OR county_code = ANY(:k))
            GROUP BY org_code""", params)
        dem = _frame(conn, """
            WITH due AS (
                SELECT d.code, d.org_code, d.work_group_code, d.due_at, d.answered_at
                FROM demands d
                WHERE d.due_at >= :t0 AND d.due_at < :t1 AND d.due_at <= :now
                  AND (CAST(:k AS text[]) IS NULL OR d.county_code = ANY(:k))
                  -- withdrawn before it fell due: not owed
                  AND NOT (d.status = 'closed' AND d.answered_at IS NULL
                           AND d.updated_at <= d.due_at)
            ), owed AS (
                SELECT code, org_code, due_at, answered_at FROM due WHERE org_code IS NOT NULL
                UNION
                SELECT d.code, o.code, d.due_at, d.answered_at
                FROM due d JOIN party_orgs o ON o.work_group_code = d.work_group_code
            )
            SELECT org_code, count(*) AS due,
                   count(*) FILTER (WHERE answered_at <= due_at) AS answered
            FROM owed GROUP BY org_code""", params)
        has_cases = conn.execute(text("SELECT to_regclass('cases')")).scalar() is not None \
            and conn.execute(text(
                "SELECT EXISTS (SELECT 1 FROM cases WHERE unit_kind = 'org' AND "
                "handle_due >= :t0 AND handle_due < :t1)"), params).scalar()
    cov = coverage(engine, basis="visits", period=(start, end), counties=counties, activity=s)
    links = pd.DataFrame(cov[["code", "org_codes", "status"]]).explode("org_codes") \
        .dropna(subset=["org_codes"])
    links["covered"] = ~links["status"].isin(["inactive", "uncovered"])
    vis = links.groupby("org_codes").agg(compounds_assigned=("code", "nunique"),
                                         compounds_covered=("covered", "sum"))
    vis.index.name = "org_code"
    card = orgs.merge(vis.reset_index(), on="org_code", how="left")
    card = card.merge(acc.rename(columns={"due": "accounts_due", "on_time": "accounts_on_time"}),
                      on="org_code", how="left")
    card = card.merge(dem.rename(columns={"due": "demands_due",
                                          "answered": "demands_answered"}),
                      on="org_code", how="left")
    if has_cases:
        from gridgov.cases.kpis import case_kpis

        k = case_kpis(engine, level="unit", period="month", start=start, end=end,
                      counties=counties, settings=cs)
        k = k.groupby("key")[["due", "closed_on_time"]].sum().reset_index()
        k.columns = ["org_code", "cases_due", "cases_on_time"]
        card = card.merge(k, on="org_code", how="left")
    else:
        card["cases_due"] = 0
        card["cases_on_time"] = 0
    counts = ["compounds_assigned", "compounds_covered", "accounts_due", "accounts_on_time",
              "demands_due", "demands_answered", "cases_due", "cases_on_time"]
    card[counts] = card[counts].fillna(0).astype(int)

    def share(num: str, den: str, enough: int = 1) -> pd.Series:
        return (card[num] / card[den]).where(card[den] >= enough)

    card["visits_score"] = share("compounds_covered", "compounds_assigned")
    card["accounts_score"] = share("accounts_on_time", "accounts_due")
    card["demands_score"] = share("demands_answered", "demands_due")
    card["cases_score"] = share("cases_on_time", "cases_due", cs.min_due_to_rank)
    weights = {"visits": s.weight_visits, "accounts": s.weight_accounts,
               "demands": s.weight_demands, "cases": s.weight_cases}
    scores, used, weights_zh = [], [], []
    for _, row in card.iterrows():
        have = {c: row[f"{c}_score"] for c in COMPONENTS
                if pd.notna(row[f"{c}_score"]) and weights[c] > 0}
        total = sum(weights[c] for c in have)
        scores.append(round(100 * sum(weights[c] * v for c, v in have.items()) / total, 1)
                      if total else None)
        used.append(len(have))
        weights_zh.append("、".join(f"{COMPONENTS[c]}{weights[c] / total:.0%}" for c in have)
                          if total else "")
    card["score"] = pd.array(scores, dtype="Float64")
    card["components"] = used
    card["weights_zh"] = weights_zh
    card["ranked"] = (card["compounds_assigned"] > 0) & (card["components"] >= MIN_COMPONENTS) \
        & card["score"].notna()
    card["rank"] = card["score"].where(card["ranked"]).astype(float) \
        .rank(ascending=False, method="min").astype("Int64")
    card["reasons_zh"] = [_reasons(r, cs.min_due_to_rank) for _, r in card.iterrows()]
    card["note_zh"] = [
        "" if r["ranked"] else
        "无包联小区，列出不排名" if r["compounds_assigned"] == 0 else
        f"有数据的考核项少于{MIN_COMPONENTS}项，列出不排名" for _, r in card.iterrows()]
    card.insert(0, "period", label)
    card = card.sort_values(["ranked", "rank", "org_code"], ascending=[False, True, True],
                            na_position="last").reset_index(drop=True)
    card.attrs.update(period=(start.isoformat(), end.isoformat()), as_of=now.isoformat(),
                      weights=weights)
    return card[["period", "org_code", "org_name", "work_group_name", "rank", "score",
                 "compounds_assigned", "compounds_covered", "visits_score",
                 "accounts_due", "accounts_on_time", "accounts_score",
                 "demands_due", "demands_answered", "demands_score",
                 "cases_due", "cases_on_time", "cases_score",
                 "components", "weights_zh", "reasons_zh", "ranked", "note_zh",
                 "work_group_code"]]


def _reasons(r, min_cases: int) -> str:
    parts = []
    if r["compounds_assigned"]:
        parts.append(f"走访覆盖{r['compounds_covered']}/{r['compounds_assigned']}个小区")
    else:
        parts.append("无包联小区")
    if r["accounts_due"]:
        late = r["accounts_due"] - r["accounts_on_time"]
        parts.append(f"报账逾期{late}次" if late else
                     f"报账按期{r['accounts_on_time']}/{r['accounts_due']}")
    else:
        parts.append("报账未到期")
    if r["demands_due"]:
        parts.append(f"要账按期回复{r['demands_answered']}/{r['demands_due']}")
    else:
        parts.append("无到期要账")
    if r["cases_due"] >= min_cases:
        parts.append(f"工单按期结案{r['cases_on_time']}/{r['cases_due']}")
    elif r["cases_due"]:
        parts.append(f"应结案工单{r['cases_due']}件（不足{min_cases}件，不计分）")
    return "；".join(parts)


def for_officials(card: pd.DataFrame) -> pd.DataFrame:
    """The scorecard with Chinese headers and 是/否, for CSV and Excel."""
    out = card.drop(columns=["work_group_code"]).copy()
    out["ranked"] = out["ranked"].map({True: "是", False: "否"})
    for col in ("visits_score", "accounts_score", "demands_score", "cases_score"):
        out[col] = out[col].round(4)
    return out.rename(columns=LABELS_ZH)


def to_csv(card: pd.DataFrame) -> bytes:
    """UTF-8 with a BOM, so Excel opens the Chinese right."""
    return ("\ufeff" + for_officials(card).to_csv(index=False)).encode("utf-8")


def to_xlsx(card: pd.DataFrame) -> bytes:
    import io

    buf = io.BytesIO()
    for_officials(card).to_excel(buf, index=False, sheet_name="考核")
    return buf.getvalue()
