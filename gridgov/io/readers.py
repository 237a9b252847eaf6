"""Read a layer from GeoJSON, GeoPackage, Shapefile, CSV or XLSX into one shape.

Every reader returns a :class:`RawLayer`: the attributes as text-ish values, the geometries (or
None), the row number a person would look for in that file, and the CRS the file declares.
Row numbers: for CSV and XLSX the spreadsheet row (the header is row 1, so the first record is
row 2); for GIS formats the feature number, from 1.

Only an empty cell is missing: text such as "NA", "null" or "#N/A" is text. A CSV cell that starts
with an apostrophe and then =, +, -, @ loses the apostrophe (the escape CSV exports write so that
spreadsheets show such text instead of running it, see :func:`escape_formula`). GeoJSON times are
read as written (GDAL would cut them to milliseconds) and parsed, with their zones, in validation.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyogrio
import shapely

from gridgov.errors import InputError, Problem
from gridgov.settings import ImportSettings, current

GIS_SUFFIXES = {".geojson", ".json", ".gpkg", ".shp"}
TABLE_SUFFIXES = {".csv", ".xlsx"}
SUPPORTED = sorted(GIS_SUFFIXES | TABLE_SUFFIXES)

LON_COLUMNS = ("lon", "lng", "longitude", "x", "经度")
LAT_COLUMNS = ("lat", "latitude", "y", "纬度")
WKT_COLUMNS = ("wkt", "geometry", "geom", "几何")


@dataclass
class RawLayer:
    file: str
    frame: pd.DataFrame
    geoms: np.ndarray | None
    rows: np.ndarray
    crs: object  # pyproj.CRS, or None when the file does not say

    def __len__(self) -> int:
        return len(self.frame)


def _fail(file: str, message: str, row: int | None = None, field: str | None = None):
    raise InputError([Problem(file, row, field, message)])


def list_sublayers(path: Path) -> list[str]:
    """Layers of a GeoPackage or sheets of a workbook; [] for single-layer formats."""
    suffix = path.suffix.lower()
    if suffix == ".gpkg":
        return [str(name) for name, _ in pyogrio.list_layers(path)]
    if suffix == ".xlsx":
        from openpyxl import load_workbook

        wb = load_workbook(path, read_only=True)
        try:
            return list(wb.sheetnames)
        finally:
            wb.close()
    return []


def _pick_sublayer(file: str, path: Path, wanted: str | None) -> str | None:
    names = list_sublayers(path)
    if not names:
        return None
    if wanted in names:
        return wanted
    if len(names) == 1:
        return names[0]
    _fail(file, f"holds several layers ({', '.join(names)}) and none is named {wanted!r}")


def read_layer(path: str | Path, layer: str | None = None,
               settings: ImportSettings | None = None, allow_empty: bool = False) -> RawLayer:
    """Read ``path`` (the sublayer or sheet named ``layer`` in a GeoPackage or workbook).

    ``allow_empty``: a layer with a header but no rows is returned, not refused (bundles may
    hold empty layers, e.g. an export of a county without roads)."""
    settings = settings or current(ImportSettings)
    path = Path(path)
    file = str(path)
    if not path.exists():
        _fail(file, "file not found")
    if path.is_dir():
        _fail(file, "is a folder; name a file (or use `gridgov import all` for a folder of layers)")
    suffix = path.suffix.lower()
    if suffix not in GIS_SUFFIXES | TABLE_SUFFIXES:
        _fail(file, f"unsupported file type {suffix or '(none)'}; use one of {', '.join(SUPPORTED)}")
    size = path.stat().st_size if suffix != ".shp" else _shapefile_size(path)
    if size == 0:
        _fail(file, "file is empty")
    if size > settings.max_file_mb * 1024 * 1024:
        _fail(file, f"file is {size / 1024 / 1024:.0f} MB, over the import limit of "
                    f"{settings.max_file_mb:g} MB (GRIDGOV_IMPORT_MAX_FILE_MB)")
    if suffix in GIS_SUFFIXES:
        raw = _read_gis(file, path, layer)
    else:
        raw = _read_table(file, path, layer)
    if len(raw) == 0 and not allow_empty:
        _fail(file, "has no rows")
    if len(raw) > settings.max_rows:
        _fail(file, f"has {len(raw):,} rows, over the import limit of {settings.max_rows:,} "
                    "(GRIDGOV_IMPORT_MAX_ROWS)")
    return raw


def _shapefile_size(path: Path) -> int:
    return sum(os.path.getsize(p) for p in (path, path.with_suffix(".dbf")) if p.exists())


def _shapefile_encoding(file: str, path: Path) -> str | None:
    """The DBF's text encoding: the .cpg if present, else sniffed (UTF-8, then GBK)."""
    for cpg in (path.with_suffix(".cpg"), path.with_suffix(".CPG")):
        if cpg.exists():
            declared = cpg.read_text(encoding="ascii", errors="replace").strip()
            return {"936": "GBK", "65001": "UTF-8"}.get(declared, declared) or None
    dbf = path.with_suffix(".dbf")
    if not dbf.exists():
        return None
    data = dbf.read_bytes()
    # Skip the header (its length is stored at bytes 8-9) and look at the records only.
    body = data[int.from_bytes(data[8:10], "little"):] if len(data) > 10 else b""
    for encoding in ("utf-8", "gbk"):
        try:
            body.decode(encoding)
            return encoding.upper()
        except UnicodeDecodeError:
            continue
    _fail(file, "attribute text is neither UTF-8 nor GBK; add a .cpg file naming its encoding")


