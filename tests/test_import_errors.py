"""Every kind of bad input is refused with a message naming file, row and field,
and the store is left exactly as it was."""

from __future__ import annotations

import csv
import json

import pyogrio
import geopandas as gpd
import pytest
import shapely

from gridgov.errors import InputError, NotFound
from gridgov.io.importer import import_layer
from gridgov.settings import ImportSettings

from conftest import fingerprint
from helpers import SEAT, compound, square, write_geojson


@pytest.fixture
def unchanged(seeded_engine):
    """Asserts after the test that the shared seeded database did not change."""
    before = fingerprint(seeded_engine)
    yield seeded_engine
    assert fingerprint(seeded_engine) == before


def refused(engine, layer, path, **kwargs) -> InputError:
    with pytest.raises(InputError) as info:
        import_layer(engine, layer, path, **kwargs)
    return info.value


def test_invalid_geometry(unchanged, tmp_path):
    bowtie = shapely.Polygon([(111.204, 37.339), (111.206, 37.341), (111.206, 37.339),
                              (111.204, 37.341)])
    ok_props, ok_geom = compound("141129100001901")
    bad_props, _ = compound("141129100001902")
    path = write_geojson(tmp_path / "compounds.geojson", [ok_props, bad_props], [ok_geom, bowtie])
    err = refused(unchanged, "compounds", path)
    assert str(err).startswith(f"{path}, row 2, field 'geometry': geometry is invalid: "
                               "Self-intersection")
    assert len(err.problems) == 1
    assert "Nothing was written" in str(err)


def test_wrong_geometry_type(unchanged, tmp_path):
    props, _ = compound("141129100001901")
    path = write_geojson(tmp_path / "c.geojson", [props], [shapely.Point(*SEAT)])
    err = refused(unchanged, "compounds", path)
    assert f"{path}, row 1, field 'geometry': geometry is a Point" in str(err)


def test_coordinates_outside_the_county(unchanged, tmp_path):
    beijing = square(116.397, 39.908)
    swapped = square(SEAT[1], SEAT[0])
    rows = [compound("141129100001901")[0], compound("141129100001902")[0]]
    path = write_geojson(tmp_path / "c.geojson", rows, [beijing, swapped])
    err = refused(unchanged, "compounds", path)
    assert "row 1, field 'geometry': lies" in str(err)
    assert "outside county 141129 (中阳县)" in str(err.problems[0])
    assert "row 2" in str(err.problems[1]) and "swapped" in str(err.problems[1])


def test_projected_coordinates_without_crs(unchanged, tmp_path):
    props, _ = compound("141129100001901")
    path = write_geojson(tmp_path / "c.geojson", [props], [square(500000, 4133000, 50)])
    err = refused(unchanged, "compounds", path)
    assert "not longitude/latitude" in str(err) and "--crs" in str(err)


def test_missing_code_value_and_missing_column(unchanged, tmp_path):
    props, geom = compound(None)
    path = write_geojson(tmp_path / "c.geojson", [props], [geom])
    assert f"{path}, row 1, field 'code': value is missing" in str(
        refused(unchanged, "compounds", path))
    props, geom = compound("141129100001901")
    del props["households"]
    path = write_geojson(tmp_path / "d.geojson", [props], [geom])
    assert f"{path}, field 'households': required column is missing" in str(
        refused(unchanged, "compounds", path))


def test_duplicate_codes_in_file(unchanged, tmp_path):
    rows = [compound("141129100001901"), compound("141129100001901", name="另一个")]
    path = write_geojson(tmp_path / "c.geojson", [r[0] for r in rows], [r[1] for r in rows])
    err = refused(unchanged, "compounds", path)
    assert "row 2, field 'code': duplicate code 141129100001901 (also row 1)" in str(err)


def test_code_of_wrong_form(unchanged, tmp_path):
    rows = [{"code": "1411291000", "township_code": "141129100", "name": "X社区",
             "kind": "community"}]
    path = write_geojson(tmp_path / "d.geojson", rows, [None])
    err = refused(unchanged, "divisions", path)
    assert "row 1, field 'code': '1411291000' does not have the form of a code (12 digits)" in str(err)


def test_unknown_org_and_compound(unchanged, tmp_path):
    path = tmp_path / "assignments.csv"
    path.write_text("org_code,compound_code,valid_from\n"
                    "141129-P999,141129100001001,2023-01-01\n"
                    "141129-P001,141129100001999,2023-01-01\n", encoding="utf-8")
    err = refused(unchanged, "assignments", path)
    text = str(err)
    assert f"{path}, row 2, field 'org_code': unknown party_orgs code '141129-P999'" in text
    assert f"{path}, row 3, field 'compound_code': unknown compounds code '141129100001999'" in text


