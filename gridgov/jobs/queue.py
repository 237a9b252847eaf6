"""The job queue: procrastinate on the project's own PostgreSQL (no Redis, no broker).

procrastinate keeps its jobs in ``procrastinate_jobs`` beside our tables; migration 0010 creates
its schema (frozen into the migration, see there). Two ways in:

- :func:`defer` enqueues inside the caller's SQLAlchemy transaction (psycopg2): a job written
  with a case's move commits with it, and a move rolled back leaves no job behind;
- :func:`run_worker` runs procrastinate's worker, which needs psycopg 3 (``psycopg[pool]``):
  only the worker uses it, and it gets the same database as the rest of gridgov
  (:func:`conninfo` turns ``GRIDGOV_DATABASE_URL`` into a libpq connection string).

A job that failed its last attempt stays in the table with the status ``failed``: those are the
dead letters (:func:`dead_letters`, ``gridgov jobs dead``); :func:`retry` puts one back in the
queue (``gridgov jobs retry ID``).

Example:
    >>> conninfo("postgresql+psycopg2://gridgov:p%40ss@db.example:5433/gridgov?sslmode=require")
    'host=db.example port=5433 dbname=gridgov user=gridgov password=p@ss sslmode=require'
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging

import procrastinate
from procrastinate import exceptions as pexc
from procrastinate import manager as pmanager
from procrastinate import sql as psql
from procrastinate import tasks as ptasks
from procrastinate.contrib.sqlalchemy import SQLAlchemyPsycopg2Connector
from sqlalchemy import Connection, Engine, text
from sqlalchemy.engine import make_url

from gridgov.errors import ConfigError, NotFound, StateConflict, StoreUnavailable
from gridgov.settings import DatabaseSettings, normalize_database_url, NotifySettings, current

log = logging.getLogger(__name__)

DELIVER = "gridgov.notify.deliver"  # task names, as stored in procrastinate_jobs.task_name
SWEEP = "gridgov.notify.sweep"
QUEUE = "notify"  # deliveries
SWEEP_QUEUE = "notify_sweep"  # the periodic sweep, apart so a backlog of deliveries cannot hold it

# The application: tasks register on it when gridgov.jobs.notify is imported; the worker swaps
# in a connector on the configured database (nothing connects at import time).
app = procrastinate.App(connector=procrastinate.PsycopgConnector(),
                        import_paths=["gridgov.jobs.notify"])


def conninfo(url: str | None = None) -> str:
    """A libpq connection string (for psycopg 3) for the SQLAlchemy URL ``url`` (default:
    ``GRIDGOV_DATABASE_URL``): same host, port, database, user, password and query options."""
    from psycopg.conninfo import make_conninfo

    url = normalize_database_url(url, "url") if url else current(DatabaseSettings).database_url
    parsed = make_url(url)
    params = {"host": parsed.host, "port": parsed.port, "dbname": parsed.database,
              "user": parsed.username, "password": parsed.password}
    params = {k: v for k, v in params.items() if v is not None}
    for key, value in parsed.query.items():  # sslmode, host=/run/postgresql (a socket), ...
        params[key] = value if isinstance(value, str) else value[-1]
    return make_conninfo("", **params)


def worker_connector(url: str | None = None,
                     concurrency: int = 4) -> procrastinate.PsycopgConnector:
    """procrastinate's psycopg 3 connector on our database: a small pool (the worker's jobs, its
    LISTEN connection and its heartbeat)."""
    return procrastinate.PsycopgConnector(
        conninfo=conninfo(url), min_size=1, max_size=concurrency + 3,
        kwargs={"application_name": "gridgov-worker"})


def engine_of(context) -> Engine:
    """The SQLAlchemy engine on the database of the worker running a task (``pass_context``)."""
    from gridgov.db import connect_engine

    return connect_engine(context.additional_context.get("database_url"))


def prune(conn: Connection, queue: str, task: str, before: int) -> None:
    """Delete the succeeded runs of the periodic ``task`` scheduled before ``before`` (a Unix
    time): a run every minute needs no memory beyond a day's 1,440 rows."""
    conn.execute(text(
        "DELETE FROM procrastinate_jobs WHERE queue_name = :q AND task_name = :t "
        "AND status = 'succeeded' AND (args->>'timestamp')::bigint < :cutoff"),
        {"q": queue, "t": task, "cutoff": before})


