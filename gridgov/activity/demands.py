"""Supervision demands (要账, 自上而下): the command center asks an organization, or a work group,
for an answer by a deadline.

A demand is issued by a dispatcher (the command center) or an admin (:func:`issue`) to one
organization or one of the work groups, with a due time given outright or as a number of
working days from issue (the one working-time calendar, gridgov.calendar). The addressee's
handler answers it (:func:`answer`): the organization's own handler, or for a work group the
handler of any organization in it. The center closes it (:func:`close`). A demand is *overdue*
while it is open past its due time.

Example:
    >>> from gridgov.auth import Principal
    >>> center = Principal("center", "dispatcher")
    >>> with engine.begin() as conn:
    ...     d = issue(conn, org_code="141129-P051", title="报送背街小巷整治台账",
    ...               due_working_days=3, by=center)
    >>> d["status"], d["overdue"]
    ('open', False)
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Connection, Engine, text

from gridgov.activity.accounts import as_instant, set_actor
from gridgov.auth import Forbidden, Principal
from gridgov.errors import InputError, NotFound, Problem, StateConflict

__all__ = ["issue", "answer", "close", "get", "find", "may_answer", "STATUS_ZH"]

STATUS_ZH = {"open": "待回复", "answered": "已回复", "closed": "已办结"}

_COLUMNS = ("d.code, d.county_code, d.org_code, o.name AS org_name, d.work_group_code, "
            "g.name AS work_group_name, d.title, d.body, d.issued_at, d.due_at, d.answered_at, "
            "d.answer, d.status, d.version")
_FROM = ("FROM demands d LEFT JOIN party_orgs o ON o.code = d.org_code "
         "LEFT JOIN work_groups g ON g.code = d.work_group_code")


def _state(row, as_of: dt.datetime | dt.date | None = None) -> dict:
    d = dict(row)
    now = as_instant(as_of)
    d["status_zh"] = STATUS_ZH.get(d["status"], d["status"])
    d["addressee_name"] = d["org_name"] or d["work_group_name"]
    d["overdue"] = d["status"] == "open" and now > d["due_at"]
    d["answered_on_time"] = None if d["answered_at"] is None else d["answered_at"] <= d["due_at"]
    return d


def get(conn: Connection, code: str, as_of: dt.datetime | dt.date | None = None,
        lock: bool = False) -> dict:
    row = conn.execute(text(f"SELECT {_COLUMNS} {_FROM} WHERE d.code = :c"
                            + (" FOR UPDATE OF d" if lock else "")),
                       {"c": code}).mappings().first()
    if row is None:
        raise NotFound(f"no demand {code!r}")
    return _state(row, as_of)


def find(bind: Engine | Connection, *, status: str | None = None, org_code: str | None = None,
         work_group_code: str | None = None, overdue: bool | None = None,
         as_of: dt.datetime | dt.date | None = None, limit: int = 500) -> list[dict]:
    """Demands, newest first. ``org_code`` also finds those to the organization's work group."""
    sql = text(
        f"SELECT {_COLUMNS} {_FROM} WHERE (CAST(:s AS text) IS NULL OR d.status = :s) "
        "AND (CAST(:o AS text) IS NULL OR d.org_code = :o OR d.work_group_code = "
        "  (SELECT work_group_code FROM party_orgs WHERE code = :o)) "
        "AND (CAST(:g AS text) IS NULL OR d.work_group_code = :g) "
        "ORDER BY d.issued_at DESC, d.code DESC LIMIT :limit")
    params = {"s": status, "o": org_code, "g": work_group_code, "limit": limit}
    if isinstance(bind, Connection):
        rows = bind.execute(sql, params).mappings().all()
    else:
        with bind.connect() as conn:
            rows = conn.execute(sql, params).mappings().all()
    out = [_state(r, as_of) for r in rows]
    return out if overdue is None else [d for d in out if d["overdue"] == overdue]


def _new_code(conn: Connection, county: str) -> str:
    """The county's next demand number, as the bundle numbers them: 141129-D041."""
    conn.execute(text("SELECT pg_advisory_xact_lock(hashtext('demands:' || :k))"), {"k": county})
    last = conn.execute(text(
        "SELECT max(substring(code FROM '^' || :k || '-D([0-9]{1,9})$')::int) FROM demands "
        "WHERE county_code = :k"), {"k": county}).scalar()
    return f"{county}-D{(last or 0) + 1:03d}"


