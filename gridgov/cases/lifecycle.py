"""How a case moves: 受理 → 立案 → 派遣 → 签收 → 处置反馈 → 核查 → 结案, with 退回, 返工, 挂起/恢复,
重开, 不予立案 and 重复 beside them; who may move it; and its event log.

Every transition is checked three ways before anything is written: the action must exist and
start from the case's status (else :class:`~gridgov.errors.StateConflict`, 409); the person must
be allowed (else :class:`~gridgov.auth.Forbidden`, 403): the command center (dispatchers) files,
dispatches, checks, suspends and reopens; the responsible unit (a handler of that organization)
signs, returns and reports back; a case routed to a community or township, which has no
handler account here, is worked by the center; admins may do anything. With the case's version
(If-Match) a concurrent change is refused (:class:`~gridgov.errors.Conflict`, 412). Each move
writes one ``case_events`` row (who, when, from, to, note) in the same transaction.

Example:
    >>> TRANSITIONS["dispatch"].label_zh, sorted(TRANSITIONS["dispatch"].sources)
    ('派遣', ['filed', 'returned'])
    >>> allowed_actions("signed")
    ['handle', 'return', 'suspend']
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Connection, text

from gridgov.auth import Forbidden, Principal
from gridgov.cases import sla
from gridgov.errors import Conflict, InputError, NotFound, Problem, StateConflict
from gridgov.jobs import notify
from gridgov.settings import CaseSettings, current

STATUS_ZH = {"received": "已受理", "filed": "已立案", "dispatched": "已派遣", "signed": "处置中",
             "handled": "待核查", "closed": "已结案", "returned": "已退回", "suspended": "已挂起",
             "rejected": "不予立案", "duplicate": "重复"}
OPEN = ("received", "filed", "dispatched", "signed", "handled", "returned", "suspended")
CENTER, UNIT = "center", "unit"


@dataclass(frozen=True)
class Transition:
    action: str
    label_zh: str
    sources: frozenset[str]
    target: str | None  # None: back to the status before the suspension
    by: str  # CENTER or UNIT


TRANSITIONS = {t.action: t for t in (
    Transition("file", "立案", frozenset({"received"}), "filed", CENTER),
    Transition("reject", "不予立案", frozenset({"received"}), "rejected", CENTER),
    Transition("merge", "重复件合并", frozenset({"received", "filed"}), "duplicate", CENTER),
    Transition("dispatch", "派遣", frozenset({"filed", "returned"}), "dispatched", CENTER),
    Transition("sign", "签收", frozenset({"dispatched"}), "signed", UNIT),
    Transition("return", "退回", frozenset({"dispatched", "signed"}), "returned", UNIT),
    Transition("handle", "处置反馈", frozenset({"signed"}), "handled", UNIT),
    Transition("approve", "核查通过，结案", frozenset({"handled"}), "closed", CENTER),
    Transition("rework", "核查不通过，返工", frozenset({"handled"}), "signed", CENTER),
    Transition("suspend", "挂起", frozenset({"filed", "dispatched", "signed"}), "suspended",
               CENTER),
    Transition("resume", "恢复", frozenset({"suspended"}), None, CENTER),
    Transition("reopen", "重开", frozenset({"closed"}), "dispatched", CENTER),
)}


def allowed_actions(status: str) -> list[str]:
    return sorted(a for a, t in TRANSITIONS.items() if status in t.sources)


CASE_COLUMNS = (
    "code, county_code, channel, category_code, description, address, reported_at, "
    "reporter_name, reporter_phone, reporter_account, anonymous, status, unit_kind, unit_code, "
    "co_units, routing_rule, routing_note, near_boundary, compound_code, grid_cell_code, "
    "division_code, township_code, dispatch_due, sign_due, handle_due, warn_at, check_due, "
    "dispatched_at, signed_at, handled_at, closed_at, paused_at, paused_hours, rework_count, "
    "return_count, reopen_count, duplicate_of, satisfaction, version, "
    "ST_X(geom) AS lon, ST_Y(geom) AS lat")


def load(conn: Connection, code: str, county: str | None = None, *,
         lock: bool = False) -> dict:
    """A case as a dict (``county`` narrows the search to one partition)."""
    where = "code = :c" + (" AND county_code = :k" if county else "")
    row = conn.execute(text(f"SELECT {CASE_COLUMNS} FROM cases WHERE {where}"
                            + (" FOR UPDATE" if lock else "")),
                       {"c": code, "k": county}).mappings().first()
    if row is None:
        raise NotFound(f"no case {code!r}")
    return dict(row)


def may(principal: Principal, case: dict, transition: Transition) -> bool:
    """Whether ``principal`` may make ``transition`` on ``case``."""
    if principal.role == "admin":
        return True
    if transition.by == CENTER:
        return principal.role == "dispatcher"
    # the unit's own move: its handler, or the center for a community/township unit
    if case["unit_kind"] == "org":
        return principal.role == "handler" and principal.org_code == case["unit_code"]
    return principal.role == "dispatcher"


def _category(conn: Connection, code: str) -> dict:
    row = conn.execute(text("SELECT code, name, time_limit, limit_type, route_org_code "
                            "FROM case_categories WHERE code = :c"), {"c": code}).mappings().first()
    if row is None:
        raise NotFound(f"no case category {code!r}")
    return dict(row)


def _unit_exists(conn: Connection, kind: str, code: str, county: str) -> None:
    table = {"org": "party_orgs", "division": "divisions", "township": "townships"}.get(kind)
    if table is None:
        raise InputError([Problem("case", None, "unit_kind",
                                  f"{kind!r} is not org, division or township")])
    if conn.execute(text(f"SELECT 1 FROM {table} WHERE code = :c AND county_code = :k"),
                    {"c": code, "k": county}).first() is None:
        raise InputError([Problem("case", None, "unit_code",
                                  f"no {table} {code!r} in county {county}")])


def record_event(conn: Connection, case: dict, actor: str, action: str, from_status: str | None,
                 to_status: str | None, note: str | None = None,
                 at: dt.datetime | None = None) -> None:
    conn.execute(text(
        "INSERT INTO case_events (county_code, case_code, at, actor, action, from_status, "
        "to_status, unit_kind, unit_code, note) VALUES (:k, :c, coalesce(:at, now()), :a, :x, "
        ":f, :t, :uk, :u, :n)"),
        {"k": case["county_code"], "c": case["code"], "at": at, "a": actor, "x": action,
         "f": from_status, "t": to_status, "uk": case.get("unit_kind"),
         "u": case.get("unit_code"), "n": note})


def move(conn: Connection, code: str, action: str, principal: Principal, *,
         county: str | None = None, note: str | None = None,
         unit: tuple[str, str] | None = None, into: str | None = None,
         satisfaction: int | None = None, expected_version: int | None = None,
         now: dt.datetime | None = None, settings: CaseSettings | None = None) -> dict:
    """Make ``action`` on case ``code`` as ``principal``; returns the case after it.

    ``unit`` (kind, code): dispatch to another unit than the routed one (改派); ``into``: the
    surviving case of a merge; ``satisfaction``: the reporter's rating, with approve."""
    settings = settings or current(CaseSettings)
    transition = TRANSITIONS.get(action)
    if transition is None:
        raise InputError([Problem("case", None, "action", f"{action!r} is not one of "
                                                          f"{', '.join(TRANSITIONS)}")])
    case = load(conn, code, county, lock=True)
    if not may(principal, case, transition):
        who = "the command center (dispatcher)" if transition.by == CENTER else \
            "the responsible unit's handler"
        raise Forbidden(f"{transition.label_zh} ({action}) of case {code} is for {who}; "
                        f"{principal.username} is a {principal.role}"
                        + (f" of {principal.org_code}" if principal.org_code else ""))
    if case["status"] not in transition.sources:
        raise StateConflict(
            f"case {code} is {STATUS_ZH[case['status']]} ({case['status']}): "
            f"{transition.label_zh} ({action}) needs it to be "
            f"{' or '.join(sorted(transition.sources))}; possible now: "
            f"{', '.join(allowed_actions(case['status'])) or 'nothing'}")
    if expected_version is not None and case["version"] != expected_version:
        raise Conflict(f"case {code} is at version {case['version']}, not {expected_version}: "
                       "someone moved it since you read it", _public(case))
    now = now or dt.datetime.now(dt.timezone.utc)
    changes, target, event_note = _effects(conn, case, transition, now, note, unit, into,
                                           satisfaction, settings)
    changes["status"] = target
    sets = ", ".join(f"{k} = :{k}" for k in changes)
    conn.execute(text(f"UPDATE cases SET {sets}, version = version + 1, updated_at = now() "
                      "WHERE code = :code AND county_code = :county"),
                 {**changes, "code": code, "county": case["county_code"]})
    after = load(conn, code, case["county_code"])
    record_event(conn, after, principal.username, action, case["status"], target,
                 event_note, at=now)
    notify.case_moved(conn, after, action)  # in this transaction: a rollback sends nothing
    return after


