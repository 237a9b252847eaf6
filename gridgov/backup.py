"""Backup and restore of the whole store with PostgreSQL's own tools (pg_dump / pg_restore).

The dump is PostgreSQL's custom format: compressed, restorable table by table, independent of
this code's version (restore, then ``gridgov db upgrade``). Restore goes into an empty database
only, so it can never half-overwrite live data.

Example:
    >>> backup(engine_url, "zhongyang-2026-11-28.dump")
    >>> restore("zhongyang-2026-11-28.dump", "postgresql+psycopg2://gridgov:...@localhost/restored")
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from gridgov.errors import GridgovError, InputError, Problem


def _libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise GridgovError(f"{name} is not installed (Debian: postgresql-client-15)")
    return path


def backup(url: str, path: str | Path) -> Path:
    """Dump the whole database at ``url`` to ``path``."""
    path = Path(path)
    tmp = path.with_suffix(path.suffix + ".partial")
    # Extension comments and PostGIS's own spatial_ref_sys belong to the extension's owner
    # (postgres); leaving them out lets the app role restore without superuser rights.
    result = subprocess.run([_tool("pg_dump"), "--format=custom", "--no-owner", "--no-comments",
                             "--exclude-table-data=public.spatial_ref_sys", f"--file={tmp}",
                             _libpq(url)], capture_output=True, text=True)
    if result.returncode != 0:
        tmp.unlink(missing_ok=True)
        raise GridgovError(f"pg_dump failed: {result.stderr.strip()}")
    tmp.replace(path)
    return path


def restore(path: str | Path, url: str) -> None:
    """Restore a dump into the empty database at ``url`` (one transaction: all or nothing)."""
    path = Path(path)
    if not path.is_file():
        raise InputError([Problem(str(path), None, None, "backup file not found")])
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            tables = conn.execute(text(
                "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public' "
                "AND table_type = 'BASE TABLE' AND table_name <> 'spatial_ref_sys'")).scalar_one()
    finally:
        engine.dispose()
    if tables:
        raise InputError([Problem(str(url and make_url(url).database), None, None,
                                  f"the target database holds {tables} tables; restore goes "
                                  "into an empty database only")])
    result = subprocess.run([_tool("pg_restore"), "--no-owner", "--exit-on-error",
                             "--single-transaction", f"--dbname={_libpq(url)}", str(path)],
                            capture_output=True, text=True)
    if result.returncode != 0:
        raise GridgovError(f"pg_restore failed: {result.stderr.strip()}")