_DEFER_MANAGER: pmanager.JobManager | None = None


def _defer_manager() -> pmanager.JobManager:
    """procrastinate's job manager over SQLAlchemy/psycopg2, used only with a caller's
    connection (so it is never opened and owns no engine)."""
    global _DEFER_MANAGER
    if _DEFER_MANAGER is None:
        _DEFER_MANAGER = pmanager.JobManager(SQLAlchemyPsycopg2Connector())
    return _DEFER_MANAGER


def defer(conn: Connection, task: str, jobs_kwargs: list[dict], *, queue: str = QUEUE,
          queueing_lock: str | None = None) -> list[int]:
    """Enqueue one job of ``task`` per kwargs dict in ``jobs_kwargs`` on ``conn``'s transaction
    (they become visible to workers when it commits, and vanish if it rolls back); returns the
    job ids."""
    if not jobs_kwargs:
        return []
    deferrer = ptasks.configure_task(name=task, job_manager=_defer_manager(), queue=queue,
                                     queueing_lock=queueing_lock, connection=conn)
    return deferrer.batch_defer(*jobs_kwargs)


def schema_ready(conn: Connection) -> bool:
    """Whether the queue's tables exist (migration 0010 has run)."""
    return conn.execute(text("SELECT to_regclass('procrastinate_jobs') IS NOT NULL")).scalar()


def check_settings(settings: NotifySettings | None = None) -> list[str]:
    """Problems a worker would meet with these subscriptions (a webhook without a secret);
    raises :class:`ConfigError` for them. Returns warnings (no subscription at all)."""
    settings = settings or current(NotifySettings)
    if not settings.webhooks:
        return ["GRIDGOV_NOTIFY_WEBHOOKS is empty: nothing will be notified"]
    unsigned = [key for key, target in settings.webhooks.items()
                if (isinstance(target, str) or target.get("channel", "webhook") == "webhook")
                and not ((isinstance(target, dict) and target.get("secret")) or settings.secret)]
    if unsigned:
        raise ConfigError(f"GRIDGOV_NOTIFY_WEBHOOKS: {', '.join(unsigned)} would be sent "
                          "unsigned: set GRIDGOV_NOTIFY_SECRET or give each a \"secret\"")
    return []


async def run_worker_async(url: str | None = None, *, wait: bool = True,
                           queues: list[str] | None = None, concurrency: int | None = None,
                           install_signal_handlers: bool = True,
                           settings: NotifySettings | None = None) -> None:
    """Run procrastinate's worker on our database until stopped (SIGINT/SIGTERM), or, with
    ``wait=False``, until no job is ready to run."""
    from gridgov.jobs import notify  # noqa: F401  (registers the tasks)

    settings = settings or current(NotifySettings)
    concurrency = concurrency or settings.concurrency
    url = normalize_database_url(url, "url") if url else current(DatabaseSettings).database_url
    with app.replace_connector(worker_connector(url, concurrency)) as worker_app:
        try:
            await worker_app.connector.open_async()
        except Exception as exc:  # psycopg's OperationalError and pool time-outs alike
            raise StoreUnavailable(f"the worker cannot reach the database: {exc}") from exc
        try:
            if not await worker_app.check_connection_async():
                raise StoreUnavailable("the job queue's tables are missing: run "
                                       "`gridgov db upgrade` (migration 0010)")
            await worker_app.run_worker_async(
                queues=queues, concurrency=concurrency, wait=wait,
                install_signal_handlers=install_signal_handlers,
                additional_context={"database_url": url},
                # jobs that succeeded stay (they are the memory of what was sent, see notify)
                delete_jobs="never")
        finally:
            await worker_app.connector.close_async()