def issue(conn: Connection, *, title: str, by: Principal, code: str | None = None,
          org_code: str | None = None, work_group_code: str | None = None,
          body: str | None = None, due_at: dt.datetime | None = None,
          due_working_days: float | None = None, at: dt.datetime | None = None) -> dict:
    """Issue a demand to one organization or one work group (the command center or an admin).
    The due time is ``due_at``, or ``due_working_days`` working days from issue."""
    if not by.at_least("dispatcher"):
        raise Forbidden(f"demands (要账) are issued by the command center; {by.username} is a "
                        f"{by.role}")
    problems = []
    if bool(org_code) == bool(work_group_code):
        problems.append(Problem("demand", None, "org_code",
                                "address the demand to one organization or one work group"))
    if not title or not title.strip():
        problems.append(Problem("demand", None, "title", "say what is demanded"))
    if (due_at is None) == (due_working_days is None):
        problems.append(Problem("demand", None, "due_at",
                                "give a due time or a number of working days, one of them"))
    if due_at is not None and due_at.tzinfo is None:
        problems.append(Problem("demand", None, "due_at", "give a time zone"))
    if due_working_days is not None and not due_working_days > 0:
        problems.append(Problem("demand", None, "due_working_days", "more than zero"))
    at = at or dt.datetime.now(dt.timezone.utc)
    if due_at is not None and due_at.tzinfo is not None and due_at <= at:
        problems.append(Problem("demand", None, "due_at", "the due time has already passed"))
    if problems:
        raise InputError(problems)
    if org_code:
        county = conn.execute(text("SELECT county_code FROM party_orgs WHERE code = :o"),
                              {"o": org_code}).scalar()
        what = f"no organization {org_code!r}"
    else:
        county = conn.execute(text("SELECT county_code FROM work_groups WHERE code = :g"),
                              {"g": work_group_code}).scalar()
        what = f"no work group {work_group_code!r}"
    if county is None:
        raise InputError([Problem("demand", None, "org_code" if org_code else "work_group_code",
                                  what)])
    if due_at is None:
        from gridgov.cases.sla import calendar

        due_at = calendar().deadline(at, due_working_days, "working_days")
    set_actor(conn, by)
    code = (code or "").strip() or _new_code(conn, county)
    if conn.execute(text("SELECT 1 FROM demands WHERE code = :c"), {"c": code}).first():
        raise StateConflict(f"demand {code} already exists")
    conn.execute(text(
        "INSERT INTO demands (code, county_code, org_code, work_group_code, title, body, "
        "issued_at, due_at, status, source) VALUES (:c, :k, :o, :g, :t, :b, :at, :due, 'open', "
        "'center')"),
        {"c": code, "k": county, "o": org_code or None, "g": work_group_code or None,
         "t": title.strip(), "b": body, "at": at, "due": due_at})
    return get(conn, code, at)


def may_answer(conn: Connection, who: Principal, demand: dict) -> bool:
    """The addressee's handler (for a work group: a handler of any organization in it), or an
    admin."""
    if who.role == "admin":
        return True
    if who.role != "handler" or not who.org_code:
        return False
    if demand["org_code"]:
        return who.org_code == demand["org_code"]
    group = conn.execute(text("SELECT work_group_code FROM party_orgs WHERE code = :o"),
                         {"o": who.org_code}).scalar()
    return group is not None and group == demand["work_group_code"]


def answer(conn: Connection, code: str, answer: str, by: Principal,
           at: dt.datetime | None = None) -> dict:
    """Answer an open demand (its addressee's handler, or an admin)."""
    demand = get(conn, code, lock=True)
    if not may_answer(conn, by, demand):
        raise Forbidden(f"demand {code} is answered by {demand['addressee_name']}"
                        f"{'（工作组成员单位）' if demand['work_group_code'] else ''}; "
                        f"{by.username} is a {by.role}"
                        + (f" of {by.org_code}" if by.org_code else ""))
    if demand["status"] != "open":
        raise StateConflict(f"demand {code} is {demand['status']}, not open")
    if not answer or not answer.strip():
        raise InputError([Problem("demand", None, "answer", "the answer is empty")])
    at = at or dt.datetime.now(dt.timezone.utc)
    set_actor(conn, by)
    conn.execute(text(
        "UPDATE demands SET answer = :a, answered_at = :at, status = 'answered', "
        "updated_at = now(), version = version + 1 WHERE code = :c"),
        {"a": answer.strip(), "at": at, "c": code})
    return get(conn, code, at)


def close(conn: Connection, code: str, by: Principal, at: dt.datetime | None = None) -> dict:
    """Close a demand (the command center or an admin): answered, or withdrawn while open."""
    if not by.at_least("dispatcher"):
        raise Forbidden(f"demands are closed by the command center; {by.username} is a "
                        f"{by.role}")
    demand = get(conn, code, lock=True)
    if demand["status"] == "closed":
        raise StateConflict(f"demand {code} is already closed")
    set_actor(conn, by)
    conn.execute(text("UPDATE demands SET status = 'closed', updated_at = now(), "
                      "version = version + 1 WHERE code = :c"), {"c": code})
    return get(conn, code, at)
