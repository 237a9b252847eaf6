"""Monthly accounts (报账, 自下而上): what each organization did in a month, prefilled from the
data and completed by the unit in its own words.

:func:`prefill` creates or refreshes an organization's draft for a month with figures drawn
from the data (``prefilled``): verified visits and hours by its members (check-ins valid or
approved, checked out), hours added by hand (kept apart), the cases it was responsible for
(handled, due, closed on time), the activities it organized and its progress on the key tasks
it holds. Only counts and totals: no member's name, phone or position. A submitted account is
never refreshed: its figures are those it was submitted with.

An account is due at the end of the ``account_due_working_days``-th working day of the next
month (:func:`due_at`, from the one working-time calendar, gridgov.calendar): the accounts for
September 2025 are due on Tuesday October 14, 18:00, after the National Day holiday. It is
*late* when submitted after that, or not submitted by then (:func:`is_late`).

Example:
    >>> with engine.begin() as conn:
    ...     a = prefill(conn, "141129-P001", "2025-09")
    >>> a["status"], a["due_at"].astimezone(SHANGHAI).isoformat()
    ('draft', '2025-10-14T18:00:00+08:00')
    >>> a["prefilled"]["visits"]["verified"], is_late(a, dt.date(2025, 10, 14))
    (0, True)
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Iterable

from sqlalchemy import Connection, Engine, text

from gridgov.auth import Forbidden, Principal
from gridgov.calendar import SHANGHAI
from gridgov.errors import InputError, NotFound, Problem, StateConflict
from gridgov.settings import ActivitySettings, current

__all__ = ["prefill", "prefill_all", "figures", "monthly", "submit", "get", "find", "due_at", "is_late",
           "month_start", "month_bounds", "month_label", "STATUS_ZH"]

STATUS_ZH = {"draft": "待报送", "submitted": "已报送"}
VERIFIED = ("valid", "approved")

_COLUMNS = ("a.id, a.org_code, o.name AS org_name, a.county_code, a.month, a.prefilled, "
            "a.narrative, a.status, a.due_at, a.submitted_at, a.submitted_by, a.version, "
            "a.updated_at")


# --------------------------------------------------------------------------- months and times

def month_start(month: str | dt.date) -> dt.date:
    """The first day of ``month`` ("YYYY-MM", or any date in it)."""
    if isinstance(month, dt.datetime):
        month = month.astimezone(SHANGHAI).date() if month.tzinfo else month.date()
    if isinstance(month, dt.date):
        return month.replace(day=1)
    try:
        return dt.date.fromisoformat(str(month).strip()[:7] + "-01")
    except ValueError:
        raise InputError([Problem("account", None, "month",
                                  f"{month!r} is not a month YYYY-MM")]) from None


def next_month(first: dt.date) -> dt.date:
    return (first.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


def month_bounds(month: str | dt.date) -> tuple[dt.datetime, dt.datetime]:
    """The month as [start, end) instants in Beijing time."""
    first = month_start(month)
    return (dt.datetime.combine(first, dt.time(), SHANGHAI),
            dt.datetime.combine(next_month(first), dt.time(), SHANGHAI))


def month_label(month: dt.date) -> str:
    """2025-09-01 → 2025年9月"""
    return f"{month.year}年{month.month}月"


def as_instant(as_of: dt.datetime | dt.date | None) -> dt.datetime:
    """A moment: now, a timezone-aware datetime as given, or a date as the end of that day
    (Beijing time), so "as of October 14" includes what fell due that day."""
    if as_of is None:
        return dt.datetime.now(dt.timezone.utc)
    if isinstance(as_of, dt.datetime):
        if as_of.tzinfo is None:
            raise InputError([Problem("as_of", None, None, "give a time zone")])
        return as_of
    return dt.datetime.combine(as_of + dt.timedelta(days=1), dt.time(), SHANGHAI)


def due_at(month: str | dt.date, settings: ActivitySettings | None = None) -> dt.datetime:
    """When the account for ``month`` is due: the end of the ``account_due_working_days``-th
    working day of the next month (Beijing time), from the working-time calendar."""
    from gridgov.cases.sla import calendar

    s = settings or current(ActivitySettings)
    _, end = month_bounds(month)
    # midnight is outside working hours: the clock starts at the month's first opening, and
    # N working days later is the end (18:00) of the Nth working day
    return calendar().deadline(end, s.account_due_working_days, "working_days")


def is_late(account: dict, as_of: dt.datetime | dt.date | None = None) -> bool:
    """Submitted after its due time, or not submitted by then."""
    due = account["due_at"]
    if account.get("submitted_at") is not None:
        return account["submitted_at"] > due
    return as_instant(as_of) > due


def set_actor(conn: Connection, who: Principal | str | None) -> None:
    """Name the user in the audit log of this transaction."""
    name = who.username if isinstance(who, Principal) else who
    if name:
        conn.execute(text("SELECT set_config('gridgov.actor', :a, true)"), {"a": name})


# --------------------------------------------------------------------------- the figures

def _figures(conn: Connection, org: dict, month: dt.date) -> dict:
    """The prefilled figures of ``org`` (code, county_code) for ``month`` (its first day)."""
    start, end = month_bounds(month)
    params = {"o": org["code"], "k": org["county_code"], "start": start, "end": end,
              "first": month, "next": next_month(month), "verified": list(VERIFIED)}
    visits = conn.execute(text(
        "SELECT count(*) AS verified, "
        "count(DISTINCT c.compound_code) AS compounds, "
        "count(DISTINCT (c.checked_in_at AT TIME ZONE 'Asia/Shanghai')::date) AS days, "
        "count(DISTINCT c.member_code) AS members, "
        "coalesce(sum(c.hours), 0)::float8 AS hours, "
        "count(*) FILTER (WHERE EXISTS (SELECT 1 FROM assignments a WHERE "
        "  a.org_code = c.org_code AND a.compound_code = c.compound_code AND a.valid_from <= "
        "  (c.checked_in_at AT TIME ZONE 'Asia/Shanghai')::date AND (a.valid_to IS NULL OR "
        "  a.valid_to > (c.checked_in_at AT TIME ZONE 'Asia/Shanghai')::date))) "
        "  AS at_assigned_compounds "
        "FROM checkins c WHERE c.county_code = :k AND c.org_code = :o "
        "AND c.checked_in_at >= :start AND c.checked_in_at < :end "
        "AND c.status = ANY(:verified) AND c.checked_out_at IS NOT NULL"), params).mappings().one()
    waiting = conn.execute(text(
        "SELECT count(*) FROM checkins WHERE county_code = :k AND org_code = :o "
        "AND checked_in_at >= :start AND checked_in_at < :end AND status = 'flagged'"),
        params).scalar_one()
    added = conn.execute(text(
        "SELECT count(*) AS entries, coalesce(sum(hours), 0)::float8 AS hours FROM hours_added "
        "WHERE org_code = :o AND day >= :first AND day < :next"), params).mappings().one()
    activities = conn.execute(text(
        "SELECT count(*) AS count, coalesce(sum(participants), 0)::int AS participants, "
        "coalesce(sum(volunteer_hours), 0)::float8 AS volunteer_hours, "
        "coalesce(array_agg(code ORDER BY held_on, code) FILTER (WHERE code IS NOT NULL), "
        "'{}') AS codes FROM activities WHERE org_code = :o AND held_on >= :first "
        "AND held_on < :next"), params).mappings().one()
    return {
        "month": month.strftime("%Y-%m"),
        "computed_at": dt.datetime.now(SHANGHAI).isoformat(timespec="seconds"),
        "visits": {**{k: visits[k] for k in ("verified", "at_assigned_compounds", "compounds",
                                             "days", "members")},
                   "hours": round(visits["hours"], 2), "awaiting_decision": waiting},
        "hours_added": {"entries": added["entries"], "hours": round(added["hours"], 2)},
        "cases": _cases(conn, params),
        "activities": {"count": activities["count"],
                       "participants": activities["participants"],
                       "volunteer_hours": round(activities["volunteer_hours"], 2),
                       "codes": list(activities["codes"])},
        "key_tasks": _key_tasks(conn, org["code"], month, params),
    }


def _cases(conn: Connection, params: dict) -> dict | None:
    """The unit's cases in the month, as the case KPIs count them (gridgov.cases.kpis): due in
    the month its handling deadline falls in, once passed; closed on time = handled by it and
    closed. None when there are no case tables."""
    if conn.execute(text("SELECT to_regclass('cases')")).scalar() is None:
        return None
    row = conn.execute(text(
        "SELECT count(*) FILTER (WHERE dispatched_at >= :start AND dispatched_at < :end) "
        "  AS dispatched, "
        "count(*) FILTER (WHERE handled_at >= :start AND handled_at < :end) AS handled, "
        "count(*) FILTER (WHERE status = 'closed' AND closed_at >= :start AND closed_at < :end) "
        "  AS closed, "
        "count(*) FILTER (WHERE handle_due >= :start AND handle_due < least(:end, now()) "
        "  AND status NOT IN ('rejected', 'duplicate')) AS due, "
        "count(*) FILTER (WHERE handle_due >= :start AND handle_due < least(:end, now()) "
        "  AND status = 'closed' AND handled_at <= handle_due) AS closed_on_time, "
        "count(*) FILTER (WHERE handle_due < least(:end, now()) AND closed_at IS NULL "
        "  AND handled_at IS NULL "
        "  AND status NOT IN ('closed', 'rejected', 'duplicate', 'suspended')) AS overdue_open "
        "FROM cases WHERE county_code = :k AND unit_kind = 'org' AND unit_code = :o"),
        params).mappings().one()
    out = dict(row)
    out["on_time_rate"] = round(out["closed_on_time"] / out["due"], 4) if out["due"] else None
    return out


def _key_tasks(conn: Connection, org_code: str, month: dt.date, params: dict) -> list[dict]:
    rows = conn.execute(text(
        "SELECT t.code, t.name, u.position, p.percent, p.reported_on, "
        "(SELECT count(*) FROM key_task_progress q WHERE q.task_code = t.code "
        " AND q.org_code = :o AND q.reported_on >= :first AND q.reported_on < :next) "
        "  AS reports_in_month, "
        "(SELECT count(*) FROM key_task_milestones m WHERE m.task_code = t.code "
        " AND m.due_on >= :first AND m.due_on < :next) AS milestones_due, "
        "(SELECT count(*) FROM key_task_milestones m WHERE m.task_code = t.code "
        " AND m.due_on >= :first AND m.due_on < :next AND m.done_on <= m.due_on) "
        "  AS milestones_done_on_time "
        "FROM key_task_units u JOIN key_tasks t ON t.code = u.task_code "
        "LEFT JOIN LATERAL (SELECT percent, reported_on FROM key_task_progress p "
        "  WHERE p.task_code = t.code AND p.org_code = :o AND p.reported_on < :next "
        "  ORDER BY p.reported_on DESC LIMIT 1) p ON true "
        "WHERE u.org_code = :o ORDER BY t.code"), params).mappings().all()
    return [{"code": r["code"], "name": r["name"], "lead": r["position"] == 0,
             "percent": r["percent"],
             "reported_on": r["reported_on"].isoformat() if r["reported_on"] else None,
             "reports_in_month": r["reports_in_month"],
             "milestones_due": r["milestones_due"],
             "milestones_done_on_time": r["milestones_done_on_time"]} for r in rows]


def summary_zh(p: dict) -> str:
    """The prefilled figures in one Chinese sentence, for the narrative's first line."""
    v, h = p["visits"], p["hours_added"]
    parts = [f"核实走访{v['verified']}次（{v['compounds']}个小区，{v['members']}名党员，"
             f"{v['days']}天），核实时长{v['hours']:g}小时"]
    if h["hours"]:
        parts.append(f"手工补录{h['hours']:g}小时（另计）")
    if v["awaiting_decision"]:
        parts.append(f"{v['awaiting_decision']}次打卡待核实")
    c = p.get("cases")
    if c is not None and (c["due"] or c["handled"] or c["dispatched"]):
        parts.append(f"工单派遣{c['dispatched']}件、办结{c['handled']}件、"
                     f"按期结案{c['closed_on_time']}/{c['due']}件")
    a = p["activities"]
    if a["count"]:
        parts.append(f"组织活动{a['count']}场（{a['participants']}人次）")
    tasks = []
    for t in p["key_tasks"]:
        done = "未报进度" if t["percent"] is None else f"完成{t['percent']:g}%"
        tasks.append(f"{t['name']}{'（牵头）' if t['lead'] else ''}{done}")
    if tasks:
        parts.append("重点任务：" + "、".join(tasks))
    return "；".join(parts) + "。"


