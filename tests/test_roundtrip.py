"""Export, then import into an empty database: the same rows and the same geometries.

Every layer goes through every format from a small but complete store (tests/small_bundle.py),
built once for this module: every layer of the Zhongyang bundle, its long tables sampled so that
every column shows with a value and without one, with its longest value, each of its few values
and each of its unusual characters; plus the awkward rows the bundle lacks (no geometry, a hole
and several parts, a second county, a duplicate case, hours added by hand, quotes, commas, line
breaks and a 4-byte character, a landline's leading zero, other time zones, microseconds, a
Beijing-time month boundary, nested JSON), personal data included. test_small_store_is_complete
checks that the store still holds all that.

The full bundle (20,000 cases, 40,000 check-ins) through five formats took six minutes and added
only volume: importing it is what the seeded database does, exporting it what test_cli does.
"""

from __future__ import annotations

import csv
import json
import re

import pandas as pd
import pytest
import shapely
import sqlalchemy as sa

import small_bundle
from gridgov.db import make_engine
from gridgov.errors import InputError
from gridgov.io.export import export_layers, read_layer_frame
from gridgov.io.importer import import_bundle, import_layer
from gridgov.io.readers import escape_formula, read_layer, unescape_formula
from gridgov.layers import LAYER_ORDER, get_layer

from helpers import SEAT, write_geojson

FORMATS = [
    ("zhongyang.gpkg", None),
    ("zhongyang.xlsx", None),
    ("shp", "shp"),
    ("geojson", "geojson"),
    ("csv", "csv"),
]

# What the layers allow but the store cannot hold or a format cannot carry yet; each has an xfail
# test below that starts passing (and so fails, being strict) once it is fixed. (None now: an
# office without a location and GeoJSON times to the microsecond are kept, see
# test_office_without_location and test_geojson_keeps_microseconds.)
KNOWN_GAPS: set[tuple[str, str]] = set()
# Text a spreadsheet would take for a formula (OWASP: a leading =, +, -, @), and text that looks
# like the escaped form of one: exports must write it as text and imports read it back as it was.
FORMULAS = ["=HYPERLINK(\"http://example.com/\",\"点此查看\")", "+SUM(1,2)",
            "-2+3+cmd|' /C calc'!A0", "@SUM(1,2)", "'=已是文本"]
# Set by every import of cases (routing and deadlines: gridgov.cases.intake.settle_imported), so
# never null once imported.
SETTLED = {"cases": {"unit_kind", "unit_code", "co_units", "routing_rule", "routing_note",
                     "division_code", "township_code", "dispatch_due", "handle_due", "warn_at"}}


def snapshot(engine) -> dict[str, pd.DataFrame]:
    return {name: read_layer_frame(engine, name) for name in LAYER_ORDER}


def assert_same(a: pd.DataFrame, b: pd.DataFrame, layer: str):
    assert list(a.columns) == list(b.columns), layer
    assert len(a) == len(b), layer
    spec = get_layer(layer)
    if spec.geometry:
        ga, gb = a.geometry.values, b.geometry.values
        both_none = pd.isna(ga) & pd.isna(gb)
        same = shapely.equals_exact(shapely.normalize(ga), shapely.normalize(gb), tolerance=1e-9)
        assert (both_none | same).all(), f"{layer}: geometries differ"
        a, b = pd.DataFrame(a.drop(columns="geometry")), pd.DataFrame(b.drop(columns="geometry"))
    pd.testing.assert_frame_equal(a.reset_index(drop=True), b.reset_index(drop=True),
                                  check_dtype=False, obj=layer)


def _add_awkward(folder):
    """Rows tests/small_bundle.py does not add (yet): an office without a location, and text a
    spreadsheet would run as a formula, in an office and in a case."""
    path = folder / "party_orgs.geojson"
    orgs = json.loads(path.read_text("utf-8"))
    base = orgs["features"][0]["properties"]
    orgs["features"].append({"type": "Feature", "geometry": None, "properties": {
        **base, "code": "141129-P902", "name": FORMULAS[0], "parent_body": FORMULAS[4],
        "work_group_code": None, "member_count": 1, "source_note": None}})
    path.write_text(json.dumps(orgs, ensure_ascii=False), encoding="utf-8")
    cases = pd.read_csv(folder / "cases.csv", dtype=str, keep_default_na=False)
    row = cases.index[cases.code == "141129-20260131-900002"]
    cases.loc[row, ["description", "address", "reporter_name"]] = FORMULAS[2], FORMULAS[1], \
        FORMULAS[3]
    cases.to_csv(folder / "cases.csv", index=False, encoding="utf-8")


@pytest.fixture(scope="module")
def small_bundle_dir(tmp_path_factory):
    folder = small_bundle.write(tmp_path_factory.mktemp("small_bundle"))
    _add_awkward(folder)
    return folder


