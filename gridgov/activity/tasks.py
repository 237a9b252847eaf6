"""The 12 key tasks (创城重点任务): milestones with dates, progress per responsible unit with
evidence, and the board the command center and the work groups read.

Each task belongs to a work group and has responsible units in ``key_task_units``, the lead
unit at position 0. A unit's handler reports its progress (:func:`report`: a percentage, a note
and evidence: codes of activities, cases and accounts, each checked to exist); the command
center marks milestones done (:func:`mark_done`). A milestone is *late* while it is not done
after its planned date, and *done late* when done after it.

:func:`board` gives, per task: its work group, the lead unit, the milestones (done, due, late)
and the latest progress of each responsible unit, the lead first; :func:`by_work_group` groups
the board by the 7 work groups.

Example:
    >>> b = board(engine, as_of=dt.date(2025, 10, 15))
    >>> b[0]["code"], b[0]["lead"]["code"], [u["position"] for u in b[0]["units"]]
    ('141129-KT01', '141129-P051', [0, 1])
"""

from __future__ import annotations

import datetime as dt
import json
import re

from sqlalchemy import Connection, Engine, text

from gridgov.activity.accounts import set_actor
from gridgov.auth import Forbidden, Principal
from gridgov.calendar import SHANGHAI
from gridgov.errors import InputError, NotFound, Problem, StateConflict

__all__ = ["board", "by_work_group", "report", "mark_done", "set_milestone",
           "validate_evidence", "EVIDENCE_KINDS", "MILESTONE_STATE_ZH"]

EVIDENCE_KINDS = {"activities": "活动", "cases": "工单", "accounts": "报账"}
MILESTONE_STATE_ZH = {"done": "按期完成", "done_late": "逾期完成", "late": "逾期未完成",
                      "pending": "未到期"}
# an account: ORG/YYYY-MM, or YYYY-MM for the reporting unit's own
_ACCOUNT_REF = re.compile(r"^(?P<org>.+)/(?P<month>\d{4}-(0[1-9]|1[0-2]))$")


def _today(as_of: dt.date | dt.datetime | None) -> dt.date:
    if as_of is None:
        return dt.datetime.now(SHANGHAI).date()
    if isinstance(as_of, dt.datetime):
        return as_of.astimezone(SHANGHAI).date() if as_of.tzinfo else as_of.date()
    return as_of


def _task(conn: Connection, code: str) -> dict:
    row = conn.execute(text("SELECT code, name, county_code, work_group_code FROM key_tasks "
                            "WHERE code = :c"), {"c": code}).mappings().first()
    if row is None:
        raise NotFound(f"no key task {code!r}")
    task = dict(row)
    task["units"] = list(conn.execute(text(
        "SELECT org_code FROM key_task_units WHERE task_code = :c ORDER BY position"),
        {"c": code}).scalars())
    return task


# --------------------------------------------------------------------------- evidence

