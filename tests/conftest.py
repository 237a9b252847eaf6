"""A real, throwaway PostGIS for the whole suite.

One migrated database per session serves as a template; each test that writes gets its own copy
(CREATE DATABASE ... TEMPLATE is a file copy, ~0.1 s). The seeded database is shared by tests that
only read, or whose imports are refused and must leave it unchanged.
There is no fallback: without PostGIS the suite fails (scripts/test starts it).
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from gridgov.db import make_engine, migrate
from gridgov.settings import DatabaseSettings, normalize_database_url

ROOT = Path(__file__).resolve().parents[1]
BUNDLE = ROOT / "geodata" / "zhongyang"
DATA = Path(__file__).resolve().parent / "data"


def _admin_url() -> str:
    # scripts/test derives the admin URL from GRIDGOV_DATABASE_URL, so it may be a plain
    # postgresql:// URL too: both go through the same normalisation as the app's setting
    explicit = os.environ.get("GRIDGOV_TEST_ADMIN_URL")
    if explicit:
        return normalize_database_url(explicit, "GRIDGOV_TEST_ADMIN_URL")
    url = make_url(DatabaseSettings().database_url)
    return url.set(database="postgres").render_as_string(hide_password=False)


class Databases:
    """Creates and drops test databases through the maintenance connection."""

    def __init__(self, admin_url: str):
        self.admin_url = admin_url
        # pre-ping: the fault test restarts the cluster under everyone's connections
        self.admin = create_engine(admin_url, isolation_level="AUTOCOMMIT", pool_size=1,
                                   pool_pre_ping=True)
        self.created: list[str] = []
        self.run = uuid.uuid4().hex[:8]

    def url(self, name: str) -> str:
        return make_url(self.admin_url).set(database=name).render_as_string(hide_password=False)

    def create(self, template: str, label: str) -> str:
        name = f"gridgov_test_{self.run}_{label}_{len(self.created)}"
        with self.admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
        self.created.append(name)
        return self.url(name)

    def drop_all(self) -> None:
        import time

        from sqlalchemy import exc

        with self.admin.connect() as conn:
            for name in reversed(self.created):
                # FORCE cannot end an autovacuum worker (not ours to end): wait for it
                for attempt in range(20):
                    try:
                        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                        break
                    except exc.DBAPIError:
                        if attempt == 19:
                            raise
                        time.sleep(0.5)
        self.admin.dispose()


@pytest.fixture(scope="session")
def databases():
    dbs = Databases(_admin_url())
    try:
        with dbs.admin.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:
        pytest.exit(f"PostGIS is not reachable at {make_url(dbs.admin_url)!r}: {exc}\n"
                    "Run the suite with scripts/test, which installs and starts it.", returncode=3)
    yield dbs
    dbs.drop_all()


@pytest.fixture(scope="session")
def migrated_template(databases) -> str:
    """Name of a database holding the migrated, empty schema."""
    url = databases.create("gridgov_template", "schema")
    migrate.upgrade(url)
    return make_url(url).database


@pytest.fixture
def empty_url(databases, migrated_template) -> str:
    """A fresh database with the schema and no rows."""
    return databases.create(migrated_template, "empty")


@pytest.fixture
def empty_engine(empty_url):
    engine = make_engine(empty_url)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def seeded_template(databases, migrated_template) -> str:
    """Name of a database holding the loaded Zhongyang bundle."""
    from gridgov.io.importer import import_bundle

    url = databases.create(migrated_template, "seeded")
    engine = make_engine(url)
    import_bundle(engine, BUNDLE)
    engine.dispose()
    return make_url(url).database


@pytest.fixture(scope="session")
def seeded_engine(databases, seeded_template):
    """A seeded database shared by the session: tests may read it or try imports that must be
    refused. (A copy, because a template database must have no open connections.)"""
    engine = make_engine(databases.create(seeded_template, "shared"))
    yield engine
    engine.dispose()


@pytest.fixture
def seeded_copy(databases, seeded_template):
    """A private copy of the seeded database, for tests that write."""
    engine = make_engine(databases.create(seeded_template, "copy"))
    yield engine
    engine.dispose()


def fingerprint(engine) -> dict[str, str]:
    """A digest of every row of every table: equal fingerprints mean nothing changed."""
    from gridgov.db.tables import metadata

    out = {}
    with engine.connect() as conn:
        for table in metadata.sorted_tables:
            out[table.name] = conn.execute(text(
                f"SELECT count(*)::text || ':' || coalesce(md5(string_agg(t::text, '|' "
                f"ORDER BY t::text)), '') FROM {table.name} t")).scalar_one()
    return out


@pytest.fixture(scope="session")
def service(databases, seeded_template):
    """The real service over its own seeded database, on a loopback port."""
    from service import LiveService

    url = databases.create(seeded_template, "service")
    with LiveService(url) as live:
        live.database_url = url
        yield live


@pytest.fixture(scope="session")
def api(service):
    import httpx

    with httpx.Client(base_url=service.url, timeout=60) as client:
        yield client


# The browser tests' Chromium: Debian's, driven by Playwright (never a browser download).
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()
