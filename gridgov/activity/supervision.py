"""What the command center must chase (双向督查): accounts not submitted by their due time and
demands still unanswered past theirs, one row each, in Chinese (:func:`flags`); the same gathered
per organization, at its office, for the overview's layer and list (:func:`by_unit`); and the
counts for the KPI panel (:func:`summary`).

An account is flagged when it is a draft past its due time, or, for a month whose accounts are
in use (some organization has one), missing past the due time. A demand is flagged while it is
open past its due time. Rows name organizations and work groups only: no person, no position.

Example:
    >>> with engine.begin() as conn:
    ...     _ = accounts.prefill(conn, "141129-P002", "2025-09")
    >>> rows = flags(engine, as_of=dt.date(2025, 10, 20))
    >>> [(r["kind"], r["what_zh"], r["days_late"]) for r in rows if r["org_code"] == "141129-P002"]
    [('account', '2025年9月报账逾期未报', 6)]
    >>> summary(engine, dt.date(2025, 10, 20))["late_accounts"]  # the others have none at all
    131
    >>> top = by_unit(engine, dt.date(2025, 10, 20))["units"][0]  # one per organization
    >>> top["code"], top["accounts"], top["items"][0]["what_zh"]
    ('141129-P001', 1, '2025年9月报账逾期未报')
"""

from __future__ import annotations

import datetime as dt
from typing import Iterable

from sqlalchemy import Connection, Engine, text

from gridgov.activity import accounts
from gridgov.activity.accounts import as_instant, month_label
from gridgov.calendar import SHANGHAI

__all__ = ["flags", "by_unit", "summary", "KIND_ZH", "COLUMNS_ZH"]

KIND_ZH = {"account": "报账", "demand": "要账"}
COLUMNS_ZH = {"kind_zh": "类别", "org_code": "党组织编码", "org_name": "责任单位",
              "work_group_name": "工作组", "ref": "事项编号", "what_zh": "逾期事项",
              "since": "应完成时间", "days_late": "逾期天数", "text_zh": "说明"}

_LATE_ACCOUNTS = """
SELECT a.org_code, o.name AS org_name, o.work_group_code, g.name AS work_group_name,
       a.month, a.due_at
FROM accounts a JOIN party_orgs o ON o.code = a.org_code
LEFT JOIN work_groups g ON g.code = o.work_group_code
WHERE a.status = 'draft' AND (a.due_at < :now OR a.due_at IS NULL)
  AND (CAST(:k AS text[]) IS NULL OR a.county_code = ANY(:k))
"""
# organizations without any account for a month that others have accounts for
_MISSING_ACCOUNTS = """
SELECT o.code AS org_code, o.name AS org_name, o.work_group_code, g.name AS work_group_name
FROM party_orgs o LEFT JOIN work_groups g ON g.code = o.work_group_code
WHERE (CAST(:k AS text[]) IS NULL OR o.county_code = ANY(:k))
  AND EXISTS (SELECT 1 FROM accounts a WHERE a.month = :m AND a.county_code = o.county_code)
  AND NOT EXISTS (SELECT 1 FROM accounts a WHERE a.month = :m AND a.org_code = o.code)
"""
_OVERDUE_DEMANDS = """
SELECT d.code, d.title, d.org_code, o.name AS org_name,
       coalesce(d.work_group_code, o.work_group_code) AS work_group_code,
       g.name AS work_group_name, d.work_group_code IS NOT NULL AS to_group, d.issued_at, d.due_at
FROM demands d LEFT JOIN party_orgs o ON o.code = d.org_code
LEFT JOIN work_groups g ON g.code = coalesce(d.work_group_code, o.work_group_code)
WHERE d.status = 'open' AND d.due_at < :now
  AND (CAST(:k AS text[]) IS NULL OR d.county_code = ANY(:k))
"""


def _rows(bind: Engine | Connection, sql: str, params: dict) -> list[dict]:
    if isinstance(bind, Connection):
        return [dict(r) for r in bind.execute(text(sql), params).mappings()]
    with bind.connect() as conn:
        return [dict(r) for r in conn.execute(text(sql), params).mappings()]


