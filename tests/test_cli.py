"""The command line as a user meets it: exit codes and messages."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from conftest import fingerprint
from helpers import compound, write_geojson


def gridgov(url, *args):
    env = dict(os.environ, GRIDGOV_DATABASE_URL=url)
    return subprocess.run([sys.executable, "-m", "gridgov", *args], env=env,
                          capture_output=True, text=True, timeout=300)


@pytest.fixture
def url(seeded_copy):
    return seeded_copy.url.render_as_string(hide_password=False)


def test_summary(url):
    out = gridgov(url, "summary", "--as-of", "2026-11-28")
    assert out.returncode == 0, out.stderr
    assert "城区小区" in out.stdout and "107" in out.stdout
    assert "107/107 compounds (100%)" in out.stdout


def test_import_refused_with_exit_code_2(url, seeded_copy, tmp_path):
    props, geom = compound("141129100001901", households="many")
    path = write_geojson(tmp_path / "c.geojson", [props], [geom])
    before = fingerprint(seeded_copy)
    out = gridgov(url, "import", "compounds", str(path))
    assert out.returncode == 2
    assert f"{path}, row 1, field 'households': 'many' is not a whole number" in out.stderr
    assert "rejected rows written to" in out.stderr
    assert fingerprint(seeded_copy) == before


def test_import_dry_run_and_real(url, seeded_copy, tmp_path):
    props, geom = compound("141129100001901")
    path = write_geojson(tmp_path / "c.geojson", [props], [geom])
    before = fingerprint(seeded_copy)
    out = gridgov(url, "import", "compounds", str(path), "--dry-run")
    assert out.returncode == 0 and "nothing written" in out.stdout
    assert fingerprint(seeded_copy) == before
    out = gridgov(url, "import", "compounds", str(path))
    assert out.returncode == 0 and "1 new" in out.stdout


def test_export(url, tmp_path):
    out = gridgov(url, "export", str(tmp_path / "z.gpkg"))
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "z.gpkg").stat().st_size > 10_000


def test_store_unreachable_exit_code_3():
    out = gridgov("postgresql+psycopg2://nobody:x@127.0.0.1:1/none", "summary")
    assert out.returncode == 3
    assert "cannot reach the PostGIS store" in out.stderr and "scripts/up" in out.stderr
