"""Shared bench plumbing: a throwaway database, timing, tables."""

from __future__ import annotations

import os
import statistics
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.engine import make_url

from gridgov.db import make_engine, migrate
from gridgov.settings import DEFAULT_DATABASE_URL

ROOT = Path(__file__).resolve().parents[1]


@contextmanager
def scratch_database(label: str):
    """A migrated database made from the PostGIS template, dropped afterwards."""
    base = make_url(os.environ.get("GRIDGOV_DATABASE_URL", DEFAULT_DATABASE_URL))
    admin = create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    name = f"gridgov_bench_{label}_{uuid.uuid4().hex[:6]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE gridgov_template'))
    url = base.set(database=name).render_as_string(hide_password=False)
    try:
        migrate.upgrade(url)
        engine = make_engine(url)
        yield engine
        engine.dispose()
    finally:
        drop(admin, name)
        admin.dispose()


def drop(admin, name: str, tries: int = 30) -> None:
    """DROP DATABASE. FORCE may not end an autovacuum worker still busy with the bench's fresh
    rows (a superuser's process, which the app's role may not signal), but a plain DROP stops
    such workers itself; it refuses only while clients are connected, which FORCE ends."""
    for attempt in range(tries):
        for force in (" WITH (FORCE)", ""):
            try:
                with admin.connect() as conn:
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"{force}'))
                return
            except DBAPIError as exc:
                if attempt == tries - 1 or not any(
                        why in str(exc) for why in ("pg_signal_backend", "other users")):
                    raise
        time.sleep(2)


def timed(fn, repeat: int = 5, warmup: int = 1):
    """(median seconds, last result) over ``repeat`` runs after ``warmup`` runs."""
    result = None
    for _ in range(warmup):
        result = fn()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), result


def ms(seconds: float) -> str:
    return f"{seconds * 1000:,.1f}"


def print_table(headers: list[str], rows: list[list]) -> None:
    widths = [max(len(str(h)), *(len(str(r[i])) for r in rows)) for i, h in enumerate(headers)]
    line = "  ".join(str(h).rjust(w) if i else str(h).ljust(w) for i, (h, w) in
                     enumerate(zip(headers, widths)))
    print(line)
    print("-" * len(line))
    for r in rows:
        print("  ".join(str(c).rjust(w) if i else str(c).ljust(w) for i, (c, w) in
                        enumerate(zip(r, widths))))