def test_unknown_community(unchanged, tmp_path):
    props, geom = compound("141129100099901", community_code="141129100099")
    path = write_geojson(tmp_path / "c.geojson", [props], [geom])
    assert "field 'community_code': unknown divisions code '141129100099'" in str(
        refused(unchanged, "compounds", path))


def test_overlapping_assignment_period(unchanged, tmp_path, seeded_engine):
    from sqlalchemy import text

    with seeded_engine.connect() as conn:
        org, compound_code = conn.execute(text(
            "SELECT org_code, compound_code FROM assignments WHERE valid_to IS NULL "
            "ORDER BY org_code LIMIT 1")).one()
    path = tmp_path / "a.csv"
    path.write_text(f"org_code,compound_code,kind,valid_from\n{org},{compound_code},unit,2023-06-01\n")
    err = refused(unchanged, "assignments", path)
    assert f"row 2, field 'valid_from': org {org} already holds compound {compound_code}" in str(err)


def test_period_ending_before_it_starts(unchanged, tmp_path):
    path = tmp_path / "a.csv"
    path.write_text("org_code,compound_code,valid_from,valid_to\n"
                    "141129-P001,141129100001001,2023-06-01,2023-01-01\n")
    assert "row 2, field 'valid_to': ends (2023-01-01) on or before it starts" in str(
        refused(unchanged, "assignments", path))


def test_wrong_types(unchanged, tmp_path):
    props, geom = compound("141129100001901", households="many")
    path = write_geojson(tmp_path / "c.geojson", [props], [geom])
    assert "row 1, field 'households': 'many' is not a whole number" in str(
        refused(unchanged, "compounds", path))
    path = tmp_path / "a.csv"
    path.write_text("org_code,compound_code,valid_from\n141129-P001,141129100001001,next week\n")
    assert "row 2, field 'valid_from': 'next week' is not a date" in str(
        refused(unchanged, "assignments", path))


def test_unreadable_encoding_csv(unchanged, tmp_path):
    path = tmp_path / "orgs.csv"
    path.write_bytes("code,name,member_count\n".encode() + b"X1,\xff\xfe\xff,3\n")
    err = refused(unchanged, "party_orgs", path)
    assert str(err).startswith(f"{path}: text is neither UTF-8 nor GBK")


def test_unreadable_encoding_shapefile_without_cpg(unchanged, tmp_path):
    path = tmp_path / "sites.shp"
    gdf = gpd.GeoDataFrame({"code": ["X1"], "tier": ["center"], "name": ["中心"]},
                           geometry=[shapely.Point(*SEAT)], crs=4326)
    pyogrio.write_dataframe(gdf, path, encoding="UTF-8")
    path.with_suffix(".cpg").unlink()
    dbf = path.with_suffix(".dbf")
    data = dbf.read_bytes()
    dbf.write_bytes(data.replace("中心".encode("utf-8"), b"\xff\xfe\xff\xfe\xff\xfe"))
    err = refused(unchanged, "practice_sites", path)
    assert "neither UTF-8 nor GBK; add a .cpg file" in str(err)


def test_shapefile_whose_cpg_lies(unchanged, tmp_path):
    path = tmp_path / "sites.shp"
    gdf = gpd.GeoDataFrame({"code": ["X1"], "tier": ["center"], "name": ["文明实践中心"]},
                           geometry=[shapely.Point(*SEAT)], crs=4326)
    pyogrio.write_dataframe(gdf, path, encoding="GBK")
    path.with_suffix(".cpg").write_text("UTF-8")
    err = refused(unchanged, "practice_sites", path)
    assert "UTF-8" in str(err) and str(path) in str(err)


def test_empty_files(unchanged, tmp_path):
    empty = tmp_path / "c.geojson"
    empty.write_text("")
    assert str(refused(unchanged, "compounds", empty)).startswith(f"{empty}: file is empty")
    no_rows = tmp_path / "d.geojson"
    no_rows.write_text(json.dumps({"type": "FeatureCollection", "features": []}))
    assert f"{no_rows}: has no rows" in str(refused(unchanged, "compounds", no_rows))
    header_only = tmp_path / "e.csv"
    header_only.write_text("code,name\n")
    assert "has no rows" in str(refused(unchanged, "work_groups", header_only))