# --------------------------------------------------------------------------- reading

def figures(conn: Connection, org_code: str, month: str | dt.date) -> dict:
    """What :func:`prefill` would write for ``org_code`` and ``month``, without writing it."""
    out = _figures(conn, _org(conn, org_code), month_start(month))
    out["summary_zh"] = summary_zh(out)
    return out


def _org(conn: Connection, org_code: str) -> dict:
    row = conn.execute(text("SELECT code, name, county_code, work_group_code FROM party_orgs "
                            "WHERE code = :o"), {"o": org_code}).mappings().first()
    if row is None:
        raise NotFound(f"no organization {org_code!r}")
    return dict(row)


def _with_state(row, as_of: dt.datetime | dt.date | None = None) -> dict:
    a = dict(row)
    a["month"] = a["month"] if isinstance(a["month"], dt.date) else month_start(a["month"])
    if a["due_at"] is None:  # imported without one: the calendar's
        a["due_at"] = due_at(a["month"])
    a["status_zh"] = STATUS_ZH.get(a["status"], a["status"])
    a["late"] = is_late(a, as_of)
    if a["submitted_at"] is not None:
        a["timeliness_zh"] = "逾期报送" if a["late"] else "按期报送"
    else:
        a["timeliness_zh"] = "逾期未报" if a["late"] else "未到期"
    return a