def validate_evidence(conn: Connection, evidence: dict | None, org_code: str | None = None
                      ) -> dict:
    """Evidence as stored: ``{"activities": [codes], "cases": [codes], "accounts":
    ["YYYY-MM" (the reporting unit's own account) or "ORG/YYYY-MM"]}``, every code checked to
    exist; raises InputError naming each unknown."""
    if evidence is None:
        return {}
    if not isinstance(evidence, dict):
        raise InputError([Problem("progress", None, "evidence",
                                  "an object {activities: [...], cases: [...], accounts: [...]}")])
    problems, out = [], {}
    for kind, codes in evidence.items():
        if kind not in EVIDENCE_KINDS:
            problems.append(Problem("progress", None, f"evidence.{kind}",
                                    f"unknown kind of evidence; one of "
                                    f"{', '.join(EVIDENCE_KINDS)}"))
            continue
        if isinstance(codes, str):
            codes = [codes]
        if not isinstance(codes, list) or not all(isinstance(c, str) and c.strip()
                                                  for c in codes):
            problems.append(Problem("progress", None, f"evidence.{kind}", "a list of codes"))
            continue
        codes = list(dict.fromkeys(c.strip() for c in codes))
        if not codes:
            continue
        if kind == "activities":
            found = set(conn.execute(text("SELECT code FROM activities WHERE code = ANY(:c)"),
                                     {"c": codes}).scalars())
        elif kind == "cases":
            found = set(conn.execute(text("SELECT code FROM cases WHERE code = ANY(:c)"),
                                     {"c": codes}).scalars())
        else:
            found = set()
            for ref in codes:
                m = _ACCOUNT_REF.match(ref if "/" in ref else f"{org_code}/{ref}")
                try:
                    month = dt.date.fromisoformat(m["month"] + "-01") if m else None
                except ValueError:  # year 0000
                    month = None
                if month and conn.execute(text(
                        "SELECT 1 FROM accounts WHERE org_code = :o AND month = :m"),
                        {"o": m["org"], "m": month}).first():
                    found.add(ref)
        missing = [c for c in codes if c not in found]
        if missing:
            hint = " (an account is YYYY-MM, the unit's own, or ORG/YYYY-MM)" \
                if kind == "accounts" else ""
            problems.append(Problem("progress", None, f"evidence.{kind}",
                                    f"no {kind[:-1] if kind != 'activities' else 'activity'} "
                                    f"{', '.join(missing)}{hint}"))
        out[kind] = codes
    if problems:
        raise InputError(problems)
    return out


# --------------------------------------------------------------------------- writing

def report(conn: Connection, task_code: str, percent: float, by: Principal, *,
           org_code: str | None = None, note: str | None = None, evidence: dict | None = None,
           on: dt.date | None = None) -> dict:
    """A responsible unit reports its progress on a task (its handler; an admin names the
    unit). One report per unit and day: a second one the same day replaces it."""
    task = _task(conn, task_code)
    if by.role == "handler":
        if org_code and org_code != by.org_code:
            raise Forbidden(f"{by.username} reports for {by.org_code}, not {org_code}")
        org_code = by.org_code
        if org_code not in task["units"]:
            raise Forbidden(f"{org_code} is not a responsible unit of {task_code}")
    elif by.role == "admin":
        if not org_code:
            raise InputError([Problem("progress", None, "org_code", "name the unit")])
        if org_code not in task["units"]:
            raise InputError([Problem("progress", None, "org_code",
                                      f"{org_code} is not a responsible unit of {task_code}")])
    else:
        raise Forbidden(f"progress is reported by a responsible unit's handler; "
                        f"{by.username} is a {by.role}")
    on = on or dt.datetime.now(SHANGHAI).date()
    problems = []
    if percent is None or not 0 <= percent <= 100:
        problems.append(Problem("progress", None, "percent", "from 0 to 100"))
    if on > dt.datetime.now(SHANGHAI).date():
        problems.append(Problem("progress", None, "reported_on", "a day in the future"))
    if problems:
        raise InputError(problems)
    stored = validate_evidence(conn, evidence, org_code)
    set_actor(conn, by)
    conn.execute(text(
        "INSERT INTO key_task_progress (task_code, county_code, org_code, reported_on, percent, "
        "note, evidence, source) VALUES (:t, :k, :o, :d, :p, :n, CAST(:e AS jsonb), 'unit') "
        "ON CONFLICT (task_code, org_code, reported_on) DO UPDATE SET percent = EXCLUDED.percent,"
        " note = EXCLUDED.note, evidence = EXCLUDED.evidence, updated_at = now()"),
        {"t": task_code, "k": task["county_code"], "o": org_code, "d": on, "p": float(percent),
         "n": note, "e": json.dumps(stored, ensure_ascii=False)})
    row = conn.execute(text(
        "SELECT p.task_code, p.org_code, o.name AS org_name, p.reported_on, p.percent, p.note, "
        "p.evidence, u.position FROM key_task_progress p JOIN party_orgs o ON o.code = p.org_code "
        "JOIN key_task_units u ON u.task_code = p.task_code AND u.org_code = p.org_code "
        "WHERE p.task_code = :t AND p.org_code = :o AND p.reported_on = :d"),
        {"t": task_code, "o": org_code, "d": on}).mappings().one()
    return {**row, "lead": row["position"] == 0}