@pytest.fixture(scope="module")
def small_engine(databases, migrated_template, small_bundle_dir):
    """The small store (a couple of seconds to build)."""
    engine = make_engine(databases.create(migrated_template, "small"))
    import_bundle(engine, small_bundle_dir)
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def small_snapshot(small_engine):
    return snapshot(small_engine)


def test_small_store_is_complete(small_snapshot):
    """The round trips prove what the store holds: every layer has rows, every column a value,
    every nullable column also a null, every optional geometry also none, and the awkward values."""
    missing = []
    for name in LAYER_ORDER:
        spec = get_layer(name)
        frame = small_snapshot[name]
        if len(frame) == 0:
            missing.append(f"{name}: no rows")
            continue
        for f in spec.fields:
            if not frame[f.name].notna().any():
                missing.append(f"{name}.{f.name}: never set")
            if f.nullable and f.name not in SETTLED.get(name, ()) and \
                    not frame[f.name].isna().any():
                missing.append(f"{name}.{f.name}: never null")
        if spec.geometry and not spec.geometry_required and \
                (name, "geometry") not in KNOWN_GAPS and not frame.geometry.isna().any():
            missing.append(f"{name}: no row without geometry")
    assert not missing, "; ".join(missing)

    cases, checkins = small_snapshot["cases"], small_snapshot["checkins"]
    text = pd.concat([cases.description, small_snapshot["members"].name])
    assert text.str.contains("𠮷").any() and text.str.contains('"').any()
    assert text.str.contains("\n").any() and text.str.contains(",").any()
    assert "03586012345" in set(cases.reporter_phone)  # a leading zero, kept as text
    assert cases.reported_at.str.contains(r"\.123456\+08:00").any()
    assert "2026-02-01T00:30:00.500000+08:00" in set(checkins.checked_in_at)  # 31 Jan in UTC
    assert any(json.loads(v).get("nested") for v in small_snapshot["accounts"].prefilled.dropna())
    stored = {v for name in LAYER_ORDER for col in small_snapshot[name].columns
              for v in small_snapshot[name][col] if isinstance(v, str)}
    assert set(FORMULAS) <= stored
    compounds, roads = small_snapshot["compounds"].geometry, small_snapshot["roads"].geometry
    assert any(len(p.interiors) for g in compounds for p in g.geoms) and \
        compounds.map(lambda g: len(g.geoms)).max() > 1
    assert roads.map(lambda g: len(g.geoms)).max() > 1


@pytest.mark.parametrize("target,fmt", FORMATS)
def test_round_trip(small_engine, small_snapshot, empty_engine, tmp_path, target, fmt):
    path = tmp_path / target
    written = export_layers(small_engine, path, fmt=fmt)
    assert written == list(LAYER_ORDER)
    results = import_bundle(empty_engine, path)
    assert [r.layer for r in results] == list(LAYER_ORDER)
    after = snapshot(empty_engine)
    for name in LAYER_ORDER:
        assert_same(small_snapshot[name], after[name], name)


def test_office_without_location(empty_engine, small_bundle_dir, tmp_path):
    import_layer(empty_engine, "counties", small_bundle_dir / "counties.geojson")
    path = tmp_path / "party_orgs.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [{
        "type": "Feature", "geometry": None, "properties": {
            "code": "141129-P999", "county_code": "141129", "name": "无驻地党支部",
            "member_count": 1}}]}, ensure_ascii=False), encoding="utf-8")
    assert import_layer(empty_engine, "party_orgs", path).inserted == 1
    # the audit trigger logs it by its code, with its (missing) location as JSON null
    with empty_engine.connect() as conn:
        key, geom = conn.execute(sa.text(
            "SELECT record_key, jsonb_typeof(after -> 'geom') FROM audit_log "
            "WHERE table_name = 'party_orgs'")).one()
    assert (key, geom) == ("141129-P999", "null")


def test_geojson_keeps_microseconds(tmp_path):
    """GDAL would read these as date-time fields (milliseconds, zones turned into UTC): they come
    as written, and the importer parses them with their zones (test_import_formats)."""
    stamps = ["2026-02-01T00:30:00.123456+08:00", "2026-01-31T16:30:00.000001Z",
              "2026-02-01T02:30:00.5-05:00", "2026-02-01 09:00:00"]
    path = tmp_path / "cases.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [{
        "type": "Feature", "geometry": {"type": "Point", "coordinates": [111.2, 37.3]},
        "properties": {"reported_at": stamp}} for stamp in stamps]}), encoding="utf-8")
    values = read_layer(path).frame.reported_at.tolist()
    assert values == stamps
    assert pd.Timestamp(values[0]).microsecond == 123456