def get(conn: Connection, org_code: str, month: str | dt.date,
        as_of: dt.datetime | dt.date | None = None) -> dict:
    row = conn.execute(text(f"SELECT {_COLUMNS} FROM accounts a JOIN party_orgs o ON "
                            "o.code = a.org_code WHERE a.org_code = :o AND a.month = :m"),
                       {"o": org_code, "m": month_start(month)}).mappings().first()
    if row is None:
        raise NotFound(f"no account of {org_code} for {month_start(month):%Y-%m}")
    return _with_state(row, as_of)


def find(bind: Engine | Connection, month: str | dt.date | None = None, *,
         org_code: str | None = None, status: str | None = None, late: bool | None = None,
         as_of: dt.datetime | dt.date | None = None) -> list[dict]:
    """Accounts, filtered; each with ``late`` and its state in Chinese."""
    sql = text(f"SELECT {_COLUMNS} FROM accounts a JOIN party_orgs o ON o.code = a.org_code "
               "WHERE (CAST(:m AS date) IS NULL OR a.month = :m) "
               "AND (CAST(:o AS text) IS NULL OR a.org_code = :o) "
               "AND (CAST(:s AS text) IS NULL OR a.status = :s) ORDER BY a.month, a.org_code")
    params = {"m": month_start(month) if month else None, "o": org_code, "s": status}
    if isinstance(bind, Connection):
        rows = bind.execute(sql, params).mappings().all()
    else:
        with bind.connect() as conn:
            rows = conn.execute(sql, params).mappings().all()
    out = [_with_state(r, as_of) for r in rows]
    return out if late is None else [a for a in out if a["late"] == late]