def set_milestone(conn: Connection, task_code: str, seq: int, name: str, due_on: dt.date,
                  by: Principal) -> dict:
    """Plan (or re-plan) a milestone of a task (the command center, a planner or an admin)."""
    if by.role not in ("dispatcher", "planner", "admin"):
        raise Forbidden(f"milestones are planned by the command center; {by.username} is a "
                        f"{by.role}")
    if not name or not name.strip():
        raise InputError([Problem("milestone", None, "name", "name the milestone")])
    task = _task(conn, task_code)
    set_actor(conn, by)
    conn.execute(text(
        "INSERT INTO key_task_milestones (task_code, county_code, seq, name, due_on, source) "
        "VALUES (:t, :k, :s, :n, :d, 'center') ON CONFLICT (task_code, seq) DO UPDATE SET "
        "name = EXCLUDED.name, due_on = EXCLUDED.due_on, updated_at = now()"),
        {"t": task_code, "k": task["county_code"], "s": seq, "n": name.strip(), "d": due_on})
    return _milestone(conn, task_code, seq)


def _milestone(conn: Connection, task_code: str, seq: int,
               as_of: dt.date | None = None) -> dict:
    row = conn.execute(text("SELECT task_code, seq, name, due_on, done_on FROM "
                            "key_task_milestones WHERE task_code = :t AND seq = :s"),
                       {"t": task_code, "s": seq}).mappings().first()
    if row is None:
        raise NotFound(f"key task {task_code} has no milestone {seq}")
    return _milestone_state(dict(row), _today(as_of))


def _milestone_state(m: dict, today: dt.date) -> dict:
    if m["done_on"] is not None:
        m["state"] = "done_late" if m["done_on"] > m["due_on"] else "done"
    else:
        m["state"] = "late" if today > m["due_on"] else "pending"
    m["state_zh"] = MILESTONE_STATE_ZH[m["state"]]
    m["days_late"] = ((m["done_on"] or today) - m["due_on"]).days \
        if m["state"] in ("late", "done_late") else 0
    return m


def mark_done(conn: Connection, task_code: str, seq: int, by: Principal,
              done_on: dt.date | None = None) -> dict:
    """Mark a milestone done (the command center or an admin)."""
    if not by.at_least("dispatcher"):
        raise Forbidden(f"milestones are marked done by the command center; {by.username} is "
                        f"a {by.role}")
    current = _milestone(conn, task_code, seq)
    if current["done_on"] is not None:
        raise StateConflict(f"milestone {seq} of {task_code} was already done on "
                            f"{current['done_on']}")
    today = dt.datetime.now(SHANGHAI).date()
    done_on = done_on or today
    if done_on > today:
        raise InputError([Problem("milestone", None, "done_on", "a day in the future")])
    set_actor(conn, by)
    conn.execute(text("UPDATE key_task_milestones SET done_on = :d, updated_at = now() "
                      "WHERE task_code = :t AND seq = :s"),
                 {"d": done_on, "t": task_code, "s": seq})
    return _milestone(conn, task_code, seq)


# --------------------------------------------------------------------------- reading