def _effects(conn, case, transition, now, note, unit, into, satisfaction, settings):
    """(column changes, target status, event note) of a transition."""
    action = transition.action
    changes: dict = {}
    target = transition.target
    event_note = note
    if action == "dispatch":
        if unit is not None:
            kind, unit_code = unit
            _unit_exists(conn, kind, unit_code, case["county_code"])
            changes.update(unit_kind=kind, unit_code=unit_code, routing_rule="manual",
                           co_units=None)
            event_note = "指挥中心改派" + (f"：{note}" if note else "")
        elif case["unit_code"] is None:
            raise InputError([Problem("case", None, "unit_code",
                                      f"case {case['code']} was not routed to a unit: name one")])
        category = _category(conn, case["category_code"])
        changes["dispatched_at"] = now
        changes["sign_due"] = sla.sign_due(now, case["channel"] == "whistle", settings)
        changes["handle_due"], changes["warn_at"] = sla.handle_deadlines(
            now, category["time_limit"], category["limit_type"], settings)
    elif action == "sign":
        changes["signed_at"] = now
    elif action == "return":
        if not note:
            raise InputError([Problem("case", None, "note",
                                      "say why the case is not this unit's (退回理由)")])
        changes["return_count"] = case["return_count"] + 1
        changes["signed_at"] = None
    elif action == "handle":
        changes["handled_at"] = now
        changes["check_due"] = sla.check_due(now, settings)
    elif action == "approve":
        changes["closed_at"] = now
        if satisfaction is not None:
            if not 1 <= satisfaction <= 5:
                raise InputError([Problem("case", None, "satisfaction", "a rating from 1 to 5")])
            changes["satisfaction"] = satisfaction
    elif action == "rework":
        category = _category(conn, case["category_code"])
        changes["rework_count"] = case["rework_count"] + 1
        changes["handle_due"], changes["warn_at"] = sla.handle_deadlines(
            now, category["time_limit"], category["limit_type"], settings)
        changes["handled_at"] = None
        changes["check_due"] = None
    elif action == "suspend":
        if not note:
            raise InputError([Problem("case", None, "note", "say why the case waits (挂起理由)")])
        changes["paused_at"] = now
    elif action == "resume":
        target = conn.execute(text(
            "SELECT from_status FROM case_events WHERE county_code = :k AND case_code = :c "
            "AND action = 'suspend' ORDER BY id DESC LIMIT 1"),
            {"k": case["county_code"], "c": case["code"]}).scalar() or "filed"
        paused_at = case["paused_at"] or now
        category = _category(conn, case["category_code"])
        changes["paused_at"] = None
        changes["paused_hours"] = case["paused_hours"] + (now - paused_at).total_seconds() / 3600
        changes["dispatch_due"] = sla.resumed(case["dispatch_due"], paused_at, now,
                                              "working_hours")
        changes["sign_due"] = sla.resumed(case["sign_due"], paused_at, now,
                                          "urgent_hours" if case["channel"] == "whistle"
                                          else "working_hours")
        changes["handle_due"] = sla.resumed(case["handle_due"], paused_at, now,
                                            category["limit_type"])
        changes["warn_at"] = sla.resumed(case["warn_at"], paused_at, now, category["limit_type"])
    elif action == "reopen":
        closed = case["closed_at"]
        if closed is None or now - closed > dt.timedelta(days=settings.reopen_days):
            raise StateConflict(f"case {case['code']} closed more than {settings.reopen_days:g} "
                                "days ago and cannot be reopened: file a new report")
        category = _category(conn, case["category_code"])
        changes.update(reopen_count=case["reopen_count"] + 1, closed_at=None, handled_at=None,
                       signed_at=None, check_due=None, dispatched_at=now,
                       sign_due=sla.sign_due(now, case["channel"] == "whistle", settings))
        changes["handle_due"], changes["warn_at"] = sla.handle_deadlines(
            now, category["time_limit"], category["limit_type"], settings)
    elif action == "merge":
        if not into or into == case["code"]:
            raise InputError([Problem("case", None, "into", "name the case this one repeats")])
        survivor = load(conn, into, case["county_code"])
        if survivor["status"] not in OPEN and survivor["status"] != "closed":
            raise StateConflict(f"case {into} is {survivor['status']}: merge into a live case")
        changes["duplicate_of"] = into
        event_note = f"与{into}重复" + (f"：{note}" if note else "")
    return changes, target, event_note


def _public(case: dict) -> dict:
    """A case for a 412 body: no personal data, JSON-ready."""
    out = {k: v for k, v in case.items()
           if k not in ("reporter_name", "reporter_phone", "reporter_account")}
    return {k: (v.isoformat() if isinstance(v, (dt.date, dt.datetime)) else v)
            for k, v in out.items()}


def events(conn: Connection, code: str, county: str) -> list[dict]:
    """The case's history, oldest first."""
    rows = conn.execute(text(
        "SELECT id, at, actor, action, from_status, to_status, unit_kind, unit_code, note "
        "FROM case_events WHERE county_code = :k AND case_code = :c ORDER BY id"),
        {"k": county, "c": code}).mappings().all()
    return [dict(r) for r in rows]
