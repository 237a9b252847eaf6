"""What is notified, to whom, as jobs of the queue (gridgov.jobs.queue).

============  ===========================================  ==================================
notice        when                                         who
============  ===========================================  ==================================
dispatched    a case is dispatched (派遣, 改派) or reopened  the responsible unit
warning       80 % of the handling limit used (warn_at)     the unit
overdue       handle_due passed, the unit still holds it    the unit and the command center
closed        the center approves the work (结案)           the reporter's follow channel
============  ===========================================  ==================================

Who is reached through which channel comes from ``GRIDGOV_NOTIFY_WEBHOOKS``
(:class:`~gridgov.settings.NotifySettings`): a unit's own code, else ``"*"``; ``"center"``;
``"reporter:ACCOUNT"``, else ``"reporter"``. A notice nobody subscribed to is not enqueued.
Each notice to each recipient is one job, so a receiver that is down delays and dead-letters
only its own notices.

Dispatch and closure are enqueued by :func:`case_moved`, called from
:func:`gridgov.cases.lifecycle.move` on the move's own transaction. Warnings and overdue notices
come from :func:`sweep`, a periodic task (every minute): it looks at cases the unit holds
(dispatched or signed: the handling clock runs) whose warn_at or handle_due passed within the
last ``lookback_hours``. Every notice has a key (kind, case, deadline, recipient), kept in the
job's arguments, and procrastinate's jobs are kept after they succeed: the sweep skips keys
already enqueued, and a unique index on the key (migration 0010) refuses a second one, so a
restart or two workers sweeping at once send nothing twice. A reworked or resumed case has a
new deadline, hence a new key: it is warned again.

Example:
    >>> recipients("overdue", {"unit_code": "141129-P051"}, {"*": "http://x", "center": "http://y"})
    [('unit', '*'), ('center', 'center')]
    >>> recipients("closed", {"reporter_account": "wx-7"}, {"reporter": "http://gw"})
    [('reporter', 'reporter')]
"""

from __future__ import annotations

import datetime as dt
import logging

from procrastinate import RetryDecision
from procrastinate.retry import BaseRetryStrategy
from sqlalchemy import Connection, text

from gridgov.calendar import SHANGHAI
from gridgov.jobs import channels, queue
from gridgov.settings import CaseSettings, NotifySettings, current

log = logging.getLogger(__name__)

KINDS_ZH = {"dispatched": "派遣通知", "warning": "临期预警", "overdue": "超期提醒",
            "closed": "结案通知"}
# a move -> the notice it sends (a reopened case goes back to the unit)
MOVES = {"dispatch": "dispatched", "reopen": "dispatched", "approve": "closed"}
HOLDING = ("dispatched", "signed")  # the unit holds the case and its handling clock runs
_UNIT_TABLES = {"org": "party_orgs", "division": "divisions", "township": "townships"}


def recipients(kind: str, case: dict, subscriptions: dict) -> list[tuple[str, str]]:
    """(audience, subscription key) pairs a ``kind`` notice about ``case`` goes to."""
    out = []
    unit = case.get("unit_code")
    if kind in ("dispatched", "warning", "overdue") and unit:
        key = unit if unit in subscriptions else "*" if "*" in subscriptions else None
        if key:
            out.append(("unit", key))
    if kind == "overdue" and "center" in subscriptions:
        out.append(("center", "center"))
    account = case.get("reporter_account")
    if kind == "closed" and account:
        own = f"reporter:{account}"
        key = own if own in subscriptions else "reporter" if "reporter" in subscriptions else None
        if key:
            out.append(("reporter", key))
    return out


def _local(value) -> str | None:
    if value is None:
        return None
    return value.astimezone(SHANGHAI).isoformat(timespec="seconds")


def _short(value) -> str:
    return value.astimezone(SHANGHAI).strftime("%m月%d日%H:%M") if value else "—"


def _names(conn: Connection, case: dict) -> tuple[str | None, str | None]:
    """(unit name, category name) of a case."""
    unit_name = None
    table = _UNIT_TABLES.get(case.get("unit_kind"))
    if table and case.get("unit_code"):
        unit_name = conn.execute(text(f"SELECT name FROM {table} WHERE code = :c"),
                                 {"c": case["unit_code"]}).scalar()
    category = conn.execute(text("SELECT name FROM case_categories WHERE code = :c"),
                            {"c": case.get("category_code")}).scalar()
    return unit_name, category