# --------------------------------------------------------------------------- writing

def prefill(conn: Connection, org_code: str, month: str | dt.date,
            settings: ActivitySettings | None = None) -> dict:
    """Create or refresh the draft account of ``org_code`` for ``month`` from the data; a
    submitted account is returned unchanged."""
    first = month_start(month)
    org = _org(conn, org_code)
    data = _figures(conn, org, first)
    data["summary_zh"] = summary_zh(data)
    conn.execute(text(
        "INSERT INTO accounts (org_code, county_code, month, prefilled, status, due_at, source) "
        "VALUES (:o, :k, :m, CAST(:p AS jsonb), 'draft', :due, 'prefill') "
        "ON CONFLICT (org_code, month) DO UPDATE SET prefilled = EXCLUDED.prefilled, "
        "due_at = EXCLUDED.due_at, updated_at = now(), version = accounts.version + 1 "
        "WHERE accounts.status = 'draft'"),
        {"o": org_code, "k": org["county_code"], "m": first,
         "p": json.dumps(data, ensure_ascii=False), "due": due_at(first, settings)})
    return get(conn, org_code, first)


def prefill_all(bind: Engine | Connection, month: str | dt.date,
                counties: Iterable[str] | None = None,
                settings: ActivitySettings | None = None) -> int:
    """Prefill every organization's account for ``month`` (the monthly job); returns how many
    drafts were written (submitted accounts are left alone)."""
    def run(conn: Connection) -> int:
        set_actor(conn, "gridgov-monthly")
        orgs = conn.execute(text(
            "SELECT code FROM party_orgs WHERE CAST(:k AS text[]) IS NULL "
            "OR county_code = ANY(:k) ORDER BY code"),
            {"k": list(counties) if counties else None}).scalars().all()
        drafts = 0
        for code in orgs:
            drafts += prefill(conn, code, month, settings)["status"] == "draft"
        return drafts

    if isinstance(bind, Connection):
        return run(bind)
    with bind.begin() as conn:
        return run(conn)


