"""Notifications through the job queue: a dispatched case reaches a local webhook receiver that
fails twice first, signed; a receiver that always fails ends in the dead letters (and a retry by
hand delivers once it is back); a move rolled back enqueues nothing; the sweep sends a warning
and an overdue notice once each; and the queue's schema stays migrated, apart from Alembic's
comparison, and in step with the installed procrastinate.

Every receiver listens on 127.0.0.1; every worker run and every wait is bounded in count and time.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import importlib.util
import json
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from gridgov.auth import Principal
from gridgov.calendar import SHANGHAI
from gridgov.cases import intake, lifecycle
from gridgov.cli import app as cli_app
from gridgov.db import migrate
from gridgov.jobs import channels, notify, queue
from test_cases import ensure_categories

SECRET = "test-secret-仅测试"
CENTER = Principal("center", "dispatcher")
RESIDENT = Principal("anonymous", "viewer")
ADMIN = Principal("boss", "admin")
MIGRATION = (Path(migrate.MIGRATIONS) / "versions" / "0010_job_queue.py")


# --- a local webhook receiver ------------------------------------------------------------------

class Receiver:
    """An HTTP server on 127.0.0.1 (a free port) that records every POST. Per path: ``/ok``
    answers 200, ``/flaky`` 500 for its first ``flaky_failures`` calls and then 200, ``/down``
    always 500 (until ``down_recovers`` is set)."""

    def __init__(self, flaky_failures: int = 2):
        self.calls: list[dict] = []
        self.lock = threading.Lock()
        self.flaky_left = flaky_failures
        self.down_recovers = False
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver.lock:
                    if self.path == "/flaky" and receiver.flaky_left > 0:
                        receiver.flaky_left -= 1
                        status = 500
                    elif self.path == "/down" and not receiver.down_recovers:
                        status = 500
                    else:
                        status = 200
                    receiver.calls.append({"path": self.path, "status": status, "body": body,
                                           "headers": dict(self.headers)})
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       kwargs={"poll_interval": 0.1}, daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def received(self, path: str | None = None, ok: bool | None = None) -> list[dict]:
        with self.lock:
            return [c for c in self.calls if (path is None or c["path"] == path)
                    and (ok is None or (c["status"] == 200) == ok)]

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def receiver():
    with Receiver() as r:
        yield r


@pytest.fixture
def zy(seeded_copy, tmp_path):
    ensure_categories(seeded_copy, tmp_path)
    return seeded_copy


@pytest.fixture
def url(zy):
    return zy.url.render_as_string(hide_password=False)


def subscribe(monkeypatch, webhooks: dict, **extra) -> None:
    """Subscriptions and short retries (3 tries, 50 ms then 100 ms apart) for this test."""
    monkeypatch.setenv("GRIDGOV_NOTIFY_WEBHOOKS", json.dumps(webhooks))
    monkeypatch.setenv("GRIDGOV_NOTIFY_SECRET", SECRET)
    settings = {"ATTEMPTS": "3", "BACKOFF_S": "0.05", "BACKOFF_FACTOR": "2",
                "TIMEOUT_S": "5", **extra}
    for key, value in settings.items():
        monkeypatch.setenv(f"GRIDGOV_NOTIFY_{key}", value)


def new_case(engine, account: str | None = None) -> dict:
    """A report inside a compound (routed to its leading organization), filed."""
    with engine.begin() as conn:
        lon, lat = conn.execute(text(
            "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) p FROM compounds k "
            "WHERE EXISTS (SELECT 1 FROM assignments a WHERE a.compound_code = k.code AND "
            "a.valid_to IS NULL) ORDER BY code LIMIT 1) s")).one()
        case = intake.file_report(conn, RESIDENT, category_code="0101", lon=lon, lat=lat,
                                  description="楼道堆放杂物", reporter_account=account)
        lifecycle.move(conn, case["code"], "file", CENTER)
    assert case["unit_kind"] == "org" and case["unit_code"]
    return case


def jobs_of(engine, code: str, kind: str | None = None) -> list[dict]:
    with engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT id, status::text AS status, attempts, args FROM procrastinate_jobs "
            "WHERE task_name = :t AND args->'message'->'case'->>'code' = :c "
            "AND (CAST(:k AS text) IS NULL OR args->'message'->>'kind' = :k) ORDER BY id"),
            {"t": queue.DELIVER, "c": code, "k": kind}).mappings().all()
    return [dict(r) for r in rows]


def work(url: str, done, *, runs: int = 40, seconds: float = 30.0) -> None:
    """Run the worker (deliveries only, ``wait=False``: it stops when no job is ready) again
    and again until ``done()``, at most ``runs`` times and ``seconds`` long."""
    deadline = time.monotonic() + seconds
    for _ in range(runs):
        asyncio.run(asyncio.wait_for(queue.run_worker_async(
            url, wait=False, queues=[queue.QUEUE], concurrency=2,
            install_signal_handlers=False), timeout=max(deadline - time.monotonic(), 1)))
        if done() or time.monotonic() > deadline:
            break
        time.sleep(0.1)  # a retry waits its backoff (50-100 ms here)
    assert done(), "the worker did not finish its jobs in time"


def final(engine, code: str):
    return lambda: all(j["status"] in ("succeeded", "failed") for j in jobs_of(engine, code))


# --- delivery, retries, dead letters ----------------------------------------------------------

def test_a_dispatched_case_reaches_a_flaky_webhook_after_two_retries(zy, url, receiver,
                                                                     monkeypatch):
    case = new_case(zy)
    subscribe(monkeypatch, {case["unit_code"]: receiver.url("/flaky")})
    with zy.begin() as conn:
        after = lifecycle.move(conn, case["code"], "dispatch", CENTER)
    [job] = jobs_of(zy, case["code"])
    assert job["status"] == "todo" and job["args"]["subscription"] == case["unit_code"]

    work(url, final(zy, case["code"]))

    [job] = jobs_of(zy, case["code"])
    assert (job["status"], job["attempts"]) == ("succeeded", 3)  # two retries, three runs
    calls = receiver.received("/flaky")
    assert [c["status"] for c in calls] == [500, 500, 200]
    last = calls[-1]
    payload = json.loads(last["body"])
    assert payload["kind"] == "dispatched" and payload["audience"] == "unit"
    assert payload["case"]["code"] == case["code"]
    assert payload["case"]["unit_code"] == case["unit_code"] and payload["case"]["unit_name"]
    assert payload["case"]["status"] == "dispatched"
    assert payload["case"]["status_zh"] == "已派遣"
    assert payload["text"].startswith("【派遣】") and case["code"] in payload["text"]
    assert payload["case"]["handle_due"] == after["handle_due"].astimezone(SHANGHAI).isoformat(
        timespec="seconds")
    assert "reporter_name" not in json.dumps(payload) and "reporter_phone" not in last["body"].decode()
    # signed: HMAC-SHA256 over timestamp "." body, with the shared secret
    headers = {k.lower(): v for k, v in last["headers"].items()}
    assert channels.verify(SECRET, headers["x-gridgov-timestamp"], last["body"],
                           headers["x-gridgov-signature"])
    assert not channels.verify("wrong", headers["x-gridgov-timestamp"], last["body"],
                               headers["x-gridgov-signature"])
    # the same notice each time: a receiver can drop a repeat by its key
    assert {c["headers"]["Idempotency-Key"] for c in calls} == {payload["id"]}
    with zy.connect() as conn:
        events = conn.execute(text("SELECT type::text FROM procrastinate_events "
                                   "WHERE job_id = :j ORDER BY id"), {"j": job["id"]}).scalars().all()
    assert events.count("deferred_for_retry") == 2 and events[-1] == "succeeded"
    assert queue.dead_letters(zy) == []


def test_a_receiver_that_always_fails_ends_in_the_dead_letters(zy, url, receiver, monkeypatch):
    case = new_case(zy)
    subscribe(monkeypatch, {"*": receiver.url("/down")})  # every unit without its own entry
    with zy.begin() as conn:
        lifecycle.move(conn, case["code"], "dispatch", CENTER)

    work(url, final(zy, case["code"]))

    [job] = jobs_of(zy, case["code"])
    assert (job["status"], job["attempts"]) == ("failed", 3)
    assert len(receiver.received("/down")) == 3  # GRIDGOV_NOTIFY_ATTEMPTS tries in all
    [dead] = queue.dead_letters(zy)
    assert (dead["id"], dead["kind"], dead["case_code"], dead["subscription"], dead["tries"]) == (
        job["id"], "dispatched", case["code"], "*", 3)
    assert dead["failed_at"] >= dead["enqueued_at"]

    env = {"GRIDGOV_DATABASE_URL": url}
    listed = CliRunner().invoke(cli_app, ["jobs", "dead"], env=env)
    assert listed.exit_code == 0, listed.output
    assert f"dispatched {case['code']} -> *" in listed.output and "3 tries" in listed.output

    # the receiver is back: a retry by hand delivers
    receiver.down_recovers = True
    again = CliRunner().invoke(cli_app, ["jobs", "retry", str(job["id"])], env=env)
    assert again.exit_code == 0, again.output
    assert jobs_of(zy, case["code"])[0]["status"] == "todo"
    work(url, final(zy, case["code"]))
    assert jobs_of(zy, case["code"])[0]["status"] == "succeeded"
    assert queue.dead_letters(zy) == []
    assert receiver.received("/down", ok=True)
    refused = CliRunner().invoke(cli_app, ["jobs", "retry", str(job["id"])], env=env)
    assert refused.exit_code == 2 and "succeeded, not failed" in refused.output


def test_a_gateway_not_built_is_a_dead_letter_at_once(zy, url, monkeypatch):
    case = new_case(zy)
    subscribe(monkeypatch, {case["unit_code"]: {"channel": "sms", "template": "SMS_1"}})
    with zy.begin() as conn:
        lifecycle.move(conn, case["code"], "dispatch", CENTER)
    work(url, final(zy, case["code"]))
    [job] = jobs_of(zy, case["code"])
    assert (job["status"], job["attempts"]) == ("failed", 1)  # not retried: it cannot work


def test_a_rolled_back_move_enqueues_nothing(zy, receiver, monkeypatch):
    case = new_case(zy)
    subscribe(monkeypatch, {"*": receiver.url("/ok")})
    with pytest.raises(RuntimeError, match="after the move"):
        with zy.begin() as conn:
            lifecycle.move(conn, case["code"], "dispatch", CENTER)
            inside = conn.execute(text(
                "SELECT count(*) FROM procrastinate_jobs WHERE task_name = :t AND "
                "args->'message'->'case'->>'code' = :c"),
                {"t": queue.DELIVER, "c": case["code"]}).scalar()
            assert inside == 1  # enqueued on the move's transaction ...
            raise RuntimeError("something failed after the move")
    assert jobs_of(zy, case["code"]) == []  # ... and gone with it
    with zy.connect() as conn:
        assert lifecycle.load(conn, case["code"])["status"] == "filed"


def test_nothing_is_enqueued_without_subscriptions(zy, monkeypatch):
    monkeypatch.delenv("GRIDGOV_NOTIFY_WEBHOOKS", raising=False)
    case = new_case(zy)
    with zy.begin() as conn:
        lifecycle.move(conn, case["code"], "dispatch", CENTER)
    assert jobs_of(zy, case["code"]) == []


# --- the sweep: warnings and overdue notices, each once -----------------------------------------

def test_the_sweep_sends_a_warning_and_an_overdue_notice_once(zy, url, receiver, monkeypatch):
    case = new_case(zy, account="wx-reporter-1")
    subscribe(monkeypatch, {"*": receiver.url("/ok"), "center": receiver.url("/center"),
                            "reporter": receiver.url("/reporter")})
    monday = dt.datetime(2026, 11, 23, 9, 0, tzinfo=SHANGHAI)
    with zy.begin() as conn:
        after = lifecycle.move(conn, case["code"], "dispatch", CENTER, now=monday)
    warn_at, handle_due = after["warn_at"], after["handle_due"]
    assert monday < warn_at < handle_due

    def sweep(now):
        with zy.begin() as conn:
            return notify.sweep(conn, now=now)

    def kinds():
        return sorted((j["args"]["message"]["kind"], j["args"]["message"]["audience"])
                      for j in jobs_of(zy, case["code"]))

    minute = dt.timedelta(minutes=1)
    sweep(warn_at - minute)
    assert kinds() == [("dispatched", "unit")]
    sweep(warn_at + minute)
    assert kinds() == [("dispatched", "unit"), ("warning", "unit")]
    # the next sweeps (or a restarted worker's) find it already sent
    assert sweep(warn_at + minute) == {"warning": 0, "overdue": 0}
    sweep(warn_at + 2 * minute)
    assert kinds() == [("dispatched", "unit"), ("warning", "unit")]
    # past the deadline: the unit and the command center are told, once
    sweep(handle_due + minute)
    assert kinds() == [("dispatched", "unit"), ("overdue", "center"), ("overdue", "unit"),
                       ("warning", "unit")]
    assert sweep(handle_due + minute) == {"warning": 0, "overdue": 0}
    sweep(handle_due + 5 * minute)
    assert len(jobs_of(zy, case["code"], "overdue")) == 2

    # a second job with the same notice key is refused by the database itself
    from procrastinate import exceptions as pexc

    [warning] = jobs_of(zy, case["code"], "warning")
    with zy.begin() as conn, pytest.raises(pexc.UniqueViolation):
        with conn.begin_nested():
            queue.defer(conn, queue.DELIVER, [warning["args"]])

    work(url, final(zy, case["code"]))
    mine = [json.loads(c["body"]) for c in receiver.received()
            if json.loads(c["body"])["case"]["code"] == case["code"]]
    assert sorted((m["kind"], m["audience"]) for m in mine) == kinds()
    [warned] = [m for m in mine if m["kind"] == "warning"]
    assert warned["text"].startswith("【预警】") and "80%" in warned["text"]
    [overdue] = [m for m in mine if m["kind"] == "overdue" and m["audience"] == "center"]
    assert overdue["text"].startswith("【超期】") and overdue["case"]["status_zh"] == "已派遣"
    assert [m["kind"] for m in mine if m["audience"] == "center"] == ["overdue"]
    assert {json.loads(c["body"])["kind"] for c in receiver.received("/center")} == {"overdue"}

    # a case the unit has handed back is not swept; its closure goes to the reporter
    with zy.begin() as conn:
        for action in ("sign", "handle"):
            lifecycle.move(conn, case["code"], action, ADMIN)
    with zy.begin() as conn:
        notify.sweep(conn, now=handle_due + 10 * minute)
        lifecycle.move(conn, case["code"], "approve", CENTER)
    assert kinds() == [("closed", "reporter"), ("dispatched", "unit"), ("overdue", "center"),
                       ("overdue", "unit"), ("warning", "unit")]
    work(url, final(zy, case["code"]))
    [closed] = [json.loads(c["body"]) for c in receiver.received("/reporter")]
    assert closed["reporter_account"] == "wx-reporter-1" and "description" not in closed["case"]
    assert closed["case"]["status_zh"] == "已结案" and closed["text"].startswith("【结案】")


def test_the_periodic_sweep_runs_in_the_worker_and_keeps_a_day_of_itself(zy, url, receiver,
                                                                          monkeypatch):
    subscribe(monkeypatch, {"*": receiver.url("/ok")})
    now = int(time.time())
    with zy.begin() as conn:  # what procrastinate's periodic deferrer enqueues each minute
        [old] = queue.defer(conn, queue.SWEEP, [{"timestamp": now - 2 * 86400}],
                            queue=queue.SWEEP_QUEUE)

    def sweeps():
        with zy.connect() as conn:
            return {r[0]: (r[1], r[2]) for r in conn.execute(text(
                "SELECT id, status::text, (args->>'timestamp')::bigint FROM procrastinate_jobs "
                "WHERE task_name = :t"), {"t": queue.SWEEP})}

    def run_sweeps():
        asyncio.run(asyncio.wait_for(queue.run_worker_async(
            url, wait=False, queues=[queue.SWEEP_QUEUE], install_signal_handlers=False),
            timeout=30))

    run_sweeps()  # (the worker's periodic deferrer may add and run this minute's sweep too)
    with zy.begin() as conn:
        [new] = queue.defer(conn, queue.SWEEP, [{"timestamp": now}], queue=queue.SWEEP_QUEUE)
    run_sweeps()
    left = sweeps()
    assert old not in left and left[new] == ("succeeded", now)
    assert {status for status, _ in left.values()} == {"succeeded"}


def test_the_worker_keeps_the_case_kpis_of_every_county_current(zy, url):
    """Each minute the worker computes what a read of the KPIs would compute first: every
    county's weeks and months of the last year, so that no request pays for them."""
    from gridgov.cases import kpis
    from gridgov.jobs import kpis as kpi_jobs

    crons = {name: p.cron for (name, _), p in queue.app.periodic_registry.periodic_tasks.items()}
    assert crons[kpi_jobs.KEEP] == "* * * * *"
    with zy.begin() as conn:
        conn.execute(text("DELETE FROM case_kpi_periods; DELETE FROM case_kpi_state"))
        [job] = queue.defer(conn, kpi_jobs.KEEP, [{"timestamp": int(time.time())}],
                            queue=kpi_jobs.QUEUE)
    before = dt.datetime.now(dt.timezone.utc)
    asyncio.run(asyncio.wait_for(queue.run_worker_async(
        url, wait=False, queues=[kpi_jobs.QUEUE], install_signal_handlers=False), timeout=120))
    after = dt.datetime.now(dt.timezone.utc)
    with zy.connect() as conn:
        kept = dict(conn.execute(text(
            "SELECT period_kind, count(*) FROM case_kpi_state GROUP BY 1")).all())
        counties = conn.execute(text("SELECT count(*) FROM counties")).scalar()
        # (the worker's periodic deferrer may enqueue this minute's run beside ours)
        status = conn.execute(text("SELECT status::text FROM procrastinate_jobs WHERE id = :j"),
                              {"j": job}).scalar()
    assert status == "succeeded"
    for kind in kpis.PERIODS:  # (a period may begin while the job runs)
        assert kept[kind] in {counties * len(kpis._wanted(kind, None, None, at))
                              for at in (before, after)}, kind
    with zy.connect() as conn:  # and a read finds them: the unit level of a county, kept
        assert conn.execute(text("SELECT count(*) FROM case_kpi_periods WHERE level = 'unit' "
                                 "AND period_kind = 'month'")).scalar() > 0


