"""Imports that must succeed: every format, Chinese encodings and headers, Chinese CRSs."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely
from pyproj import Geod, Transformer
from sqlalchemy import text

from gridgov.io import crs
from gridgov.io.importer import import_layer

from conftest import fingerprint
from helpers import SEAT, compound, square, write_geojson

GEOD = Geod(ellps="WGS84")


def stored_point(engine, table, code):
    with engine.connect() as conn:
        x, y = conn.execute(text(f"SELECT ST_X(geom), ST_Y(geom) FROM {table} WHERE code = :c"),
                            {"c": code}).one()
    return x, y


def stored_geom(engine, table, code):
    with engine.connect() as conn:
        wkb, srid = conn.execute(text(f"SELECT ST_AsBinary(geom), ST_SRID(geom) FROM {table} "
                                      "WHERE code = :c"), {"c": code}).one()
    assert srid == 4326
    return shapely.from_wkb(bytes(wkb))


def site_rows(n=3):
    return [{"code": f"141129-T{i}", "county_code": "141129", "tier": "center",
             "name": f"测试中心{i}"} for i in range(n)]


@pytest.mark.parametrize("name,forward", [("gcj02", crs.wgs84_to_gcj02), ("bd09", crs.wgs84_to_bd09)])
def test_chinese_crs_points_land_within_half_a_metre(seeded_copy, tmp_path, name, forward):
    truth = [(111.205, 37.34), (111.2101, 37.3512), (111.1987, 37.3301)]
    shifted = [shapely.Point(*map(float, forward(x, y))) for x, y in truth]
    path = write_geojson(tmp_path / "sites.geojson", site_rows(), shifted)
    result = import_layer(seeded_copy, "practice_sites", path, crs=name)
    assert (result.inserted, result.updated) == (3, 0)
    for i, (x, y) in enumerate(truth):
        sx, sy = stored_point(seeded_copy, "practice_sites", f"141129-T{i}")
        assert GEOD.inv(x, y, sx, sy)[2] < 0.5


def test_gcj02_polygon_and_dry_run(seeded_copy, tmp_path):
    truth = square(*SEAT)
    amap = crs.from_wgs84(truth, "gcj02")
    props, _ = compound("141129100001901")
    path = write_geojson(tmp_path / "c.geojson", [props], [amap])
    before = fingerprint(seeded_copy)
    dry = import_layer(seeded_copy, "compounds", path, crs="gcj02", dry_run=True)
    assert dry.dry_run and dry.inserted == 1
    assert fingerprint(seeded_copy) == before
    import_layer(seeded_copy, "compounds", path, crs="GCJ-02")
    stored = stored_geom(seeded_copy, "compounds", "141129100001901")
    assert stored.geom_type == "MultiPolygon"  # polygons are promoted
    tr = Transformer.from_crs(4326, 4546, always_xy=True)
    to_m = lambda g: shapely.transform(g, lambda xy: np.column_stack(tr.transform(xy[:, 0], xy[:, 1])))
    assert shapely.hausdorff_distance(to_m(stored), to_m(truth)) < 0.5


def test_projected_input_with_crs(seeded_copy, tmp_path):
    tr = Transformer.from_crs(4326, 4546, always_xy=True)
    x, y = tr.transform(*SEAT)
    path = write_geojson(tmp_path / "s.geojson", site_rows(1), [shapely.Point(x, y)])
    import_layer(seeded_copy, "practice_sites", path, crs="4546")
    sx, sy = stored_point(seeded_copy, "practice_sites", "141129-T0")
    assert GEOD.inv(*SEAT, sx, sy)[2] < 0.01


def test_shapefile_gbk_with_and_without_cpg(seeded_copy, tmp_path):
    gdf = gpd.GeoDataFrame({"code": ["141129-T0"], "county_code": ["141129"], "tier": ["center"],
                            "name": ["中阳县新时代文明实践中心（测试）"]},
                           geometry=[shapely.Point(*SEAT)], crs=4326)
    with_cpg = tmp_path / "a" / "sites.shp"
    with_cpg.parent.mkdir()
    pyogrio.write_dataframe(gdf, with_cpg, encoding="GBK")
    assert with_cpg.with_suffix(".cpg").exists()
    import_layer(seeded_copy, "practice_sites", with_cpg)
    without = tmp_path / "b" / "sites.shp"
    without.parent.mkdir()
    gdf["name"] = ["文明实践中心乙"]
    pyogrio.write_dataframe(gdf, without, encoding="GBK")
    without.with_suffix(".cpg").unlink()
    import_layer(seeded_copy, "practice_sites", without)
    with seeded_copy.connect() as conn:
        assert conn.execute(text("SELECT name FROM practice_sites WHERE code = '141129-T0'")
                            ).scalar_one() == "文明实践中心乙"


def test_csv_gbk_with_chinese_headers_and_coordinates(seeded_copy, tmp_path):
    path = tmp_path / "orgs.csv"
    path.write_bytes("编码,名称,党员数,县编码,经度,纬度\n141129-PX1,测试党支部,12,141129,111.2051,37.3402\n"
                     .encode("gbk"))
    result = import_layer(seeded_copy, "party_orgs", path)
    assert result.inserted == 1
    x, y = stored_point(seeded_copy, "party_orgs", "141129-PX1")
    assert (round(x, 4), round(y, 4)) == (111.2051, 37.3402)


def test_xlsx_with_coordinates(seeded_copy, tmp_path):
    path = tmp_path / "sites.xlsx"
    pd.DataFrame({"code": ["141129-T0"], "tier": ["station"], "division_code": [141129100001],
                  "name": ["段家庄社区新时代文明实践站（测试）"], "lon": [111.2049], "lat": [37.3399],
                  "demonstration": ["是"]}).to_excel(path, index=False)
    import_layer(seeded_copy, "practice_sites", path)
    with seeded_copy.connect() as conn:
        row = conn.execute(text("SELECT division_code, township_code, county_code, demonstration "
                                "FROM practice_sites WHERE code = '141129-T0'")).one()
    # the Excel number 141129100001 comes back as the code it was; county derived from it
    assert tuple(row) == ("141129100001", None, "141129", True)


def test_reimport_updates_only_given_columns(seeded_copy, tmp_path):
    with seeded_copy.connect() as conn:
        code, population, version = conn.execute(text(
            "SELECT code, population, version FROM compounds ORDER BY code LIMIT 1")).one()
    path = tmp_path / "hh.csv"
    path.write_text(f"code,community_code,name,households\n{code},{code[:12]},改名小区,{population // 3}\n")
    # compounds need a geometry, so a CSV without one is refused ...
    with pytest.raises(Exception, match="has no geometry"):
        import_layer(seeded_copy, "compounds", path)
    # ... while organizations may come as a plain roster: only the given columns change
    with seeded_copy.connect() as conn:
        org, wg, before = conn.execute(text(
            "SELECT code, work_group_code, ST_AsText(geom) FROM party_orgs ORDER BY code LIMIT 1")).one()
    roster = tmp_path / "orgs.csv"
    roster.write_text(f"code,name,member_count\n{org},改名党支部,99\n")
    result = import_layer(seeded_copy, "party_orgs", roster)
    assert (result.inserted, result.updated) == (0, 1)
    with seeded_copy.connect() as conn:
        row = conn.execute(text("SELECT name, member_count, work_group_code, ST_AsText(geom), "
                                "version FROM party_orgs WHERE code = :c"), {"c": org}).one()
    assert tuple(row) == ("改名党支部", 99, wg, before, 2)


def test_ending_an_assignment_keeps_history(seeded_copy, tmp_path):
    with seeded_copy.connect() as conn:
        org, comp, start = conn.execute(text(
            "SELECT org_code, compound_code, valid_from FROM assignments WHERE valid_to IS NULL "
            "ORDER BY id LIMIT 1")).one()
        total = conn.execute(text("SELECT count(*) FROM assignments")).scalar_one()
    path = tmp_path / "a.csv"
    path.write_text("org_code,compound_code,kind,valid_from,valid_to\n"
                    f"{org},{comp},unit,{start},2024-01-01\n"
                    f"{org},{comp},unit,2024-03-01,\n")
    result = import_layer(seeded_copy, "assignments", path)
    assert (result.inserted, result.updated) == (1, 1)
    with seeded_copy.connect() as conn:
        periods = conn.execute(text(
            "SELECT valid_from::text, valid_to::text FROM assignments WHERE org_code = :o AND "
            "compound_code = :c ORDER BY valid_from"), {"o": org, "c": comp}).all()
        assert conn.execute(text("SELECT count(*) FROM assignments")).scalar_one() == total + 1
    assert periods[-2:] == [(str(start), "2024-01-01"), ("2024-03-01", None)]


# what pandas would read as missing by default: all text, all kept as written
NA_LIKE = ["NA", "N/A", "n/a", "null", "NULL", "None", "nan", "NaN", "-nan", "#N/A", "<NA>",
           "#N/A N/A", "1.#IND"]


@pytest.mark.parametrize("suffix", [".xlsx", ".csv"])
def test_text_that_looks_missing_stays_text(seeded_copy, tmp_path, suffix):
    rows = [[f"141129-PNA{i}", "141129", value, value, 1] for i, value in enumerate(NA_LIKE)]
    rows.append(["141129-PNAX", "141129", "空所属单位党支部", None, 2])  # only blank is missing
    header = ["code", "county_code", "name", "parent_body", "member_count"]
    path = tmp_path / f"orgs{suffix}"
    if suffix == ".xlsx":
        import openpyxl

        book = openpyxl.Workbook()
        sheet = book.active
        sheet.append(header)
        for row in rows:
            sheet.append(row)
        for cell in (c for row in sheet.iter_rows() for c in row):
            if isinstance(cell.value, str):
                cell.data_type = "s"  # "#N/A" as text, not as Excel's error value
        book.save(path)
    else:
        pd.DataFrame(rows, columns=header).to_csv(path, index=False)
    assert import_layer(seeded_copy, "party_orgs", path).inserted == len(rows)
    with seeded_copy.connect() as conn:
        stored = conn.execute(text(
            "SELECT code, name, parent_body FROM party_orgs WHERE code LIKE '141129-PNA%'")).all()
    assert sorted(stored) == sorted((r[0], r[2], r[3]) for r in rows)


def test_geojson_times_keep_microseconds_and_zones(seeded_copy, tmp_path):
    import datetime as dt
    from zoneinfo import ZoneInfo

    beijing = ZoneInfo("Asia/Shanghai")
    with seeded_copy.connect() as conn:
        org = conn.execute(text("SELECT code FROM party_orgs ORDER BY code LIMIT 1")).scalar_one()
    rows = [
        {"code": "141129-DT1", "org_code": org, "title": "UTC", "issued_at":
         "2026-01-31T16:30:00.000001Z", "due_at": "2026-02-01T02:30:00.5-05:00",
         "answered_at": "2026-02-01 09:00:00.123456"},
        {"code": "141129-DT2", "org_code": org, "title": "斜杠", "issued_at": "2026/01/31 08:00:00",
         "due_at": "2026-02-07T18:00:00+08:00", "answered_at": None}]
    path = write_geojson(tmp_path / "demands.geojson", rows, [None, None])
    assert import_layer(seeded_copy, "demands", path).inserted == 2
    with seeded_copy.connect() as conn:
        stored = conn.execute(text(
            "SELECT issued_at, due_at, answered_at FROM demands WHERE code LIKE '141129-DT%' "
            "ORDER BY code")).all()
    utc = dt.timezone.utc
    assert [tuple(r) for r in stored] == [
        (dt.datetime(2026, 1, 31, 16, 30, 0, 1, utc), dt.datetime(2026, 2, 1, 7, 30, 0, 500000, utc),
         dt.datetime(2026, 2, 1, 9, 0, 0, 123456, beijing)),  # no zone: Beijing time
        (dt.datetime(2026, 1, 31, 8, 0, tzinfo=beijing), dt.datetime(2026, 2, 7, 10, 0, tzinfo=utc),
         None)]


def test_blank_cells_take_the_column_default(seeded_copy, tmp_path):
    path = tmp_path / "sites.csv"
    path.write_text("code,county_code,tier,name,demonstration,lon,lat\n"
                    "141129-T0,141129,center,测试中心甲,,111.205,37.34\n"
                    "141129-T1,141129,center,测试中心乙,是,111.2051,37.3401\n", encoding="utf-8")
    assert import_layer(seeded_copy, "practice_sites", path).inserted == 2
    with seeded_copy.connect() as conn:
        member, compound_code = conn.execute(text(
            "SELECT code, compound_code FROM members WHERE compound_code IS NOT NULL "
            "ORDER BY code LIMIT 1")).one()
        assert conn.execute(text("SELECT code, demonstration FROM practice_sites "
                                 "WHERE code LIKE '141129-T_' ORDER BY code")).all() == [
            ("141129-T0", False), ("141129-T1", True)]
    # a check-in whose kind, flags, status, hours and reduced were left blank: the defaults
    path = tmp_path / "checkins.csv"
    path.write_text("member_code,compound_code,checked_in_at,kind,auto_checkout,client_crs,mocked,"
                    "status,hours,reduced\n"
                    f"{member},{compound_code},2026-03-01T09:00:00+08:00,,,,,,,\n", encoding="utf-8")
    assert import_layer(seeded_copy, "checkins", path).inserted == 1
    with seeded_copy.connect() as conn:
        row = conn.execute(text(
            "SELECT kind, auto_checkout, client_crs, mocked, status, hours, reduced FROM checkins "
            "WHERE member_code = :m AND checked_in_at = '2026-03-01T09:00:00+08:00'"),
            {"m": member}).one()
    assert tuple(row) == ("service", False, "wgs84", False, "valid", 0, False)
