"""GRIDGOV_DATABASE_URL as people write it: the plain postgresql:// URL works, a malformed one is
one line naming the setting."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from gridgov.db import make_engine, migrate
from gridgov.errors import GridgovError
from gridgov.settings import DatabaseSettings


def gridgov(url, *args):
    env = dict(os.environ, GRIDGOV_DATABASE_URL=url)
    return subprocess.run([sys.executable, "-m", "gridgov", *args], env=env,
                          capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("scheme", ["postgresql", "postgres"])
def test_plain_url_uses_the_projects_driver(monkeypatch, scheme):
    monkeypatch.setenv("GRIDGOV_DATABASE_URL", f"{scheme}://u:p%40ss@db.example:5433/grid"
                                               "?sslmode=require")
    want = "postgresql+psycopg2://u:p%40ss@db.example:5433/grid?sslmode=require"
    assert DatabaseSettings().database_url == want
    assert make_engine().dialect.driver == "psycopg2"
    # the Alembic environment reads the URL that migrate hands it
    assert migrate.alembic_config().get_main_option("sqlalchemy.url") == want


def test_plain_url_through_the_cli(seeded_engine):
    plain = seeded_engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    out = gridgov(plain, "summary")
    assert out.returncode == 0, out.stderr
    assert "coverage on paper" in out.stdout


MALFORMED = ["mysql://u:secret@host/db", "not a url", "postgresql://u:secret@host:notaport/db",
             "postgresql://host:99999/db", "postgresql+asyncpg://host/db"]


@pytest.mark.parametrize("bad", MALFORMED)
def test_malformed_url_is_a_clear_error(monkeypatch, bad):
    monkeypatch.setenv("GRIDGOV_DATABASE_URL", bad)
    with pytest.raises(GridgovError) as info:
        DatabaseSettings()
    message = str(info.value)
    assert message.startswith("GRIDGOV_DATABASE_URL: ") and "\n" not in message
    assert "secret" not in message


@pytest.mark.parametrize("bad", ["mysql://u:secret@host/db", "postgresql://host:notaport/db"])
@pytest.mark.parametrize("command", [["summary"], ["db", "current"]])
def test_malformed_url_through_the_cli(bad, command):
    out = gridgov(bad, *command)
    assert out.returncode == 2
    assert out.stderr.startswith("error: GRIDGOV_DATABASE_URL: ")
    assert out.stderr.count("\n") == 1 and "secret" not in out.stderr, out.stderr