# --- the schema -------------------------------------------------------------------------------

def test_the_queue_schema_is_migrated_apart_from_alembic_and_comes_off_cleanly(empty_url):
    from sqlalchemy import create_engine

    migrate.check(empty_url)  # procrastinate_* tables are not drift
    engine = create_engine(empty_url)
    try:
        def objects():
            with engine.connect() as conn:
                return conn.execute(text(
                    "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = "
                    "c.relnamespace WHERE n.nspname = current_schema() AND starts_with("
                    "c.relname, 'procrastinate_')")).scalar() + conn.execute(text(
                        "SELECT count(*) FROM pg_proc WHERE starts_with(proname, "
                        "'procrastinate_')")).scalar() + conn.execute(text(
                            "SELECT count(*) FROM pg_type WHERE starts_with(typname, "
                            "'procrastinate_job')")).scalar()

        with engine.connect() as conn:
            assert queue.schema_ready(conn)
        assert objects() > 20
        migrate.downgrade(empty_url, "0009")
        assert objects() == 0
        migrate.upgrade(empty_url)
        assert migrate.current(empty_url) == migrate.head()
        assert objects() > 20
    finally:
        engine.dispose()


def test_the_frozen_schema_matches_the_installed_procrastinate():
    """Upgrading procrastinate past a release with SQL migrations needs a new migration."""
    from procrastinate.schema import SchemaManager, migrations_path

    spec = importlib.util.spec_from_file_location("m0010", MIGRATION)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    newest = sorted(p[:-4] for p in os.listdir(migrations_path) if p.endswith(".sql"))[-1]
    assert newest == module.PROCRASTINATE_LAST_MIGRATION, (
        f"procrastinate ships migration {newest}: add a gridgov migration applying the SQL "
        f"migrations after {module.PROCRASTINATE_LAST_MIGRATION}")
    assert " ".join(module.SCHEMA.split()) == " ".join(SchemaManager.get_schema().split())


def test_settings_and_urls():
    from gridgov.errors import ConfigError
    from gridgov.settings import NotifySettings

    assert queue.conninfo("postgresql://u:p%20w@localhost:5432/db") == (
        "host=localhost port=5432 dbname=db user=u password='p w'")
    with pytest.raises(ConfigError, match="not an http"):
        NotifySettings(webhooks={"center": "ftp://x"})
    with pytest.raises(ConfigError, match="unsigned"):
        queue.check_settings(NotifySettings(webhooks={"center": "http://127.0.0.1:9/"}))
    assert queue.check_settings(NotifySettings(
        webhooks={"center": {"url": "http://127.0.0.1:9/", "secret": "s"}})) == []
    with pytest.raises(channels.DeliveryError, match="unreachable"):
        # nothing listens on the discard port of the loopback
        channels.WebhookChannel("http://127.0.0.1:9/", "s", timeout_s=2).send({"id": "x"})