_TASKS = """
SELECT t.code, t.name, t.county_code, t.work_group_code, g.name AS work_group_name
FROM key_tasks t LEFT JOIN work_groups g ON g.code = t.work_group_code
WHERE (CAST(:g AS text) IS NULL OR t.work_group_code = :g)
  AND (CAST(:t AS text) IS NULL OR t.code = :t)
ORDER BY t.code
"""
_UNITS = """
SELECT u.task_code, u.org_code, o.name AS org_name, u.position,
       p.percent, p.reported_on, p.note, p.evidence
FROM key_task_units u
JOIN party_orgs o ON o.code = u.org_code
LEFT JOIN LATERAL (
    SELECT percent, reported_on, note, evidence FROM key_task_progress p
    WHERE p.task_code = u.task_code AND p.org_code = u.org_code AND p.reported_on <= :day
    ORDER BY p.reported_on DESC LIMIT 1) p ON true
WHERE u.task_code = ANY(:codes)
ORDER BY u.task_code, u.position
"""
_MILESTONES = """
SELECT task_code, seq, name, due_on, CASE WHEN done_on <= :day THEN done_on END AS done_on
FROM key_task_milestones WHERE task_code = ANY(:codes) ORDER BY task_code, seq
"""


def _read(bind: Engine | Connection, sql: str, params: dict) -> list[dict]:
    if isinstance(bind, Connection):
        return [dict(r) for r in bind.execute(text(sql), params).mappings()]
    with bind.connect() as conn:
        return [dict(r) for r in conn.execute(text(sql), params).mappings()]


def board(bind: Engine | Connection, as_of: dt.date | dt.datetime | None = None, *,
          work_group: str | None = None, task: str | None = None) -> list[dict]:
    """Per key task (as of the end of ``as_of``, default today): name, work group, lead unit,
    milestones with counts (total, done, due, late, done late), each responsible unit's latest
    progress (the lead first), and the mean progress over the units (a unit without a report
    counts 0)."""
    day = _today(as_of)
    tasks = _read(bind, _TASKS, {"g": work_group, "t": task})
    codes = [t["code"] for t in tasks]
    units: dict[str, list[dict]] = {c: [] for c in codes}
    for u in _read(bind, _UNITS, {"codes": codes, "day": day}):
        u["lead"] = u["position"] == 0
        u["evidence"] = u["evidence"] or {}
        u["evidence_count"] = sum(len(v) for v in u["evidence"].values())
        units[u.pop("task_code")].append(u)
    milestones: dict[str, list[dict]] = {c: [] for c in codes}
    for m in _read(bind, _MILESTONES, {"codes": codes, "day": day}):
        milestones[m.pop("task_code")].append(_milestone_state(m, day))
    out = []
    for t in tasks:
        ms, us = milestones[t["code"]], units[t["code"]]
        counts = {"total": len(ms),
                  "done": sum(m["state"] in ("done", "done_late") for m in ms),
                  "due": sum(m["due_on"] <= day for m in ms),
                  "late": sum(m["state"] == "late" for m in ms),
                  "done_late": sum(m["state"] == "done_late" for m in ms)}
        lead = us[0] if us else None
        percent = round(sum(u["percent"] or 0 for u in us) / len(us), 1) if us else None
        status = ("逾期" if counts["late"] else
                  "已完成" if ms and counts["done"] == counts["total"] else
                  "未报进度" if not any(u["reported_on"] for u in us) else "推进中")
        out.append({**t, "as_of": day,
                    "lead": {"code": lead["org_code"], "name": lead["org_name"]} if lead else None,
                    "units": us, "milestones": ms, "milestone_counts": counts,
                    "percent": percent, "status_zh": status,
                    "next_milestone": next((m for m in ms if m["done_on"] is None), None)})
    return out


def by_work_group(bind: Engine | Connection,
                  as_of: dt.date | dt.datetime | None = None) -> list[dict]:
    """The board grouped by the work groups (all of them, a group without tasks too)."""
    tasks = board(bind, as_of)
    groups = _read(bind, "SELECT code, name, duty FROM work_groups ORDER BY code", {})
    out = []
    for g in groups:
        mine = [t for t in tasks if t["work_group_code"] == g["code"]]
        out.append({**g, "tasks": mine,
                    "late_milestones": sum(t["milestone_counts"]["late"] for t in mine),
                    "percent": round(sum(t["percent"] or 0 for t in mine) / len(mine), 1)
                    if mine else None})
    return out
