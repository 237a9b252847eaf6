"""The ``gridgov`` command line. Each command calls the library; none holds logic of its own."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import Optional

import typer

from gridgov.errors import GridgovError, InputError, StoreUnavailable

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="gridgov: grid-responsibility mapping on PostGIS (中阳县 bundled).")
db_app = typer.Typer(no_args_is_help=True, help="Create and upgrade the PostGIS schema.")
app.add_typer(db_app, name="db")


def _engine():
    from gridgov.db import connect_engine

    return connect_engine()


def _fail(exc: GridgovError) -> None:
    typer.secho(f"error: {exc}", err=True, fg=typer.colors.RED)
    if isinstance(exc, InputError) and len(exc.problems) > 5:
        for p in exc.problems[5:50]:
            typer.echo(f"  {p}", err=True)
    raise typer.Exit(3 if isinstance(exc, StoreUnavailable) else 2)


@db_app.command("upgrade")
def db_upgrade(revision: str = typer.Argument("head")) -> None:
    """Apply migrations up to REVISION (default: the newest)."""
    from gridgov.db import migrate

    try:
        _engine()
        migrate.upgrade(revision=revision)
    except GridgovError as exc:
        _fail(exc)
    typer.echo(f"schema at revision {migrate.current()}")


@db_app.command("downgrade")
def db_downgrade(revision: str = typer.Argument(..., help="target revision, or 'base'")) -> None:
    """Revert migrations down to REVISION."""
    from gridgov.db import migrate

    migrate.downgrade(revision=revision)
    typer.echo(f"schema at revision {migrate.current()}")


@db_app.command("current")
def db_current() -> None:
    """Print the schema revision of the database."""
    from gridgov.db import migrate

    typer.echo(migrate.current() or "(empty: run `gridgov db upgrade`)")


def _print_results(results, dry_run: bool) -> None:
    for r in results:
        typer.echo(f"{r.layer:<15} {r.rows:>6} rows  {r.inserted:>6} new  {r.updated:>6} updated"
                   f"  ({r.file})")
    if dry_run:
        typer.secho("dry run: everything checked, nothing written", fg=typer.colors.YELLOW)


@app.command("import")
def import_cmd(
    layer: str = typer.Argument(..., help="layer name (compounds, party_orgs, ...) or 'all'"),
    path: Path = typer.Argument(..., help="GeoJSON, GPKG, SHP, CSV or XLSX (a folder for 'all')"),
    crs: Optional[str] = typer.Option(None, help="CRS of the coordinates: EPSG code, gcj02 or bd09"),
    dry_run: bool = typer.Option(False, "--dry-run", help="check everything, write nothing"),
    report: Optional[Path] = typer.Option(None, help="where rejected rows go (CSV)"),
) -> None:
    """Import a layer: validated, converted to WGS84, all or nothing."""
    from gridgov.io.importer import import_bundle, import_layer

    try:
        engine = _engine()
        if layer == "all":
            results = import_bundle(engine, path, crs=crs, dry_run=dry_run, report_dir=report)
        else:
            results = [import_layer(engine, layer, path, crs=crs, dry_run=dry_run,
                                    report_path=report)]
    except GridgovError as exc:
        _fail(exc)
    _print_results(results, dry_run)


@app.command("export")
def export_cmd(
    path: Path = typer.Argument(..., help=".gpkg / .xlsx file, a single-layer file, or a folder"),
    fmt: Optional[str] = typer.Option(None, "--format", help="gpkg, xlsx, shp, geojson or csv"),
    layer: Optional[list[str]] = typer.Option(None, "--layer", help="layer(s) to export; default all"),
) -> None:
    """Export layers to GeoPackage, Shapefile, GeoJSON, XLSX or CSV."""
    from gridgov.io.export import export_layers

    try:
        names = export_layers(_engine(), path, layers=layer or None, fmt=fmt)
    except GridgovError as exc:
        _fail(exc)
    typer.echo(f"wrote {', '.join(names)} to {path}")


@app.command("seed")
def seed_cmd(
    path: Optional[Path] = typer.Option(None, help="bundle folder (default geodata/zhongyang)"),
) -> None:
    """Load the bundled Zhongyang County data (idempotent: rows are upserted by key)."""
    from gridgov.bundle import bundle_path
    from gridgov.io.importer import import_bundle

    try:
        results = import_bundle(_engine(), bundle_path(path))
    except GridgovError as exc:
        _fail(exc)
    _print_results(results, False)


@app.command("summary")
def summary_cmd(
    as_of: Optional[str] = typer.Option(None, help="date (YYYY-MM-DD) for active assignments"),
    county: Optional[list[str]] = typer.Option(None, help="county code(s); default all"),
) -> None:
    """Print what the store holds, in the figures of the seed article (中文 / English)."""
    from gridgov.analysis.inventory import LABELS_ZH, inventory

    try:
        date = dt.date.fromisoformat(as_of) if as_of else None
    except ValueError:
        typer.secho(f"error: --as-of {as_of!r} is not a date (YYYY-MM-DD)", err=True, fg="red")
        raise typer.Exit(2)
    try:
        figures = inventory(_engine(), county or None, date)
    except GridgovError as exc:
        _fail(exc)
    for key, value in figures.items():
        typer.echo(f"{LABELS_ZH[key]:　<8} {key:<22} {value:>8,}")
    covered, total = figures["compounds_covered"], figures["compounds"]
    rate = covered / total if total else 0
    typer.echo(f"\ncoverage on paper 包联覆盖率: {covered}/{total} compounds ({rate:.0%})")


@app.command("serve")
def serve_cmd(host: Optional[str] = typer.Option(None, help="default GRIDGOV_SERVICE_HOST or 127.0.0.1"),
              port: Optional[int] = typer.Option(None, help="default GRIDGOV_SERVICE_PORT or 8000"),
              workers: int = typer.Option(1, min=1, help="uvicorn worker processes")) -> None:
    """Run the map service (OGC API Features, vector tiles, analyses, maps)."""
    import logging

    import uvicorn
    from pydantic import ValidationError

    try:
        from gridgov_api.settings import ServiceSettings

        settings = ServiceSettings()
        _engine()  # refuse to start against a store that is not there, with a clear message
    except ValidationError as exc:
        typer.secho(f"error: invalid service settings (GRIDGOV_SERVICE_*): {exc}", err=True,
                    fg="red")
        raise typer.Exit(2) from None
    except GridgovError as exc:
        _fail(exc)
    host, port = host or settings.host, port or settings.port
    logging.basicConfig(level=logging.INFO,
                        format='{"time":"%(asctime)s","level":"%(levelname)s",'
                               '"logger":"%(name)s","message":"%(message)s"}')
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    typer.secho(f"\n  指挥中心总览图 command-center map: http://{shown}:{port}/maps/overview\n"
                f"  问题小区图 gaps map:               http://{shown}:{port}/maps/gaps\n"
                f"  OGC API / QGIS:                    http://{shown}:{port}/\n",
                fg=typer.colors.GREEN)
    uvicorn.run("gridgov_api.app:create_app", factory=True, host=host, port=port,
                workers=workers, log_level="info", access_log=False,
                timeout_keep_alive=settings.keep_alive_s)


@app.command("map")
def map_cmd(page: str = typer.Argument(..., help="overview, gaps, access or org"),
            output: Path = typer.Option(..., "--output", "-o", help="HTML file to write"),
            org: Optional[str] = typer.Option(None, help="organization code (for 'org')"),
            basemap: str = typer.Option("none", help="none, osm, tianditu or amap")) -> None:
    """Save a map as one standalone HTML file (opens without the service)."""
    from gridgov.maps.pages import save_standalone

    try:
        path = save_standalone(_engine(), page, output, org, basemap)
    except GridgovError as exc:
        _fail(exc)
    typer.echo(f"wrote {path} ({path.stat().st_size / 1024:,.0f} KiB)")


user_app = typer.Typer(no_args_is_help=True, help="Accounts: viewer, planner, admin.")
app.add_typer(user_app, name="user")


@user_app.command("add")
def user_add(username: str, role: str = typer.Option(..., help="viewer, planner or admin"),
             password: bool = typer.Option(False, "--password", help="also set a password "
                                           "(asked for, for the web sign-in)")) -> None:
    """Create or update a user; prints a new API key (shown once)."""
    from gridgov import auth

    secret = typer.prompt("password", hide_input=True, confirmation_prompt=True) \
        if password else None
    try:
        key = auth.add_user(_engine(), username, role, secret)
    except GridgovError as exc:
        _fail(exc)
    typer.echo(f"{username} ({role}); API key (keep it, it is not stored): {key}")


@user_app.command("list")
def user_list() -> None:
    """List users and roles."""
    from gridgov import auth

    for u in auth.list_users(_engine()):
        typer.echo(f"{u['username']:<20} {u['role']:<8} {'disabled' if u['disabled'] else ''}")


@user_app.command("disable")
def user_disable(username: str) -> None:
    """Disable a user (keys and tokens stop working at once)."""
    from gridgov import auth

    try:
        auth.disable_user(_engine(), username)
    except GridgovError as exc:
        _fail(exc)
    typer.echo(f"{username} disabled")


@app.command("backup")
def backup_cmd(path: Path = typer.Argument(..., help="dump file to write")) -> None:
    """Dump the whole store (pg_dump custom format)."""
    from gridgov.backup import backup
    from gridgov.settings import DatabaseSettings

    try:
        _engine()
        out = backup(DatabaseSettings().database_url, path)
    except GridgovError as exc:
        _fail(exc)
    typer.echo(f"wrote {out} ({out.stat().st_size / 1024:,.0f} KiB)")


@app.command("restore")
def restore_cmd(path: Path = typer.Argument(..., help="dump file from `gridgov backup`"),
                into: Optional[str] = typer.Option(None, help="URL of an EMPTY database "
                                                   "(default GRIDGOV_DATABASE_URL)")) -> None:
    """Restore a dump into an empty database, in one transaction."""
    from gridgov.backup import restore
    from gridgov.settings import DatabaseSettings

    try:
        restore(path, into or DatabaseSettings().database_url)
    except GridgovError as exc:
        _fail(exc)
    typer.echo("restored; run `gridgov db upgrade` if the dump is older than this version")


# --- analyses ------------------------------------------------------------------------------

FORMATS = ("table", "csv", "xlsx", "geojson")


def _date_option(value: Optional[str]) -> Optional[dt.date]:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        typer.secho(f"error: {value!r} is not a date (YYYY-MM-DD)", err=True, fg="red")
        raise typer.Exit(2)


def _emit(frame, fmt: str, output: Optional[Path], columns: list[str] | None = None) -> None:
    """Print or write an analysis result; tables without geometry for csv/xlsx/table."""
    import geopandas as gpd
    import pandas as pd

    if fmt not in FORMATS:
        typer.secho(f"error: --format must be one of {', '.join(FORMATS)}", err=True, fg="red")
        raise typer.Exit(2)
    if fmt == "geojson":
        if not isinstance(frame, gpd.GeoDataFrame):
            typer.secho("error: this result has no geometry; use csv or xlsx", err=True, fg="red")
            raise typer.Exit(2)
        text = frame.to_json(ensure_ascii=False, drop_id=True, to_wgs84=True)
        (output.write_text(text, encoding="utf-8") if output else typer.echo(text))
        if output:
            typer.echo(f"wrote {len(frame)} features to {output}")
        return
    table = pd.DataFrame(frame.drop(columns=frame.geometry.name)
                         if isinstance(frame, gpd.GeoDataFrame) else frame)
    if fmt == "table":
        shown = table[columns] if columns else table
        shown = shown.round({c: 6 if c in ("lon", "lat") else 1
                             for c in shown.select_dtypes("float").columns})
        with pd.option_context("display.max_rows", 200, "display.width", 200,
                               "display.max_colwidth", 40):
            typer.echo(shown.to_string(index=False))
        return
    if output is None and fmt == "xlsx":
        typer.secho("error: --format xlsx needs --output FILE.xlsx", err=True, fg="red")
        raise typer.Exit(2)
    if fmt == "csv":
        if output:
            table.to_csv(output, index=False, encoding="utf-8-sig")
        else:
            typer.echo(table.to_csv(index=False))
    else:
        table.to_excel(output, index=False)
    if output:
        typer.echo(f"wrote {len(table)} rows to {output}")


AS_OF = typer.Option(None, "--as-of", help="date (YYYY-MM-DD); default today")
FORMAT = typer.Option("table", "--format", help="table, csv, xlsx or geojson")
OUTPUT = typer.Option(None, "--output", "-o", help="file to write (default: print)")
COUNTY = typer.Option(None, "--county", help="county code(s); default all")


@app.command("coverage")
def coverage_cmd(as_of: Optional[str] = AS_OF, level: str = typer.Option(
        "compound", help="compound, grid_cell, community, township or county"),
        fmt: str = FORMAT, output: Optional[Path] = OUTPUT,
        county: Optional[list[str]] = COUNTY) -> None:
    """Coverage per compound (or rolled up), with status and flags."""
    from gridgov.analysis import coverage as cov_mod

    try:
        cov = cov_mod.coverage(_engine(), _date_option(as_of), county or None)
        if level != "compound":
            _emit(cov_mod.rollup(cov, level), fmt, output)
            return
    except ValueError as exc:
        typer.secho(f"error: {exc}", err=True, fg="red")
        raise typer.Exit(2)
    except GridgovError as exc:
        _fail(exc)
    _emit(cov, fmt, output, ["code", "name", "community_name", "households", "orgs", "members",
                             "households_per_member", "max_office_m", "status_zh"])
    if fmt == "table":
        k = cov_mod.kpis(cov)
        typer.echo(f"\n覆盖率 coverage {k['coverage_rate']:.0%} · 已覆盖 {k['covered']} · "
                   f"力量不足 {k['under_covered']} · 未包联 {k['uncovered']} · "
                   f"驻地过远 {k['far_assignments']} · 最远驻地 {k['worst_office_m'] or 0:,.0f} m")


@app.command("gaps")
def gaps_cmd(as_of: Optional[str] = AS_OF, fmt: str = FORMAT, output: Optional[Path] = OUTPUT,
             county: Optional[list[str]] = COUNTY) -> None:
    """Ranked compounds needing action, with reasons and score parts (XLSX for officials)."""
    from gridgov.analysis import gaps as gaps_mod

    try:
        g = gaps_mod.gaps(_engine(), _date_option(as_of), county or None)
    except GridgovError as exc:
        _fail(exc)
    if fmt == "xlsx":
        if output is None:
            typer.secho("error: --format xlsx needs --output FILE.xlsx", err=True, fg="red")
            raise typer.Exit(2)
        gaps_mod.to_xlsx(g, output)
        typer.echo(f"wrote {len(g)} compounds to {output}")
        return
    _emit(g, fmt, output, ["rank", "code", "name", "households", "priority", "reasons_zh"])


@app.command("org-load")
def org_load_cmd(as_of: Optional[str] = AS_OF, fmt: str = FORMAT,
                 output: Optional[Path] = OUTPUT, county: Optional[list[str]] = COUNTY) -> None:
    """Load per organization and how evenly it is spread."""
    from gridgov.analysis import load

    try:
        ld = load.org_load(_engine(), _date_option(as_of), county or None)
    except GridgovError as exc:
        _fail(exc)
    _emit(ld, fmt, output, ["code", "name", "member_count", "compounds", "households",
                            "households_per_member", "max_office_m", "idle"])
    if fmt == "table":
        b = load.balance(ld)
        typer.echo(f"\n{b['orgs']} orgs, {b['idle']} idle; households per member: mean "
                   f"{b['mean_households_per_member'] or 0:.1f}, CV {b['cv'] or 0:.2f}, "
                   f"Gini {b['gini']:.2f}")


@app.command("access")
def access_cmd(detour: Optional[float] = typer.Option(None, help="detour factor (default 1.3)"),
               sensitivity: bool = typer.Option(False, help="life circles at detour 1.2/1.3/1.4"),
               fmt: str = FORMAT, output: Optional[Path] = OUTPUT,
               county: Optional[list[str]] = COUNTY) -> None:
    """Walking distance to the nearest practice site of each tier, with life-circle class."""
    from gridgov.analysis import access as acc_mod

    try:
        if sensitivity:
            typer.echo(acc_mod.detour_sensitivity(_engine(), counties=county or None).to_string())
            return
        acc = acc_mod.access(_engine(), county or None, detour_factor=detour)
    except GridgovError as exc:
        _fail(exc)
    _emit(acc, fmt, output, ["kind", "code", "name", "station_walk_m", "institute_walk_m",
                             "center_walk_m", "life_circle_zh"])


@app.command("recommend")
def recommend_cmd(what: str = typer.Argument("assignments", help="assignments or sites"),
                  as_of: Optional[str] = AS_OF,
                  sites: int = typer.Option(3, help="number of new sites (for 'sites')"),
                  fmt: str = FORMAT, output: Optional[Path] = OUTPUT,
                  county: Optional[list[str]] = COUNTY) -> None:
    """Optimal new assignments (min-cost flow) or new practice sites (maximal covering)."""
    from gridgov.analysis import recommend

    try:
        if what == "sites":
            rec = recommend.recommend_sites(_engine(), sites, county or None)
            _emit(rec, fmt, output, ["rank", "lon", "lat", "compounds_gained", "households_gained"])
            typer.echo(f"\nhouseholds within the target walk: "
                       f"{rec.attrs['households_covered_before']:,} → "
                       f"{rec.attrs['households_covered_after']:,} of {rec.attrs['households_total']:,}")
            return
        if what != "assignments":
            typer.secho("error: recommend assignments or recommend sites", err=True, fg="red")
            raise typer.Exit(2)
        rec = recommend.recommend_assignments(_engine(), _date_option(as_of), county or None)
    except GridgovError as exc:
        _fail(exc)
    _emit(rec, fmt, output, ["org_code", "org_name", "compound_code", "compound_name", "members",
                             "distance_m"])
    if fmt == "table":
        b, a = rec.attrs["kpis_before"], rec.attrs["kpis_after"]
        typer.echo(f"\nunder-covered {b['under_covered']} → {a['under_covered']}, uncovered "
                   f"{b['uncovered']} → {a['uncovered']}; members unmet: {rec.attrs['unmet_members']}")


@app.command("scenario")
def scenario_cmd(source: str = typer.Argument(..., help="a JSON file of changes, or a saved name"),
                 as_of: Optional[str] = AS_OF,
                 save: Optional[str] = typer.Option(None, help="save under this name"),
                 description: Optional[str] = typer.Option(None)) -> None:
    """Evaluate a what-if scenario without touching live data; optionally save it by name."""
    import json

    from gridgov.analysis import scenario as sc

    try:
        engine = _engine()
        date = _date_option(as_of)
        path = Path(source)
        if path.suffix.lower() == ".json" or path.exists():
            try:
                changes = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError) as exc:
                typer.secho(f"error: {path}: cannot read the changes: {exc}", err=True, fg="red")
                raise typer.Exit(2)
        else:
            changes, saved = sc.load_scenario(engine, source)
            date = date or saved
        result = sc.scenario(engine, changes, date)
        if save:
            sc.save_scenario(engine, save, changes, description, date)
    except GridgovError as exc:
        _fail(exc)
    typer.echo(result.kpi_diff.to_string())
    moved = result.compounds[result.compounds["status_before"] != result.compounds["status_after"]]
    for r in moved.itertuples():
        typer.echo(f"{r.code} {r.name}: {r.status_before} → {r.status_after}")
    if save:
        typer.echo(f"saved as {save!r}")


def main() -> None:  # pragma: no cover - console entry for `python -m gridgov`
    sys.exit(app())
