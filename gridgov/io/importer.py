"""Import layers into the store: all or nothing.

One import is one transaction. Every row is validated before anything is written; if any row is
wrong, the rejected rows go to a report file, the transaction is rolled back and an
:class:`~gridgov.errors.InputError` names file, row and field of each problem.

Example:
    >>> from gridgov.bundle import bundle_path
    >>> import_layer(engine, "compounds", bundle_path() / "compounds.geojson")  # as already stored
    ImportResult(layer='compounds', file='.../compounds.geojson', rows=107, inserted=0, updated=0,
                 dry_run=False)
    >>> import_layer(engine, "party_orgs", bundle_path() / "compounds.geojson",
    ...              report_path="rejected.csv")
    Traceback (most recent call last):
    ...
    gridgov.errors.InputError: .../compounds.geojson, field 'member_count': required column is
    missing; rejected rows written to rejected.csv. Nothing was written.
"""

from __future__ import annotations

import csv
import getpass
import os
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import shapely
from sqlalchemy import (Connection, Engine, LargeBinary, bindparam, func, select, text,
                        tuple_)
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects.postgresql import insert as pg_insert
from tqdm import tqdm

from gridgov.db import tables
from gridgov.errors import InputError, Problem
from gridgov.io.readers import RawLayer, list_sublayers, read_layer
from gridgov.io.validate import Context, Prepared, prepare
from gridgov.layers import LAYER_ORDER, get_layer
from gridgov.settings import ImportSettings, current

BATCH = 1000
PROGRESS_MIN_ROWS = 5000


@dataclass(frozen=True)
class ImportResult:
    layer: str
    file: str
    rows: int
    inserted: int
    updated: int
    dry_run: bool


@contextmanager
def _transaction(engine: Engine, dry_run: bool):
    with engine.connect() as conn:
        trans = conn.begin()
        # the audit log names who imported: GRIDGOV_ACTOR, else the operating-system user
        actor = os.environ.get("GRIDGOV_ACTOR") or f"cli:{getpass.getuser()}"
        conn.execute(text("SELECT set_config('gridgov.actor', :a, true)"), {"a": actor})
        try:
            yield conn
        except BaseException:
            trans.rollback()
            raise
        if dry_run:
            trans.rollback()
        else:
            trans.commit()


def import_layer(engine: Engine, layer: str, path: str | Path, *, crs=None, dry_run: bool = False,
                 report_path: str | Path | None = None, sublayer: str | None = None,
                 settings: ImportSettings | None = None) -> ImportResult:
    """Validate ``path`` as ``layer`` and upsert it by key, in one transaction."""
    spec = get_layer(layer)
    settings = settings or current(ImportSettings)
    raw = read_layer(path, sublayer or spec.name, settings)
    with _transaction(engine, dry_run) as conn:
        return _import_raw(conn, Context(conn), spec.name, raw, crs, dry_run, report_path,
                           settings)


def bundle_files(path: str | Path) -> dict[str, tuple[Path, str | None]]:
    """Layer name -> (file, sublayer) found in a folder, a GeoPackage or a workbook."""
    path = Path(path)
    found: dict[str, tuple[Path, str | None]] = {}
    if path.is_dir():
        for name in LAYER_ORDER:
            for suffix in (".geojson", ".json", ".gpkg", ".shp", ".csv", ".xlsx"):
                candidate = path / f"{name}{suffix}"
                if candidate.exists():
                    found[name] = (candidate, None)
                    break
    elif path.suffix.lower() in (".gpkg", ".xlsx"):
        present = set(list_sublayers(path))
        found = {name: (path, name) for name in LAYER_ORDER if name in present}
    else:
        raise InputError([Problem(str(path), None, None,
                                  "a bundle is a folder, a GeoPackage or an XLSX workbook")])
    if not found:
        raise InputError([Problem(str(path), None, None,
                                  f"holds no layer named after {', '.join(LAYER_ORDER)}")])
    return found


def import_bundle(engine: Engine, path: str | Path, *, crs=None, dry_run: bool = False,
                  report_dir: str | Path | None = None,
                  settings: ImportSettings | None = None) -> list[ImportResult]:
    """Import every layer found in ``path`` in dependency order, all in one transaction."""
    settings = settings or current(ImportSettings)
    files = bundle_files(path)
    results = []
    with _transaction(engine, dry_run) as conn:
        ctx = Context(conn)
        for name in LAYER_ORDER:
            if name not in files:
                continue
            file, sublayer = files[name]
            raw = read_layer(file, sublayer or name, settings, allow_empty=True)
            if len(raw) == 0:
                results.append(ImportResult(name, raw.file, 0, 0, 0, dry_run))
                continue
            report = Path(report_dir) / f"{name}.rejected.csv" if report_dir else None
            results.append(_import_raw(conn, ctx, name, raw, crs, dry_run, report, settings))
    return results


def _import_raw(conn: Connection, ctx: Context, layer: str, raw: RawLayer, crs, dry_run: bool,
                report_path, settings: ImportSettings) -> ImportResult:
    spec = get_layer(layer)
    prepared = prepare(raw, spec, ctx, crs, settings)
    if prepared.problems:
        raise InputError(prepared.problems, write_report(raw, prepared.problems, report_path))
    try:
        spec.before_write(conn, prepared.records)
        inserted, updated, written = _write(conn, prepared)
        problems = spec.written_problems(conn, prepared.records, prepared.rows, prepared.file,
                                         settings)
        if not problems and written:
            # only what this import changed: a re-import of the same file does nothing more
            spec.after_write(conn, [r for r in prepared.records if tuple(
                r.get(c) for c in spec.conflict_key) in written])
    except (sa_exc.IntegrityError, sa_exc.DataError) as exc:
        # what validation could not see (e.g. a race with another writer): report, roll back
        problems = [_database_problem(prepared.file, exc)]
    if problems:
        raise InputError(problems, write_report(raw, problems, report_path))
    ctx.forget(layer)
    return ImportResult(layer, raw.file, len(prepared.records), inserted, updated, dry_run)


