"""Export layers to GeoPackage, Shapefile, GeoJSON, XLSX and CSV.

Containers (``.gpkg``, ``.xlsx``) hold one layer or sheet per table. Folder formats (``shp``,
``geojson``, ``csv``) write one file per layer; tables without geometry (members, assignments,
work groups, key tasks) are written as CSV beside the spatial files. Text files are UTF-8 with a BOM
so that Excel and WPS open Chinese text correctly; Shapefiles get a ``.cpg`` saying UTF-8 and
≤10-character field names that the importer maps back. Geometry in CSV/XLSX is full-precision WKT.
Everything is written to a temporary path first and moved into place, so a failed export leaves
no half-written file.

Text a spreadsheet would run as a formula (a leading ``=``, ``+``, ``-``, ``@``: residents write
case descriptions) stays text: XLSX cells are written as strings, CSV cells get a leading
apostrophe that the importer takes off again (plain numbers such as -5 are left alone). A
Shapefile's text field holds 254 bytes (84 Chinese characters); GDAL would cut longer text with
only a warning, so such an export is refused, naming layer, row and field (GeoPackage keeps it).

Example:
    >>> export_layers(engine, "zhongyang.gpkg")
    ['counties', 'townships', 'divisions', 'compounds', ...]
    >>> import geopandas
    >>> len(geopandas.read_file("zhongyang.gpkg", layer="compounds"))
    107
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
import shapely
from sqlalchemy import Engine, text

from gridgov.errors import InputError, Problem
from gridgov.io.readers import escape_formula
from gridgov.io.validate import CHINA
from gridgov.layers import LAYER_ORDER, Layer, get_layer

FORMATS = {"gpkg": ".gpkg", "xlsx": ".xlsx", "shp": ".shp", "geojson": ".geojson", "csv": ".csv"}
SHP_TEXT_BYTES = 254  # the widest text field a DBF holds


def read_layer_frame(engine: Engine, layer: str) -> pd.DataFrame | gpd.GeoDataFrame:
    """A layer as stored, ordered by key: a GeoDataFrame (EPSG:4326) for spatial layers."""
    spec = get_layer(layer)
    select = ", ".join(f"t.{c}" for c in spec.column_names)
    # list fields as 'a;b;c', in their order (the lead unit first), as the importer reads them
    extra = "".join(
        f", (SELECT string_agg(u.{f.link.member_column}, ';' ORDER BY u.position) "
        f"FROM {f.link.table} u WHERE u.{f.link.owner_column} = t.{spec.key[0]}) AS {f.name}"
        for f in spec.links)
    geom = ", ST_AsBinary(t.geom) AS geom" if spec.geometry else ""
    order = ", ".join(f"t.{k}" for k in spec.key)
    sql = text(f"SELECT {select}{extra}{geom} FROM {spec.table} t ORDER BY {order}")
    with engine.connect() as conn:
        df = pd.read_sql(sql, conn)
    # dates and times as ISO text (with the +08:00 of Beijing time), JSON as JSON text: what
    # every format can hold (XLSX takes no time zone, CSV no objects) and the importer reads back
    for f in spec.fields:
        if f.name not in df:
            continue
        if f.type in ("date", "datetime"):
            df[f.name] = [_iso(v) for v in df[f.name]]
        elif f.type == "json":
            df[f.name] = [None if v is None else json.dumps(v, ensure_ascii=False)
                          for v in df[f.name]]
    if not spec.geometry:
        return df
    geoms = [shapely.from_wkb(bytes(b)) if b is not None else None for b in df.pop("geom")]
    return gpd.GeoDataFrame(df, geometry=gpd.GeoSeries(geoms, crs=4326), crs=4326)


def _iso(value) -> str | None:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    if getattr(value, "tzinfo", None) is not None:
        value = value.astimezone(CHINA)
    return value.isoformat()


def export_layers(engine: Engine, path: str | Path, layers: list[str] | None = None,
                  fmt: str | None = None) -> list[str]:
    """Write ``layers`` (default: all) to ``path``; returns the layers written."""
    path = Path(path)
    names = list(layers or LAYER_ORDER)
    for name in names:
        get_layer(name)
    fmt = _format_of(path, fmt)
    single_file = path.suffix.lower() == FORMATS[fmt] and fmt not in ("gpkg", "xlsx")
    if single_file and len(names) != 1:
        raise InputError([Problem(str(path), None, None,
                                  f"a single {fmt} file holds one layer; name one with --layer or "
                                  "give a folder")])
    frames = {name: read_layer_frame(engine, name) for name in names}
    if fmt == "shp":
        problems = [p for name, frame in frames.items() for p in _shapefile_text_problems(
            path if single_file else path / f"{name}.shp", get_layer(name), frame)]
        if problems:
            raise InputError(problems)
    tmp_dir = Path(tempfile.mkdtemp(prefix=".gridgov-export-", dir=_parent_for_tmp(path)))
    try:
        if fmt == "gpkg":
            out = tmp_dir / path.name
            for name, frame in frames.items():
                pyogrio.write_dataframe(frame, out, layer=name, driver="GPKG",
                                        **_geometry_type(get_layer(name), frame))
            os.replace(out, path)
        elif fmt == "xlsx":
            out = tmp_dir / path.name
            with pd.ExcelWriter(out, engine="openpyxl") as writer:
                for name, frame in frames.items():
                    _tabular(frame).to_excel(writer, sheet_name=name, index=False)
                    _text_as_text(writer.sheets[name])
            os.replace(out, path)
        elif single_file:
            (name, frame), = frames.items()
            written = _write_one(tmp_dir, name, frame, fmt, get_layer(name))
            for f in written:
                target = path.with_suffix(f.suffix) if fmt == "shp" else path
                os.replace(f, target)
        else:
            path.mkdir(parents=True, exist_ok=True)
            for name, frame in frames.items():
                for f in _write_one(tmp_dir, name, frame, fmt, get_layer(name)):
                    os.replace(f, path / f.name)
    finally:
        shutil.rmtree(tmp_dir, ignore_errors=True)
    return names


def _parent_for_tmp(path: Path) -> Path:
    parent = path if path.suffix == "" else path.parent
    parent = parent if parent.exists() else parent.parent
    parent.mkdir(parents=True, exist_ok=True)
    return parent


def _format_of(path: Path, fmt: str | None) -> str:
    if fmt:
        if fmt not in FORMATS:
            raise InputError([Problem(str(path), None, None,
                                      f"unknown format {fmt!r}; use {', '.join(FORMATS)}")])
        return fmt
    suffix = path.suffix.lower()
    for name, ext in FORMATS.items():
        if suffix == ext or (suffix == ".json" and name == "geojson"):
            return name
    raise InputError([Problem(str(path), None, None,
                              "cannot tell the format: end the path in .gpkg/.xlsx/.shp/.geojson/"
                              ".csv, or give a folder with --format")])


def _geometry_type(spec: Layer, frame) -> dict:
    """An empty layer still needs its geometry type declared."""
    if isinstance(frame, gpd.GeoDataFrame) and len(frame) == 0 and spec.geometry:
        return {"geometry_type": spec.geometry}
    return {}


def _tabular(frame: pd.DataFrame) -> pd.DataFrame:
    """Geometry as a full-precision WKT column, for spreadsheets and CSV."""
    if isinstance(frame, gpd.GeoDataFrame):
        wkt = shapely.to_wkt(frame.geometry.values, rounding_precision=-1)
        frame = pd.DataFrame(frame.drop(columns=frame.geometry.name))
        frame["wkt"] = wkt
    return frame


def _text_as_text(sheet) -> None:
    """openpyxl takes text starting with '=' for a formula, and '#N/A' and the like for Excel
    error values: every text cell is written as a string cell (read back as the same text)."""
    for row in sheet.iter_rows():
        for cell in row:
            if cell.data_type in ("f", "e") and isinstance(cell.value, str):
                cell.data_type = "s"


def _shapefile_text_problems(file: Path, spec: Layer, frame) -> list[Problem]:
    """Text a Shapefile cannot hold whole (the rows in file order, from 1)."""
    if not isinstance(frame, gpd.GeoDataFrame):
        return []  # written as CSV beside the Shapefiles
    problems = []
    for f in spec.fields:
        if f.name not in frame:
            continue
        for i, value in enumerate(frame[f.name].tolist()):
            size = len(value.encode("utf-8")) if isinstance(value, str) else 0
            if size > SHP_TEXT_BYTES:
                key = "/".join(str(frame[k].iloc[i]) for k in spec.key)
                problems.append(Problem(
                    str(file), i + 1, f.name,
                    f"layer {spec.name}, {'/'.join(spec.key)} {key}: text of {size} bytes is "
                    f"longer than the {SHP_TEXT_BYTES} bytes a Shapefile field holds (about 84 "
                    "Chinese characters) and would be cut; export this layer as GeoPackage "
                    "(.gpkg) or GeoJSON, which keep it whole"))
    return problems


def _write_one(tmp_dir: Path, name: str, frame, fmt: str, spec: Layer) -> list[Path]:
    if fmt == "csv" or not isinstance(frame, gpd.GeoDataFrame):
        out = tmp_dir / f"{name}.csv"
        _tabular(frame).map(escape_formula).to_csv(out, index=False, encoding="utf-8-sig")
        return [out]
    if fmt == "geojson":
        out = tmp_dir / f"{name}.geojson"
        pyogrio.write_dataframe(frame, out, driver="GeoJSON", layer_options={"RFC7946": "NO",
                                                                              "WRITE_NAME": "NO"},
                                **_geometry_type(spec, frame))
        return [out]
    out = tmp_dir / f"{name}.shp"
    renamed = frame.rename(columns={f.name: f.shp_name for f in spec.fields})
    pyogrio.write_dataframe(renamed, out, driver="ESRI Shapefile", encoding="UTF-8",
                            **_geometry_type(spec, frame))
    return sorted(p for p in tmp_dir.iterdir() if p.stem == name)