def _text(kind: str, case: dict, unit_name: str | None, category: str | None,
          fraction: float) -> str:
    code, unit = case["code"], unit_name or case.get("unit_code") or "责任单位"
    what = f"工单{code}（{category or case.get('category_code')}）"
    if kind == "dispatched":
        return (f"【派遣】{what}已派遣至{unit}，请于{_short(case.get('sign_due'))}前签收、"
                f"{_short(case.get('handle_due'))}前办结。")
    if kind == "warning":
        return (f"【预警】{what}已用去处置时限的{fraction:.0%}，请于"
                f"{_short(case.get('handle_due'))}前办结（{unit}）。")
    if kind == "overdue":
        return (f"【超期】{what}已超过处置时限（{_short(case.get('handle_due'))}），{unit}"
                "仍未办结。")
    return f"【结案】您反映的问题（工单{code}）已办结，感谢您的参与。"


def notice_key(kind: str, case: dict, audience: str) -> str:
    """What makes a notice itself: a sweep notice is keyed by the deadline it is about, an
    event's by the case's version after the move (one move, one notice)."""
    stamp = {"warning": case.get("warn_at"), "overdue": case.get("handle_due")}.get(kind)
    stamp = stamp.astimezone(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ") if stamp \
        else f"v{case.get('version')}"
    return f"{kind}/{case['county_code']}/{case['code']}/{stamp}/{audience}"


def message(kind: str, case: dict, audience: str, unit_name: str | None = None,
            category: str | None = None, settings: CaseSettings | None = None,
            at: dt.datetime | None = None) -> dict:
    """The JSON a channel sends. Reporters' names and phones never leave; the reporter's own
    notice carries their account (their channel needs it to find them) and no description."""
    from gridgov.cases.lifecycle import STATUS_ZH

    settings = settings or current(CaseSettings)
    body = {
        "code": case["code"], "county_code": case["county_code"],
        "category_code": case.get("category_code"), "category_name": category,
        "status": case["status"], "status_zh": STATUS_ZH.get(case["status"], case["status"]),
        "unit_kind": case.get("unit_kind"), "unit_code": case.get("unit_code"),
        "unit_name": unit_name, "address": case.get("address"),
        "reported_at": _local(case.get("reported_at")),
        "dispatched_at": _local(case.get("dispatched_at")),
        "sign_due": _local(case.get("sign_due")), "warn_at": _local(case.get("warn_at")),
        "handle_due": _local(case.get("handle_due")), "closed_at": _local(case.get("closed_at")),
        "lon": case.get("lon"), "lat": case.get("lat"),
    }
    if audience != "reporter":
        body["description"] = case.get("description")
    out = {"id": notice_key(kind, case, audience), "kind": kind, "kind_zh": KINDS_ZH[kind],
           "audience": audience, "at": _local(at or dt.datetime.now(dt.timezone.utc)),
           "text": _text(kind, case, unit_name, category, settings.warning_fraction),
           "case": body}
    if audience == "reporter":
        out["reporter_account"] = case.get("reporter_account")
    return out


def jobs_for(conn: Connection, kind: str, case: dict, settings: NotifySettings,
             at: dt.datetime | None = None) -> list[dict]:
    """The delivery jobs' arguments for one notice (one per recipient; none unsubscribed)."""
    targets = recipients(kind, case, settings.webhooks)
    if not targets:
        return []
    unit_name, category = _names(conn, case)
    out = []
    for audience, key in targets:
        msg = message(kind, case, audience, unit_name, category, at=at)
        out.append({"subscription": key, "message": msg, "notice_key": msg["id"]})
    return out


def case_moved(conn: Connection, case: dict, action: str,
               settings: NotifySettings | None = None) -> list[int]:
    """Enqueue what ``action`` on ``case`` (the case after the move) notifies, on ``conn``'s
    transaction: a move that rolls back sends nothing. Returns the job ids."""
    kind = MOVES.get(action)
    if kind is None:
        return []
    settings = settings or current(NotifySettings)
    if not settings.webhooks:
        return []
    return queue.defer(conn, queue.DELIVER, jobs_for(conn, kind, case, settings))


def sweep(conn: Connection, now: dt.datetime | None = None,
          settings: NotifySettings | None = None) -> dict[str, int]:
    """Enqueue a warning for each held case past warn_at, and an overdue notice for each past
    handle_due, since ``now - lookback_hours``; each once. Returns the counts enqueued."""
    from gridgov.cases.lifecycle import CASE_COLUMNS

    settings = settings or current(NotifySettings)
    counts = {"warning": 0, "overdue": 0}
    if not settings.webhooks:
        return counts
    now = now or dt.datetime.now(dt.timezone.utc)
    since = now - dt.timedelta(hours=settings.lookback_hours)
    # one sweep at a time (two workers, or a sweep and `gridgov jobs sweep`), until commit
    conn.execute(text("SELECT pg_advisory_xact_lock(hashtext('gridgov.notify.sweep'))"))
    rows = conn.execute(text(
        f"SELECT {CASE_COLUMNS}, CASE WHEN handle_due <= :now THEN 'overdue' ELSE 'warning' "
        "END AS notice FROM cases WHERE status = ANY(:holding) AND ("
        "(warn_at > :since AND warn_at <= :now AND handle_due > :now) OR "
        "(handle_due > :since AND handle_due <= :now)) ORDER BY handle_due, code"),
        {"now": now, "since": since, "holding": list(HOLDING)}).mappings().all()
    pending = []
    for row in rows:
        case = dict(row)
        pending += [(case["notice"], job) for job in
                    jobs_for(conn, case["notice"], case, settings, at=now)]
    if not pending:
        return counts
    sent = {r[0] for r in conn.execute(text(
        "SELECT args->>'notice_key' FROM procrastinate_jobs "
        "WHERE args->>'notice_key' = ANY(:keys)"),
        {"keys": [job["notice_key"] for _, job in pending]})}
    new = [(kind, job) for kind, job in pending if job["notice_key"] not in sent]
    queue.defer(conn, queue.DELIVER, [job for _, job in new])
    for kind, _ in new:
        counts[kind] += 1
    if new:
        log.info("sweep enqueued %d warning(s), %d overdue notice(s)", counts["warning"],
                 counts["overdue"])
    return counts


# --- the tasks the worker runs -----------------------------------------------------------------

class Backoff(BaseRetryStrategy):
    """procrastinate retry strategy with exponential backoff, read from NotifySettings when a
    delivery fails (so tests and operators change it without a restart of the code):
    ``attempts`` deliveries in all, waiting ``backoff_s × backoff_factor^n`` (at most
    ``backoff_max_s``) before the (n+2)-th. A permanent failure is not retried."""

    def get_retry_decision(self, *, exception, job) -> RetryDecision | None:
        if isinstance(exception, channels.PermanentDeliveryError):
            return None
        settings = current(NotifySettings)
        if job.attempts + 1 >= settings.attempts:  # job.attempts: tries before this one
            return None
        wait = min(settings.backoff_s * settings.backoff_factor ** job.attempts,
                   settings.backoff_max_s)
        return RetryDecision(retry_in={"seconds": wait})


@queue.app.task(name=queue.DELIVER, queue=queue.QUEUE, retry=Backoff(), pass_context=True)
def deliver(context, subscription: str, message: dict, notice_key: str | None = None) -> None:
    """Send one notice through its subscription's channel; raise (and be retried) if it did not
    arrive. The channel is looked up now, so a corrected URL or secret serves the retries."""
    settings = current(NotifySettings)
    target = settings.webhooks.get(subscription)
    if target is None:
        raise channels.PermanentDeliveryError(
            f"no subscription {subscription!r} in GRIDGOV_NOTIFY_WEBHOOKS any more")
    try:
        channels.channel_for(target, settings.secret, settings.timeout_s).send(message)
    except channels.DeliveryError as exc:
        log.warning("notice %s to %s: attempt %d failed: %s", message.get("id"), subscription,
                    context.job.attempts + 1, exc)
        raise


@queue.app.periodic(cron="* * * * *", periodic_id="sweep")
@queue.app.task(name=queue.SWEEP, queue=queue.SWEEP_QUEUE, queueing_lock=queue.SWEEP,
                pass_context=True)
def sweep_task(context, timestamp: int) -> None:
    """Every minute: :func:`sweep` on the worker's database."""
    with queue.engine_of(context).begin() as conn:
        sweep(conn)
        queue.prune(conn, queue.SWEEP_QUEUE, queue.SWEEP, timestamp - 86400)


# the check-ins' periodic jobs (auto check-out at 23:59, retention) and the case KPIs' register
# with the worker's import path too
from gridgov.jobs import activity as _activity  # noqa: E402,F401
from gridgov.jobs import kpis as _kpis  # noqa: E402,F401