def monthly(bind: Engine | Connection, today: dt.date | None = None,
            settings: ActivitySettings | None = None) -> int:
    """The monthly job: prefill (or refresh) the accounts for the month before ``today``
    (Beijing time). Run daily, it keeps the drafts current until they are submitted."""
    today = today or dt.datetime.now(SHANGHAI).date()
    previous = (today.replace(day=1) - dt.timedelta(days=1)).replace(day=1)
    return prefill_all(bind, previous, settings=settings)


def may_submit(who: Principal, org_code: str) -> bool:
    return who.role == "admin" or (who.role == "handler" and who.org_code == org_code)


def submit(conn: Connection, org_code: str, month: str | dt.date, narrative: str,
           by: Principal, at: dt.datetime | None = None,
           settings: ActivitySettings | None = None) -> dict:
    """Submit the account of ``org_code`` for ``month`` (the unit's handler, or an admin): the
    figures are refreshed one last time and frozen with the narrative."""
    if not may_submit(by, org_code):
        raise Forbidden(f"the account of {org_code} is submitted by its own handler "
                        f"(or an admin); {by.username} is a {by.role}"
                        + (f" of {by.org_code}" if by.org_code else ""))
    if not narrative or not narrative.strip():
        raise InputError([Problem("account", None, "narrative",
                                  "say in a few words what the unit did this month")])
    first = month_start(month)
    at = at or dt.datetime.now(dt.timezone.utc)
    if at < month_bounds(first)[0]:
        raise InputError([Problem("account", None, "month",
                                  f"{first:%Y-%m} has not begun: nothing to account for yet")])
    current = conn.execute(text("SELECT status, submitted_at FROM accounts WHERE "
                                "org_code = :o AND month = :m FOR UPDATE"),
                           {"o": org_code, "m": first}).mappings().first()
    if current is not None and current["status"] == "submitted":
        raise StateConflict(f"the account of {org_code} for {first:%Y-%m} was already submitted "
                            f"at {current['submitted_at'].astimezone(SHANGHAI):%Y-%m-%d %H:%M}")
    set_actor(conn, by)
    prefill(conn, org_code, first, settings)
    conn.execute(text(
        "UPDATE accounts SET status = 'submitted', narrative = :n, submitted_at = :at, "
        "submitted_by = :by, updated_at = now(), version = version + 1 "
        "WHERE org_code = :o AND month = :m"),
        {"n": narrative.strip(), "at": at, "by": by.username, "o": org_code, "m": first})
    return get(conn, org_code, first, at)