def _read_gis(file: str, path: Path, layer: str | None) -> RawLayer:
    kwargs = {}
    if path.suffix.lower() == ".shp":
        if not path.with_suffix(".dbf").exists() and not path.with_suffix(".DBF").exists():
            _fail(file, "the Shapefile's .dbf (attributes) is missing beside it")
        encoding = _shapefile_encoding(file, path)
        if encoding:
            kwargs["encoding"] = encoding
    sublayer = _pick_sublayer(file, path, layer) if path.suffix.lower() == ".gpkg" else None
    if sublayer:
        kwargs["layer"] = sublayer
    if path.suffix.lower() in (".geojson", ".json"):
        # GDAL would read ISO date-time strings as DateTime fields, which hold milliseconds and
        # turn zones into UTC; as text they keep both, and validation parses them (the open
        # option of GDAL's GeoJSON driver, passed on by pyogrio)
        kwargs["DATE_AS_STRING"] = "YES"
    try:
        meta = pyogrio.read_info(path, **{k: v for k, v in kwargs.items() if k == "layer"})
        df = pyogrio.read_dataframe(path, fid_as_index=False, **kwargs)
    except UnicodeDecodeError as exc:
        _fail(file, f"attribute text cannot be decoded as {kwargs.get('encoding', 'UTF-8')} "
                    f"({exc.reason}); fix the .cpg or save the file as UTF-8")
    except Exception as exc:  # GDAL reports many error types; the message is what matters.
        _fail(file, f"cannot be read as {path.suffix.lstrip('.').upper()}: {_first_line(exc)}")
    crs = None
    if meta.get("crs"):
        import pyproj

        crs = pyproj.CRS.from_user_input(meta["crs"])
    geoms = None
    if "geometry" in getattr(df, "columns", []):
        geoms = np.asarray(df.geometry.values, dtype=object)
        df = pd.DataFrame(df.drop(columns="geometry"))
        if meta.get("geometry_type") in (None, "Unknown") and all(g is None for g in geoms):
            geoms = None
    frame = _as_text_frame(file, df)
    return RawLayer(file, frame, geoms, np.arange(1, len(frame) + 1), crs)


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _read_table(file: str, path: Path, layer: str | None) -> RawLayer:
    if path.suffix.lower() == ".csv":
        df = _read_csv(file, path)
    else:
        sheet = _pick_sublayer(file, path, layer)
        try:
            # keep_default_na=False: text such as "NA", "N/A", "null", "None", "nan" or "#N/A"
            # is text; only an empty cell is missing (it comes as "", made None below). An
            # Excel error value (a formula's #N/A) still comes as missing.
            df = pd.read_excel(path, sheet_name=sheet or 0, dtype=object, engine="openpyxl",
                               keep_default_na=False)
        except Exception as exc:
            _fail(file, f"cannot be read as an Excel workbook: {_first_line(exc)}")
    df.columns = [str(c).strip() for c in df.columns]
    frame = _as_text_frame(file, df)
    geoms, used = _geometry_from_columns(file, frame)
    frame = frame.drop(columns=used)
    return RawLayer(file, frame, geoms, np.arange(2, len(frame) + 2), None)


