"""Backup and restore of the whole store with PostgreSQL's own tools (pg_dump / pg_restore).

The dump is PostgreSQL's custom format: compressed, restorable table by table, independent of
this code's version (restore, then ``gridgov db upgrade``). Restore goes into an empty database
only, so it can never half-overwrite live data.

The photos (gridgov.media) go into a tar beside the dump, ``store.dump`` -> ``store.media.tar``,
written only when there are photos; restore puts them back into the media folder.

Example:
    >>> backup(engine_url, "zhongyang-2026-11-28.dump")
    PosixPath('zhongyang-2026-11-28.dump')
    >>> restore("zhongyang-2026-11-28.dump", engine_url)      # a database in use: refused
    Traceback (most recent call last):
    ...
    gridgov.errors.InputError: ...: the target database holds ... tables; restore goes into an
    empty database only. Nothing was written.
    >>> restore("zhongyang-2026-11-28.dump",                  # doctest: +SKIP
    ...         "postgresql://gridgov:...@localhost/restored")   # needs a new, empty database
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from gridgov import media
from gridgov.errors import GridgovError, InputError, Problem


def _libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise GridgovError(f"{name} is not installed (Debian: postgresql-client-15)")
    return path


def media_archive(dump: str | Path) -> Path:
    """The photos' tar that goes with ``dump``: ``x.dump`` -> ``x.media.tar``; any other name
    gets ``.media.tar`` appended (so ``nightly.1`` and ``nightly.2`` do not share one)."""
    dump = Path(dump)
    return (dump.with_suffix(".media.tar") if dump.suffix == ".dump"
            else dump.with_name(dump.name + ".media.tar"))


def backup(url: str, path: str | Path, media_dir: str | Path | None = None) -> Path:
    """Dump the whole database at ``url`` to ``path``, and the photos in ``media_dir`` (default
    GRIDGOV_MEDIA_DIR) to :func:`media_archive` of it."""
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
    # Photos after the dump: a photo is on disk before the row naming it is committed and never
    # changes, so the tar holds every photo the dump refers to.
    archive = media_archive(path)
    if not media.pack(media_dir if media_dir is not None else media.root(), archive):
        archive.unlink(missing_ok=True)  # an older backup's, under the same name: not this one's
    return path


def restore(path: str | Path, url: str, media_dir: str | Path | None = None) -> None:
    """Restore a dump into the empty database at ``url`` (one transaction: all or nothing), and
    its photos, if it has a :func:`media_archive`, into ``media_dir`` (default GRIDGOV_MEDIA_DIR).
    """
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
    # Photos before the database: files are named by their content, so photos already there are
    # kept, and a failed pg_restore leaves only unreferenced extra photos behind.
    archive = media_archive(path)
    if archive.is_file():
        media.unpack(archive, media_dir if media_dir is not None else media.root())
    result = subprocess.run([_tool("pg_restore"), "--no-owner", "--exit-on-error",
                             "--single-transaction", f"--dbname={_libpq(url)}", str(path)],
                            capture_output=True, text=True)
    if result.returncode != 0:
        raise GridgovError(f"pg_restore failed: {result.stderr.strip()}")