def test_spreadsheets_keep_formulas_as_text(small_engine, tmp_path):
    """Residents write case descriptions: text starting with =, +, - or @ must not become a live
    formula in an official's workbook (OWASP CSV injection). XLSX: string cells. CSV: a leading
    apostrophe, which the importer takes off again (the round trips prove the text comes back)."""
    import openpyxl

    export_layers(small_engine, tmp_path / "out.xlsx", layers=["party_orgs", "cases"])
    book = openpyxl.load_workbook(tmp_path / "out.xlsx")
    cells = [c for sheet in book for row in sheet.iter_rows() for c in row]
    assert not [c.coordinate for c in cells if c.data_type in ("f", "e")]
    assert set(FORMULAS) <= {c.value for c in cells if c.data_type == "s"}
    assert any(c.data_type == "n" for c in cells)  # numbers stay numbers

    export_layers(small_engine, tmp_path / "csv", layers=["party_orgs", "cases"], fmt="csv")
    values = [v for name in ("party_orgs", "cases")
              for row in csv.reader((tmp_path / "csv" / f"{name}.csv").open(encoding="utf-8-sig"))
              for v in row]
    number = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
    assert [v for v in values if re.match(r"[=+\-@\t\r]", v) and not number.fullmatch(v)] == []
    assert {f"'{v}" for v in FORMULAS} <= set(values)
    assert "+8613912345678" in values  # a number-like phone keeps its plus, unescaped
    for value in [*FORMULAS, "-5", "+1.5e3", "'-5", "''@x", "'x", "x=1", ""]:
        assert unescape_formula(escape_formula(value)) == value
    assert [escape_formula(v) for v in ["-5", "'-5", "'x"]] == ["-5", "''-5", "'x"]


def test_shapefile_export_refuses_text_it_would_cut(empty_engine, small_bundle_dir, tmp_path):
    """A DBF text field holds 254 bytes (84 Chinese characters); GDAL would cut the rest with
    only a warning, so the export is refused, naming layer, row and field, and GeoPackage."""
    import_layer(empty_engine, "counties", small_bundle_dir / "counties.geojson")
    sites = [{"code": f"141129-T{i}", "county_code": "141129", "tier": "center",
              "name": f"测试中心{i}", "theme": theme}
             for i, theme in enumerate(["文明实践" * 21, "文明实践" * 21 + "站"])]  # 252, 255 bytes
    points = [shapely.Point(SEAT), shapely.Point(SEAT[0] + 0.001, SEAT[1])]
    import_layer(empty_engine, "practice_sites",
                 write_geojson(tmp_path / "sites.geojson", sites, points))
    out = tmp_path / "out"
    with pytest.raises(InputError) as info:
        export_layers(empty_engine, out, layers=["practice_sites"], fmt="shp")
    (problem,) = info.value.problems
    assert (problem.file, problem.row, problem.field) == (str(out / "practice_sites.shp"), 2,
                                                          "theme")
    assert "255 bytes" in problem.message and "141129-T1" in problem.message
    assert "practice_sites" in problem.message and ".gpkg" in problem.message
    assert not out.exists() or not list(out.iterdir())
    # up to 254 bytes, text is written whole
    sites[1]["theme"] = "文明实践" * 21 + "ab"  # 254 bytes
    import_layer(empty_engine, "practice_sites",
                 write_geojson(tmp_path / "sites.geojson", sites, points))
    export_layers(empty_engine, out, layers=["practice_sites"], fmt="shp")
    import pyogrio

    back = pyogrio.read_dataframe(out / "practice_sites.shp", encoding="UTF-8")
    assert list(back.theme) == [site["theme"] for site in sites]


def test_shapefile_export_has_cpg_and_short_names(small_engine, tmp_path):
    export_layers(small_engine, tmp_path / "out", fmt="shp")
    assert (tmp_path / "out" / "compounds.cpg").read_text().strip().upper() in ("UTF-8", "UTF8")
    assert (tmp_path / "out" / "members.csv").exists()  # tables without geometry go to CSV
    import pyogrio

    fields = pyogrio.read_info(tmp_path / "out" / "divisions.shp")["fields"]
    assert all(len(f) <= 10 for f in fields) and "vrules" in fields


def test_csv_has_bom_for_excel(small_engine, tmp_path):
    export_layers(small_engine, tmp_path / "compounds.csv", layers=["compounds"])
    data = (tmp_path / "compounds.csv").read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    assert "小区".encode() in data


def test_single_layer_file_needs_one_layer(small_engine, tmp_path):
    with pytest.raises(InputError, match="holds one layer"):
        export_layers(small_engine, tmp_path / "all.geojson")
    assert not list(tmp_path.iterdir())