def _database_problem(file: str, exc: sa_exc.DBAPIError) -> Problem:
    diag = getattr(exc.orig, "diag", None)
    primary = getattr(diag, "message_primary", None) or str(exc.orig).splitlines()[0]
    detail = getattr(diag, "message_detail", None)
    column = getattr(diag, "column_name", None)
    return Problem(file, None, column, f"the store refused the rows: {primary}"
                   + (f" ({detail})" if detail else ""))


def _write(conn: Connection, prepared: Prepared) -> tuple[int, int, set]:
    """Upsert the rows; (inserted, updated, the conflict keys of the rows written)."""
    spec = prepared.layer
    table = tables.table(spec.table)
    columns = [c for c in prepared.columns if c in table.c]
    values = {c: bindparam(c) for c in columns if c != "geom"}
    if "geom" in columns:
        values["geom"] = func.ST_SetSRID(
            func.ST_GeomFromWKB(bindparam("geom_wkb", type_=LargeBinary)), tables.SRID)
    stmt = pg_insert(table).values(values)
    update = {c: stmt.excluded[c] for c in columns if c not in spec.conflict_key}
    update["updated_at"] = func.now()
    if "version" in table.c:
        update["version"] = table.c.version + 1
    # Rows that would not change are left alone: a re-import of the same file writes nothing,
    # so the audit log and versions record real changes only.
    changed = [c for c in columns if c not in spec.conflict_key]
    differs = tuple_(*[table.c[c] for c in changed]).is_distinct_from(
        tuple_(*[stmt.excluded[c] for c in changed])) if changed else None
    # the key is the primary key, or the natural key's unique constraint beside an id
    key = [table.c[c] for c in spec.conflict_key]
    stmt = stmt.on_conflict_do_update(index_elements=list(spec.conflict_key), set_=update,
                                      where=differs)
    # the rows written come back by key; those not there before were inserted (xmax = 0 would
    # say so in one step, but partitioned tables cannot return system columns)
    stmt = stmt.returning(*key)

    params = []
    for rec in prepared.records:
        p = {c: rec.get(c) for c in columns if c != "geom"}
        if "geom" in columns:
            geom = rec.get("geom")
            p["geom_wkb"] = shapely.to_wkb(geom) if geom is not None else None
        params.append(p)

    inserted = returned = 0
    written_keys: set = set()
    progress = tqdm(total=len(params), desc=f"import {spec.name}", unit="rows",
                    disable=None if len(params) >= PROGRESS_MIN_ROWS else True, leave=False)
    with progress:
        for start in range(0, len(params), BATCH):
            chunk = params[start:start + BATCH]
            # rows already there: looked up by the key's first column (an index), the rest of
            # the key compared here (a row-value IN list defeats partition pruning)
            firsts = sorted({p.get(spec.conflict_key[0]) for p in chunk} - {None}, key=str)
            before = set(conn.execute(select(*key).where(key[0].in_(firsts))).all())
            written = conn.execute(stmt, chunk).all() if len(chunk) > 1 else \
                conn.execute(stmt, chunk[0]).all()
            inserted += sum(tuple(r) not in before for r in written)
            returned += len(written)
            written_keys.update(tuple(r) for r in written)
            progress.update(len(chunk))
    for f in spec.links:
        if f.name in prepared.columns:
            _write_links(conn, f, prepared.records, spec.key[0])
    return inserted, returned - inserted, written_keys


def _write_links(conn: Connection, f, records: list[dict], key: str) -> None:
    """A list field (key-task units, ...) replaces the link rows of every record it names."""
    link = tables.table(f.link.table)
    owners = [r[key] for r in records]
    conn.execute(link.delete().where(link.c[f.link.owner_column].in_(owners)))
    rows = [{f.link.owner_column: r[key], f.link.member_column: member, "position": i}
            for r in records for i, member in enumerate(dict.fromkeys(r.get(f.name) or []))]
    if rows:
        conn.execute(link.insert(), rows)


def write_report(raw: RawLayer, problems: list[Problem], report_path=None) -> str | None:
    """Write the rejected rows (with what is wrong) as CSV; returns its path."""
    path = Path(report_path) if report_path else _default_report_path(raw.file)
    by_row: dict = {}
    for p in problems:
        by_row.setdefault(p.row, []).append(p)
    index_of = {int(r): i for i, r in enumerate(raw.rows)}
    columns = [str(c) for c in raw.frame.columns]
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "w", newline="", encoding="utf-8-sig") as fh:
            writer = csv.writer(fh)
            writer.writerow(["row", "field", "problem", *columns])
            for row, items in sorted(by_row.items(), key=lambda kv: kv[0] or 0):
                values = []
                if row is not None and row in index_of:
                    values = ["" if v is None else str(v)
                              for v in raw.frame.iloc[index_of[row]].tolist()]
                for p in items:
                    writer.writerow(["" if row is None else row, p.field or "", p.message, *values])
    except OSError:
        return None
    return str(path)


def _default_report_path(file: str) -> Path:
    source = Path(file)
    name = f"{source.stem}.rejected.csv"
    if os.access(source.parent if source.parent.exists() else ".", os.W_OK):
        return source.parent / name
    return Path(tempfile.gettempdir()) / name