def test_huge_file_refused_before_reading(unchanged, tmp_path):
    path = tmp_path / "big.csv"
    with open(path, "w") as fh:
        fh.write("code,county_code,name\n")
        for i in range(60_000):
            fh.write(f"141129-WGX{i},141129,组{i}\n")
    settings = ImportSettings(max_file_mb=1)
    err = refused(unchanged, "work_groups", path, settings=settings)
    assert "over the import limit of 1 MB" in str(err)
    settings = ImportSettings(max_rows=1000)
    assert "60,000 rows, over the import limit of 1,000" in str(
        refused(unchanged, "work_groups", path, settings=settings))


def test_not_json(unchanged, tmp_path):
    path = tmp_path / "c.geojson"
    path.write_text("{not json")
    assert str(refused(unchanged, "compounds", path)).startswith(f"{path}: cannot be read")


def test_grid_cells_must_tile(unchanged, tmp_path, seeded_engine):
    from sqlalchemy import text

    with seeded_engine.connect() as conn:
        code, wkb = conn.execute(text(
            "SELECT code, ST_AsBinary(geom) FROM grid_cells ORDER BY code LIMIT 1")).one()
    cell = shapely.from_wkb(bytes(wkb))
    grown = cell.buffer(0.0005)  # overlaps its neighbours and leaves the community
    path = write_geojson(tmp_path / "g.geojson",
                         [{"code": code, "community_code": code[:12]}], [grown])
    err = refused(unchanged, "grid_cells", path)
    assert "overlap by" in str(err) and "tile their community" in str(err)


def test_all_problems_reported_and_rejected_rows_written(unchanged, tmp_path):
    rows = [compound("141129100001901"), compound("141129100001902", households=-5),
            compound("141129100001903", households="x")]
    path = write_geojson(tmp_path / "c.geojson", [r[0] for r in rows], [r[1] for r in rows])
    report = tmp_path / "rejected.csv"
    err = refused(unchanged, "compounds", path, report_path=report)
    assert [p.row for p in err.problems] == [2, 3]
    assert err.report_path == str(report)
    with open(report, encoding="utf-8-sig") as fh:
        lines = list(csv.DictReader(fh))
    assert [(r["row"], r["field"]) for r in lines] == [("2", "households"), ("3", "households")]
    assert lines[0]["code"] == "141129100001902" and "negative" in lines[0]["problem"]


def test_unknown_layer_and_crs(unchanged, tmp_path):
    props, geom = compound("141129100001901")
    path = write_geojson(tmp_path / "c.geojson", [props], [geom])
    with pytest.raises(NotFound, match="unknown layer 'houses'"):
        import_layer(unchanged, "houses", path)
    assert "field 'crs': unknown CRS 'mars'" in str(
        refused(unchanged, "compounds", path, crs="mars"))


def test_unsupported_and_missing_files(unchanged, tmp_path):
    path = tmp_path / "c.kml"
    path.write_text("<kml/>")
    assert "unsupported file type .kml" in str(refused(unchanged, "compounds", path))
    assert "file not found" in str(refused(unchanged, "compounds", tmp_path / "nope.geojson"))


def test_features_without_properties_name_the_missing_fields(unchanged, tmp_path):
    # Geometry but no attributes: the rows are there, what is missing is the columns.
    path = write_geojson(tmp_path / "f.geojson", [{}, None],
                         [shapely.Point(*SEAT), shapely.Point(SEAT[0] + 0.001, SEAT[1])])
    err = refused(unchanged, "practice_sites", path)
    assert [str(p) for p in err.problems] == [
        f"{path}, field '{name}': required column is missing" for name in ("code", "tier", "name")]


def test_blank_key_cell_that_would_default_to_now(unchanged, tmp_path, seeded_engine):
    # added_at is part of the key of hours added by hand: now() for a blank cell would add the
    # same hours again at every import of the file
    from sqlalchemy import text

    with seeded_engine.connect() as conn:
        member = conn.execute(text("SELECT code FROM members ORDER BY code LIMIT 1")).scalar_one()
    path = tmp_path / "hours.csv"
    path.write_text("member_code,day,hours,reason,added_by,added_at\n"
                    f"{member},2026-01-31,1.5,夜间值守,admin,2026-02-01T10:00:00+08:00\n"
                    f"{member},2026-01-31,2,夜间值守,admin,\n", encoding="utf-8")
    err = refused(unchanged, "hours_added", path)
    assert [(p.file, p.row, p.field) for p in err.problems] == [(str(path), 3, "added_at")]
    assert "value is missing" in str(err) and "key" in str(err)