def _late_text(since: dt.datetime, now: dt.datetime) -> tuple[int, str]:
    days = max(int((now - since).total_seconds() // 86400), 0)
    return days, (f"已逾期{days}天" if days else "今日逾期")


def _last_due_month(now: dt.datetime) -> dt.date:
    """The latest month whose accounts have fallen due by ``now``."""
    first = now.astimezone(SHANGHAI).date().replace(day=1)
    month = (first - dt.timedelta(days=1)).replace(day=1)
    if accounts.due_at(month) >= now:
        month = (month - dt.timedelta(days=1)).replace(day=1)
    return month


def flags(bind: Engine | Connection, as_of: dt.datetime | dt.date | None = None,
          counties: Iterable[str] | None = None) -> list[dict]:
    """Late accounts and overdue demands as of ``as_of`` (a date: its end; default now), the
    longest overdue first: kind, organization (or work group), what is late and since when."""
    now = as_instant(as_of)
    params = {"now": now, "k": list(counties) if counties else None}
    out = []
    for a in _rows(bind, _LATE_ACCOUNTS, params):
        month, due = a.pop("month"), a.pop("due_at")
        due = due or accounts.due_at(month)  # imported without one: the calendar's
        if due >= now:
            continue
        days, late = _late_text(due, now)
        what = f"{month_label(month)}报账逾期未报"
        out.append({"kind": "account", "kind_zh": KIND_ZH["account"], **a,
                    "ref": f"{a['org_code']}/{month:%Y-%m}", "what_zh": what,
                    "since": due, "days_late": days,
                    "text_zh": f"{a['org_name']}：{what}（应于{_at(due)}前报送），{late}"})
    month = _last_due_month(now)
    due = accounts.due_at(month)
    for a in _rows(bind, _MISSING_ACCOUNTS, {**params, "m": month}):
        days, late = _late_text(due, now)
        what = f"{month_label(month)}报账逾期未报"
        out.append({"kind": "account", "kind_zh": KIND_ZH["account"], **a,
                    "ref": f"{a['org_code']}/{month:%Y-%m}", "what_zh": what, "since": due,
                    "days_late": days,
                    "text_zh": f"{a['org_name']}：{what}（未生成报账，应于{_at(due)}前报送），"
                               f"{late}"})
    for d in _rows(bind, _OVERDUE_DEMANDS, params):
        days, late = _late_text(d["due_at"], now)
        who = d["org_name"] or f"{d['work_group_name']}（工作组）"
        what = f"要账“{d['title']}”逾期未回复"
        out.append({"kind": "demand", "kind_zh": KIND_ZH["demand"], "org_code": d["org_code"],
                    "org_name": d["org_name"], "work_group_code": d["work_group_code"],
                    "work_group_name": d["work_group_name"], "ref": d["code"],
                    "what_zh": what, "since": d["due_at"], "days_late": days,
                    "text_zh": f"{who}：{what}（{d['code']}，应于{_at(d['due_at'])}前回复），"
                               f"{late}"})
    out.sort(key=lambda r: (r["since"], r["kind"], r["org_code"] or "", r["ref"]))
    return out


def by_unit(bind: Engine | Connection, as_of: dt.datetime | dt.date | None = None,
            counties: Iterable[str] | None = None) -> dict:
    """The rows of :func:`flags` gathered per addressee, for the overview's marker layer and the
    command center's list: one unit per organization, with its office point (WGS84) when it has
    one and whether that point is invented (``synthetic``), or per work group for a demand sent
    to the group (no point: the list shows it, the map cannot). Each unit has its overdue items
    (the longest overdue first) with the days each is late, and the counts; units come ranked by
    how many items are overdue, then by the longest overdue. Organizations and work groups are
    named; no person is.

    Returns ``{"as_of", "late_accounts", "overdue_demands", "units": [...]}``."""
    now = as_instant(as_of)
    units: dict[tuple[str, str], dict] = {}
    for r in flags(bind, now, counties):
        key = ("org", r["org_code"]) if r["org_code"] else ("work_group", r["work_group_code"])
        u = units.get(key)
        if u is None:
            u = units[key] = {
                "kind": key[0], "code": key[1],
                "name": r["org_name"] if key[0] == "org" else r["work_group_name"],
                "work_group_name": r["work_group_name"], "lon": None, "lat": None,
                "synthetic": False, "accounts": 0, "demands": 0, "days_late": 0, "items": []}
        u[r["kind"] + "s"] += 1
        u["days_late"] = max(u["days_late"], r["days_late"])
        u["items"].append({"kind": r["kind"], "kind_zh": r["kind_zh"], "ref": r["ref"],
                           "what_zh": r["what_zh"], "since": r["since"],
                           "days_late": r["days_late"], "late_zh": _late_text(r["since"], now)[1]})
    orgs = [code for kind, code in units if kind == "org"]
    if orgs:
        for o in _rows(bind, _OFFICES, {"codes": orgs}):
            u = units[("org", o["code"])]
            u.update(lon=o["lon"], lat=o["lat"], synthetic=o["source"] == "synthetic")
    ranked = sorted(units.values(), key=lambda u: (-(u["accounts"] + u["demands"]),
                                                   -u["days_late"], u["kind"], u["code"]))
    return {"as_of": now, "late_accounts": sum(u["accounts"] for u in ranked),
            "overdue_demands": sum(u["demands"] for u in ranked), "units": ranked}


# an organization's office: where the overview draws its flag
_OFFICES = """
SELECT code, ST_X(geom) AS lon, ST_Y(geom) AS lat, source FROM party_orgs
WHERE code = ANY(:codes) AND geom IS NOT NULL
"""


def _at(t: dt.datetime) -> str:
    return f"{t.astimezone(SHANGHAI):%Y-%m-%d %H:%M}"


def summary(bind: Engine | Connection, as_of: dt.datetime | dt.date | None = None,
            counties: Iterable[str] | None = None) -> dict:
    """Counts for the command center's KPI panel: late accounts, overdue and open demands, late
    key-task milestones."""
    now = as_instant(as_of)
    rows = flags(bind, now, counties)
    day = now.astimezone(SHANGHAI).date()
    other = _rows(bind, """
        SELECT (SELECT count(*) FROM demands WHERE status = 'open' AND issued_at <= :now
                  AND (CAST(:k AS text[]) IS NULL OR county_code = ANY(:k))) AS open_demands,
               (SELECT count(*) FROM key_task_milestones WHERE due_on < :day
                  AND (done_on IS NULL OR done_on > :day)
                  AND (CAST(:k AS text[]) IS NULL OR county_code = ANY(:k))) AS late_milestones
        """, {"k": list(counties) if counties else None, "day": day, "now": now})[0]
    late_accounts = sum(r["kind"] == "account" for r in rows)
    overdue = sum(r["kind"] == "demand" for r in rows)
    return {"as_of": now, "late_accounts": late_accounts, "overdue_demands": overdue,
            "open_demands": other["open_demands"], "late_milestones": other["late_milestones"],
            "flags": len(rows),
            "labels_zh": {"late_accounts": "报账逾期", "overdue_demands": "要账逾期",
                          "open_demands": "要账待回复", "late_milestones": "任务节点逾期",
                          "flags": "督办事项"}}
