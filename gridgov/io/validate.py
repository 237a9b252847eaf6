"""Turn a :class:`RawLayer` into clean records for one layer, or a list of located problems.

Checks, in the order a person fixing the file would want them: columns present, values of the
right type and form, geometry of the right kind, valid, and inside its county, keys unique within
the file, references to rows that exist (in the store or earlier in the same import).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import numpy as np
import pyproj
import shapely
from shapely.geometry import MultiPolygon
from sqlalchemy import Connection, text

from gridgov.errors import Problem
from gridgov.io.crs import normalize_crs, to_wgs84
from gridgov.io.readers import RawLayer
from gridgov.layers import LAYERS, Field, Layer
from gridgov.settings import ImportSettings, current

CHINA = ZoneInfo("Asia/Shanghai")
_TRUE = {"true", "t", "yes", "y", "1", "是", "√", "✓"}
_FALSE = {"false", "f", "no", "n", "0", "否", "×", ""}
_CODE_SPLIT = re.compile(r"[;；,，、\s]+")
_IGNORED_COLUMNS = {"fid", "ogc_fid", "id", "updated_at", "version"}


@dataclass
class Prepared:
    """Rows ready to write: one dict per row with every column the file provided."""

    layer: Layer
    file: str
    records: list[dict]
    rows: list[int]  # file row number of each record
    columns: list[str]  # fields the file provided (or that were derived): only these are updated
    problems: list[Problem] = field(default_factory=list)


def map_columns(file: str, layer: Layer, columns) -> tuple[dict[str, str], list[Problem]]:
    """File column -> field name, matching names, Shapefile short names and aliases."""
    lookup: dict[str, str] = {}
    for f in layer.fields:
        # f.name[:10]: how a Shapefile writer that knows nothing of us truncates the name
        for name in (f.name, f.shp_name, f.name[:10], *f.aliases):
            lookup.setdefault(name.lower(), f.name)
    mapping: dict[str, str] = {}
    problems: list[Problem] = []
    for col in columns:
        target = lookup.get(str(col).strip().lower())
        if target is None:
            continue
        if target in mapping.values():
            other = next(c for c, t in mapping.items() if t == target)
            problems.append(Problem(file, None, str(col),
                                    f"column means the same field '{target}' as column '{other}'"))
            continue
        mapping[col] = target
    return mapping, problems


def _parse(value, f: Field):
    """(parsed value, error message or None)."""
    if value is None:
        return None, None
    if f.type in ("int", "smallint", "bigint"):
        try:
            number = float(value)
        except (TypeError, ValueError):
            return None, f"{value!r} is not a whole number"
        if not number.is_integer():
            return None, f"{value!r} is not a whole number"
        if number < 0:
            return None, f"{int(number)} is negative"
        return int(number), None
    if f.type == "bool":
        if isinstance(value, (bool, np.bool_)):
            return bool(value), None
        key = str(value).strip().lower()
        if isinstance(value, (int, float, np.integer, np.floating)) and float(value) in (0, 1):
            return bool(value), None
        if key in _TRUE:
            return True, None
        if key in _FALSE:
            return False, None
        return None, f"{value!r} is not yes/no (use true/false, 1/0 or 是/否)"
    if f.type == "float":
        try:
            number = float(value)
        except (TypeError, ValueError):
            return None, f"{value!r} is not a number"
        return (number, None) if np.isfinite(number) else (None, f"{value!r} is not a number")
    if f.type == "datetime":
        if isinstance(value, dt.datetime):
            stamp = value
        else:
            try:
                stamp = dt.datetime.fromisoformat(_dashed(value))
            except ValueError:
                return None, f"{value!r} is not a date and time (use YYYY-MM-DD HH:MM)"
        if stamp.tzinfo is None:  # people write local time: Beijing time
            stamp = stamp.replace(tzinfo=CHINA)
        return stamp, None
    if f.type == "date":
        if isinstance(value, dt.datetime):
            return value.date(), None
        if isinstance(value, dt.date):
            return value, None
        try:
            return dt.date.fromisoformat(_dashed(value)[:10]), None
        except ValueError:
            return None, f"{value!r} is not a date (use YYYY-MM-DD)"
    if f.type == "json":
        if isinstance(value, str):
            try:
                return json.loads(value), None
            except ValueError:
                return None, f"{value[:40]!r} is not JSON"
        return value, None
    if f.type == "codes":
        return [c for c in _CODE_SPLIT.split(str(value)) if c], None
    # text: spreadsheets turn codes into numbers (141129.0); give them back as written
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text_value = str(value).strip()
    if f.pattern and not re.fullmatch(f.pattern, text_value):
        return None, f"{text_value!r} does not have the form of a {f.name} ({_describe(f.pattern)})"
    if f.choices and text_value not in f.choices:
        return None, f"{text_value!r} is not one of {', '.join(f.choices)}"
    return text_value, None


_SLASHED_DATE = re.compile(r"(\d{4})/(\d{1,2})/(\d{1,2})(?=$|[ T])")


def _dashed(value) -> str:
    """ISO text from a date (and time) written 2026/2/1 09:00, as spreadsheets and GDAL do."""
    text_value = str(value).strip()
    m = _SLASHED_DATE.match(text_value)
    if m:
        y, mo, d = (int(g) for g in m.groups())
        text_value = f"{y:04d}-{mo:02d}-{d:02d}{text_value[m.end():]}"
    return text_value


def _describe(pattern: str) -> str:
    m = re.fullmatch(r"\\d\{(\d+)\}", pattern)
    return f"{m.group(1)} digits" if m else f"pattern {pattern}"


def _geometry_problem(geom, layer: Layer):
    """(normalised geometry, problem message or None)."""
    if geom is None or geom.is_empty:
        if layer.geometry_required:
            return None, "geometry is missing or empty"
        return None, None
    geom = shapely.force_2d(geom)
    kind = geom.geom_type
    if layer.geometry == "MultiPolygon":
        if kind == "Polygon":
            geom = MultiPolygon([geom])
        elif kind != "MultiPolygon":
            return None, f"geometry is a {kind}; a {layer.name} outline must be a Polygon"
    elif layer.geometry == "MultiLineString":
        if kind == "LineString":
            geom = shapely.MultiLineString([geom])
        elif kind != "MultiLineString":
            return None, f"geometry is a {kind}; {layer.name} are lines (LineString)"
    elif layer.geometry == "Point":
        if kind == "MultiPoint" and len(geom.geoms) == 1:
            geom = geom.geoms[0]
        elif kind != "Point":
            return None, f"geometry is a {kind}; {layer.name} are located by a Point"
    minx, miny, maxx, maxy = geom.bounds
    if not (-180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90):
        if -90 <= minx <= maxx <= 90 and -180 <= miny <= maxy <= 180:
            return None, (f"coordinates ({minx:.6g}, {miny:.6g}) look like latitude, longitude: "
                          "longitude and latitude are swapped")
        return None, (f"coordinates ({minx:.6g}, {miny:.6g}) are not longitude/latitude; "
                      "name the file's CRS with --crs (e.g. --crs 4546)")
    if not geom.is_valid:
        return None, f"geometry is invalid: {shapely.is_valid_reason(geom)}"
    return geom, None


class Context:
    """What validation needs to know about the store, fetched once per import."""

    def __init__(self, conn: Connection):
        self.conn = conn
        self._keys: dict[str, dict[str, str]] = {}
        self._counties: dict[str, tuple] = {}
        self._outlines: list | None = None
        self._sql_defaults: dict[str, object] = {}

    def sql_default(self, expression: str):
        """The value of a column's SQL default (``now()``: this transaction's start, as the
        server default would give)."""
        if expression not in self._sql_defaults:
            self._sql_defaults[expression] = self.conn.execute(
                text(f"SELECT {expression}")).scalar_one()
        return self._sql_defaults[expression]

    def keys(self, layer_name: str) -> dict[str, str]:
        """code -> county_code of the rows a layer holds now (inside this transaction)."""
        if layer_name not in self._keys:
            layer = LAYERS[layer_name]
            rows = self.conn.execute(text(f"SELECT {layer.key[0]}, "
                                          f"{layer.county_column or 'NULL'} FROM {layer.table}"))
            self._keys[layer_name] = dict(rows.all())
        return self._keys[layer_name]

    def county_at(self, geom) -> str | None:
        """The stored county a geometry lies in (located rows that do not name theirs)."""
        if geom is None:
            return None
        if self._outlines is None:
            rows = self.conn.execute(text("SELECT code, ST_AsBinary(geom) FROM counties")).all()
            self._outlines = [(code, shapely.from_wkb(bytes(wkb))) for code, wkb in rows]
            for _, outline in self._outlines:
                shapely.prepare(outline)
        point = geom.representative_point()
        return next((code for code, outline in self._outlines if outline.contains(point)), None)

    def forget(self, layer_name: str) -> None:
        self._keys.pop(layer_name, None)
        self._counties.clear()  # a county's outline may be what changed
        self._outlines = None

    def county(self, code: str):
        """(name, metric transformer, outline in metres) for a stored county, or None."""
        if code not in self._counties:
            row = self.conn.execute(
                text("SELECT name, ST_AsBinary(geom) FROM counties WHERE code = :c"), {"c": code}
            ).first()
            if row is None:
                self._counties[code] = None
            else:
                outline = shapely.from_wkb(bytes(row[1]))
                c = outline.centroid
                local = pyproj.CRS.from_proj4(
                    f"+proj=aeqd +lat_0={c.y:.6f} +lon_0={c.x:.6f} +datum=WGS84 +units=m"
                )
                tr = pyproj.Transformer.from_crs(4326, local, always_xy=True)
                metric = shapely.transform(outline, lambda xy: np.column_stack(
                    tr.transform(xy[:, 0], xy[:, 1])))
                shapely.prepare(metric)
                self._counties[code] = (row[0], tr, metric)
        return self._counties[code]


def _derive_county(layer: Layer, rec: dict, ctx: Context) -> str | None:
    if layer.key == ("code",) and rec.get("code"):
        stored = ctx.keys(layer.name).get(rec["code"])  # an update keeps the row's county
        if stored:
            return stored
    for name in ("code", "community_code", "township_code", "division_code"):
        value = rec.get(name)
        if value and name in {f.name for f in layer.fields} and re.fullmatch(r"\d{9,14}", value):
            return value[:6]
    for f in layer.fields:
        if f.references and f.type != "codes" and rec.get(f.name) and f.references != "counties":
            county = ctx.keys(f.references).get(rec[f.name])
            if county:
                return county
    return None


def prepare(raw: RawLayer, layer: Layer, ctx: Context, crs=None,
            settings: ImportSettings | None = None) -> Prepared:
    settings = settings or current(ImportSettings)
    file = raw.file
    mapping, problems = map_columns(file, layer, raw.frame.columns)
    provided = set(mapping.values())
    derivable = {"county_code", *layer.derived}
    for f in layer.fields:
        if f.required and f.name not in provided and f.name not in derivable:
            problems.append(Problem(file, None, f.name, "required column is missing"))
    if layer.geometry and layer.geometry_required and raw.geoms is None:
        problems.append(Problem(file, None, "geometry",
                                "the file has no geometry (for CSV/XLSX: lon/lat or wkt columns)"))
    if problems:
        return Prepared(layer, file, [], [], [], problems)

    try:
        source_crs = normalize_crs(crs) if crs is not None else raw.crs
    except ValueError as exc:
        return Prepared(layer, file, [], [], [], [Problem(file, None, "crs", str(exc))])
    geoms = None
    if raw.geoms is not None and layer.geometry:
        geoms = to_wgs84(raw.geoms, source_crs) if source_crs is not None else raw.geoms

    fields = {f.name: f for f in layer.fields}
    records: list[dict] = []
    rows: list[int] = []
    seen: dict[tuple, int] = {}
    # columns as lists once: reading cell by cell through pandas costs more than the checks
    cells = {col: raw.frame[col].tolist() for col in mapping}
    located: list[tuple[int, object, str | None]] = []  # (record index, geometry, county)
    # A blank cell in a column with a default takes the default, on insert and on update alike
    # (as a column the file leaves out does on insert). A blank key column whose default is an
    # SQL expression (hours_added.added_at, now()) is refused: each import would add a new row.
    defaults = {name: _parse(fields[name].default, fields[name])[0]
                for name in mapping.values() if fields[name].default is not None}
    for i, row_no in enumerate(raw.rows.tolist()):
        rec: dict = {}
        row_problems: list[Problem] = []
        for col, name in mapping.items():
            value, err = _parse(cells[col][i], fields[name])
            if err:
                row_problems.append(Problem(file, row_no, name, err))
            elif value is None and name in defaults:
                value = defaults[name]
            elif value is None and fields[name].default_sql is not None:
                if name in layer.conflict_key:
                    row_problems.append(Problem(
                        file, row_no, name,
                        f"value is missing; it is part of the key ({', '.join(layer.key)}), so it "
                        f"cannot default to {fields[name].default_sql}: every import of the file "
                        "would add the row again"))
                else:
                    value = ctx.sql_default(fields[name].default_sql)
            rec[name] = value
        for f in layer.fields:
            if f.required and rec.get(f.name) in (None, "") and f.name not in derivable and not any(
                    p.field == f.name for p in row_problems):
                row_problems.append(Problem(file, row_no, f.name, "value is missing"))
        layer.derive(rec)
        geom = None
        if layer.geometry:
            geom, err = _geometry_problem(geoms[i] if geoms is not None else None, layer)
            if err:
                row_problems.append(Problem(file, row_no, "geometry", err))
            rec["geom"] = geom
        if "county_code" in fields and not rec.get("county_code"):
            rec["county_code"] = _derive_county(layer, rec, ctx) or ctx.county_at(geom)
            if not rec["county_code"] and not row_problems:
                row_problems.append(Problem(file, row_no, "county_code",
                                            "value is missing and cannot be derived"))
        for name, message in layer.row_problems(rec):
            row_problems.append(Problem(file, row_no, name, message))
        if geom is not None and "county_code" in fields:
            located.append((len(records), geom, rec.get("county_code")))
        key = tuple(rec.get(k) for k in layer.key)
        if all(k is not None for k in key):
            if key in seen:
                row_problems.append(Problem(
                    file, row_no, layer.key[0],
                    f"duplicate {'/'.join(layer.key)} {'/'.join(map(str, key))} (also row {seen[key]})"))
            else:
                seen[key] = row_no
        problems.extend(row_problems)
        records.append(rec)
        rows.append(row_no)

    problems.extend(_county_problems(located, rows, file, ctx, settings))
    problems.extend(_reference_problems(layer, records, rows, file, ctx))
    problems.extend(layer.rows_problems(ctx.conn, records, rows, file))
    columns = sorted(provided | ({"county_code"} if "county_code" in fields else set())
                     | set(layer.derived))
    if layer.geometry and raw.geoms is not None:  # no geometry in the file: keep the stored one
        columns.append("geom")
    problems.sort(key=lambda p: (p.row or 0))
    return Prepared(layer, file, records, rows, columns, problems)


def _county_problems(located, rows, file, ctx: Context, settings: ImportSettings):
    """Geometries lying outside their county, measured all at once per county (a file of
    20,000 orders would otherwise transform them one by one)."""
    problems = []
    by_county: dict = {}
    for index, geom, county in located:
        by_county.setdefault(county, []).append((index, geom))
    for county, items in by_county.items():
        found = ctx.county(county) if county else None
        if found is None:
            continue  # no county, or an unknown one: reported elsewhere
        _, tr, outline = found
        geoms = np.array([g for _, g in items], dtype=object)
        metric = shapely.transform(geoms, lambda xy: np.column_stack(
            tr.transform(xy[:, 0], xy[:, 1])))
        far = shapely.distance(outline, metric) > settings.county_tolerance_m
        for (index, geom), out in zip(items, far):
            if out:  # the rare ones get the full message, with its hints
                problems.append(Problem(file, rows[index], "geometry",
                                        _outside_county(geom, county, ctx, settings)))
    return problems


def _outside_county(geom, county_code, ctx: Context, settings: ImportSettings) -> str | None:
    if not county_code:
        return None
    county = ctx.county(county_code)
    if county is None:
        return None  # reported as an unknown reference
    name, tr, outline = county

    def to_metric(g):
        return shapely.transform(g, lambda xy: np.column_stack(tr.transform(xy[:, 0], xy[:, 1])))

    metric = to_metric(geom)
    distance = shapely.distance(outline, metric)
    if distance <= settings.county_tolerance_m:
        return None
    hint = ""
    swapped = shapely.transform(geom, lambda xy: xy[:, ::-1])
    if shapely.distance(outline, to_metric(swapped)) <= settings.county_tolerance_m:
        hint = "; longitude and latitude look swapped"
    elif distance < 3000:
        hint = "; GCJ-02 (Amap/Tencent) or BD-09 (Baidu) coordinates? pass --crs gcj02 or --crs bd09"
    return f"lies {distance / 1000:.2f} km outside county {county_code} ({name}){hint}"


def _reference_problems(layer, records, rows, file, ctx: Context) -> list[Problem]:
    problems = []
    for f in layer.fields:
        if not f.references:
            continue
        known = ctx.keys(f.references)
        if f.references == layer.name:  # a row may name another row of the same file
            known = {*known, *(r.get(layer.key[0]) for r in records)}
        for rec, row_no in zip(records, rows):
            values = rec.get(f.name)
            for value in (values if isinstance(values, list) else [values]):
                if value and value not in known:
                    problems.append(Problem(file, row_no, f.name,
                                            f"unknown {f.references} code {value!r}"))
    return problems