def _read_csv(file: str, path: Path) -> pd.DataFrame:
    data = path.read_bytes()
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        _fail(file, "text is neither UTF-8 nor GBK/GB18030; save it as UTF-8")
    import io

    try:
        # keep_default_na=False: "NA", "null", "None", ... are text; only an empty field is missing
        df = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    except pd.errors.EmptyDataError:
        _fail(file, "has no header row")
    except Exception as exc:
        _fail(file, f"cannot be read as CSV: {_first_line(exc)}")
    return df.map(unescape_formula)


# Text a spreadsheet would run as a formula (OWASP, CSV injection): a leading =, +, -, @, tab or
# carriage return. CSV exports put an apostrophe before it (and before text that already starts
# with apostrophes and then such a character, so that the escape can be undone exactly); plain
# numbers such as -5 or +8613912345678 are left alone.
_FORMULA = re.compile(r"'*[=+\-@\t\r]")
_ESCAPED = re.compile(r"'+[=+\-@\t\r]")
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def escape_formula(value):
    """Text for a CSV cell that a spreadsheet shows as text, never runs (undone on import)."""
    if isinstance(value, str) and _FORMULA.match(value) and not _NUMBER.fullmatch(value):
        return "'" + value
    return value


def unescape_formula(value):
    """The text :func:`escape_formula` was given (a CSV cell as read)."""
    if isinstance(value, str) and _ESCAPED.match(value):
        return value[1:]
    return value


def _as_text_frame(file: str, df: pd.DataFrame) -> pd.DataFrame:
    """Blank cells become None; text is stripped; other values are kept for typed parsing."""
    columns = {}
    for col in df.columns:
        values = []
        for v in df[col].tolist():
            if isinstance(v, str):
                if "\ufffd" in v:
                    raise InputError([Problem(file, None, str(col),
                                              "text holds undecodable bytes (wrong encoding?)")])
                v = v.strip() or None
            elif v is not None and not isinstance(v, (list, tuple)) and pd.isna(v):
                v = None
            values.append(v)
        # object dtype keeps None as None (pandas' string dtype would turn it into NaN)
        columns[col] = pd.Series(values, dtype=object)
    # explicit index: without columns (features with only a geometry) pandas would build a frame
    # of no rows, and the file would be refused as empty instead of for its missing fields
    return pd.DataFrame(columns, columns=list(df.columns), index=pd.RangeIndex(len(df)))


def _geometry_from_columns(file: str, frame: pd.DataFrame) -> tuple[np.ndarray | None, list[str]]:
    """Geometries from a WKT column or lon/lat columns, and the columns they came from."""
    lower = {c.lower(): c for c in frame.columns}
    lon = next((lower[c] for c in LON_COLUMNS if c in lower), None)
    lat = next((lower[c] for c in LAT_COLUMNS if c in lower), None)
    wkt = next((lower[c] for c in WKT_COLUMNS if c in lower), None)
    problems: list[Problem] = []
    first_row = 2
    if wkt:
        geoms = []
        for i, value in enumerate(frame[wkt]):
            if value is None:
                geoms.append(None)
                continue
            try:
                geoms.append(shapely.from_wkt(str(value)))
            except Exception as exc:
                problems.append(Problem(file, i + first_row, wkt,
                                        f"not valid WKT: {_first_line(exc)[:120]}"))
                geoms.append(None)
        used = [wkt]
    elif lon or lat:
        if not (lon and lat):
            raise InputError([Problem(file, None, lon or lat,
                                      "a longitude column needs a latitude column and vice versa")])
        geoms = []
        for i, (x, y) in enumerate(zip(frame[lon], frame[lat])):
            if x is None and y is None:
                geoms.append(None)
                continue
            try:
                geoms.append(shapely.Point(float(x), float(y)))
            except (TypeError, ValueError):
                bad = lon if not _is_number(x) else lat
                problems.append(Problem(file, i + first_row, bad,
                                        f"coordinate {frame.at[i, bad]!r} is not a number"))
                geoms.append(None)
        used = [lon, lat]
    else:
        return None, []
    if problems:
        raise InputError(problems)
    return np.asarray(geoms, dtype=object), used


def _is_number(value) -> bool:
    try:
        float(value)
        return True
    except (TypeError, ValueError):
        return False