def run_worker(url: str | None = None, **kwargs) -> None:
    """:func:`run_worker_async` in its own event loop (``gridgov worker``)."""
    asyncio.run(run_worker_async(url, **kwargs))


# --- dead letters ----------------------------------------------------------------------------

_DEAD = """
SELECT j.id, j.task_name, j.queue_name, j.args,
       (SELECT count(*) FROM procrastinate_events e WHERE e.job_id = j.id
        AND e.type = 'started') AS tries,
       (SELECT min(e.at) FROM procrastinate_events e WHERE e.job_id = j.id
        AND e.type = 'deferred') AS enqueued_at,
       (SELECT max(e.at) FROM procrastinate_events e WHERE e.job_id = j.id
        AND e.type = 'failed') AS failed_at
FROM procrastinate_jobs j
WHERE j.status = 'failed' AND j.task_name LIKE 'gridgov.%'
ORDER BY j.id DESC
LIMIT :limit
"""


def dead_letters(engine_or_conn: Engine | Connection, limit: int = 200) -> list[dict]:
    """Jobs that failed their last attempt, newest first: id, task, tries, when enqueued and
    when given up, and for a delivery its notice (kind, case, unit, subscription)."""
    def read(conn):
        rows = conn.execute(text(_DEAD), {"limit": limit}).mappings().all()
        out = []
        for r in rows:
            args = r["args"] or {}
            message = args.get("message") or {}
            out.append({
                "id": r["id"], "task": r["task_name"], "queue": r["queue_name"],
                "tries": r["tries"], "enqueued_at": r["enqueued_at"], "failed_at": r["failed_at"],
                "subscription": args.get("subscription"), "kind": message.get("kind"),
                "case_code": (message.get("case") or {}).get("code"),
                "unit_code": (message.get("case") or {}).get("unit_code"),
                "notice": message.get("id"),
            })
        return out

    if isinstance(engine_or_conn, Engine):
        with engine_or_conn.connect() as conn:
            return read(conn)
    return read(engine_or_conn)


def retry(engine: Engine, job_id: int, at: dt.datetime | None = None) -> None:
    """Put dead letter ``job_id`` back in its queue (to run at ``at``, default now). It gets one
    more attempt: if that fails too, it is a dead letter again."""
    with engine.begin() as conn:
        status = conn.execute(text("SELECT status FROM procrastinate_jobs WHERE id = :i "
                                   "FOR UPDATE"), {"i": job_id}).scalar()
        if status is None:
            raise NotFound(f"no job {job_id}")
        if status != "failed":
            raise StateConflict(f"job {job_id} is {status}, not failed: only dead letters are "
                                "retried by hand")
        # procrastinate's own retry query, on this transaction's connection
        try:
            SQLAlchemyPsycopg2Connector().execute_query_one_with_connection(
                conn, psql.queries["retry_job"], job_id=job_id,
                retry_at=at or dt.datetime.now(dt.timezone.utc), new_priority=None,
                new_queue_name=None, new_lock=None)
        except pexc.ConnectorException as exc:
            raise StateConflict(f"job {job_id} cannot be retried: {exc.__cause__}") from exc


def job_counts(engine_or_conn: Engine | Connection) -> dict[str, int]:
    """Status -> number of gridgov jobs (todo, doing, succeeded, failed, ...)."""
    sql = text("SELECT status::text, count(*) FROM procrastinate_jobs "
               "WHERE task_name LIKE 'gridgov.%' GROUP BY status")
    if isinstance(engine_or_conn, Engine):
        with engine_or_conn.connect() as conn:
            return dict(conn.execute(sql).all())
    return dict(engine_or_conn.execute(sql).all())
