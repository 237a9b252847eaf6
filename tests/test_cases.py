"""Cases: routing for every branch, every lifecycle move and every refusal, deadlines in working
time, duplicates, KPIs, partition pruning, and reporters' personal data."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import text

import fixture_county as fx
from gridgov.auth import Forbidden, Principal
from gridgov.calendar import SHANGHAI
from gridgov.cases import intake, kpis, lifecycle, routing
from gridgov.errors import Conflict, InputError, StateConflict
from gridgov.io.importer import import_bundle, import_layer

# as in the bundle (geodata/zhongyang/case_categories.csv), for databases made without it
CATEGORIES = """code,kind,class_name,name,time_limit,limit_type,route_org_code
0101,event,市容环境,暴露垃圾（乱扔垃圾）,1,working_days,
0103,event,市容环境,小区环境脏乱,2,working_days,
0402,event,街面秩序,乱停乱放（机动车）,2,working_hours,141129-P094
5101,component,公用设施,路灯损坏,3,working_days,{override}
"""
CENTER = Principal("center", "dispatcher")
RESIDENT = Principal("anonymous", "viewer")
ADMIN = Principal("boss", "admin")
MONDAY = dt.datetime(2026, 11, 23, 9, 0, tzinfo=SHANGHAI)


def ensure_categories(engine, tmp_path, override="141129-P051"):
    with engine.connect() as conn:
        have = conn.execute(text("SELECT count(*) FROM case_categories WHERE code IN "
                                 "('0101', '0103', '0402', '5101')")).scalar()
    if have < 4:
        path = tmp_path / "case_categories.csv"
        path.write_text(CATEGORIES.format(override=override), encoding="utf-8")
        import_layer(engine, "case_categories", path)


@pytest.fixture
def zy(seeded_copy, tmp_path):
    ensure_categories(seeded_copy, tmp_path)
    return seeded_copy


@pytest.fixture
def places(zy):
    """Points in Zhongyang for each routing branch."""
    with zy.connect() as conn:
        out = {}
        out["compound"], out["compound_code"] = conn.execute(text(
            "SELECT ARRAY[ST_X(p), ST_Y(p)], code FROM (SELECT code, ST_PointOnSurface(geom) p "
            "FROM compounds k WHERE EXISTS (SELECT 1 FROM assignments a WHERE a.compound_code = "
            "k.code AND a.valid_to IS NULL) ORDER BY code LIMIT 1) s")).one()
        # inside a grid cell, well away from every compound
        out["grid_cell"], out["cell_community"] = conn.execute(text(
            "SELECT ARRAY[ST_X(p), ST_Y(p)], community_code FROM (SELECT g.community_code, "
            "ST_PointOnSurface(ST_Difference(g.geom, ST_Buffer((SELECT ST_Union(geom) FROM "
            "compounds)::geography, 40)::geometry)) p FROM grid_cells g ORDER BY g.code "
            "LIMIT 1) s")).one()
        out["village"], out["village_code"] = conn.execute(text(
            "SELECT ARRAY[ST_X(p), ST_Y(p)], code FROM (SELECT code, ST_PointOnSurface(geom) p "
            "FROM divisions WHERE kind = 'village' AND geom IS NOT NULL ORDER BY code LIMIT 1) "
            "s")).one()
        # on a compound's outline: within 20 m of a boundary
        out["boundary"] = conn.execute(text(
            "SELECT ARRAY[ST_X(p), ST_Y(p)] FROM (SELECT ST_LineInterpolatePoint(ST_ExteriorRing("
            "ST_GeometryN(geom, 1)), 0.3) p FROM compounds ORDER BY code LIMIT 1) s")).scalar()
    return out


def _report(zy, lonlat, category="0101", **kw):
    with zy.begin() as conn:
        return intake.file_report(conn, RESIDENT, category_code=category, lon=lonlat[0],
                                  lat=lonlat[1], description="测试问题", **kw)


# --- routing ---------------------------------------------------------------------------------

def test_routing_compound_grid_cell_community_override_and_boundary(zy, places):
    case = _report(zy, places["compound"])
    assert (case["routing_rule"], case["unit_kind"]) == ("compound", "org")
    assert case["compound_code"] == places["compound_code"]
    assert case["routing_note"].startswith("位于") and "（牵头）" in case["routing_note"]
    with zy.connect() as conn:
        active = {r[0] for r in conn.execute(text(
            "SELECT org_code FROM assignments WHERE compound_code = :c AND valid_to IS NULL"),
            {"c": places["compound_code"]})}
    assert {case["unit_code"], *case["co_units"]} == active

    cell = _report(zy, places["grid_cell"])
    assert (cell["routing_rule"], cell["unit_kind"], cell["unit_code"]) == (
        "grid_cell", "division", places["cell_community"])
    assert "网格" in cell["routing_note"]

    village = _report(zy, places["village"])
    assert (village["routing_rule"], village["unit_code"]) == ("division", places["village_code"])
    assert "属地兜底" in village["routing_note"]

    light = _report(zy, places["compound"], category="5101")
    assert (light["routing_rule"], light["unit_code"]) == ("override", "141129-P051")
    assert "类别指定" in light["routing_note"]

    edge = _report(zy, places["boundary"])
    assert edge["near_boundary"] and "请派遣员核实" in edge["routing_note"]
    assert not case["near_boundary"]


def test_routing_township_expired_assignment_and_nowhere(databases, migrated_template,
                                                         tmp_path):
    from gridgov.db import make_engine

    engine = make_engine(databases.create(migrated_template, "cases_fixture"))
    try:
        import_bundle(engine, fx.write(tmp_path / "fx"))
        with engine.connect() as conn:
            areas = routing.load_areas(conn, fx.COUNTY)
        points = [fx.pt(0, 0), fx.pt(0, 2000), fx.pt(-4000, -4000), fx.pt(1000, 0)]
        routed = routing.route(areas, [p.x for p in points], [p.y for p in points],
                               [dt.date(2026, 11, 28)] * 4)
        assert routed.rule.tolist() == ["compound", "division", "township", "compound"]
        assert routed.unit_code.tolist() == ["O1", fx.COMMUNITY, fx.TOWNSHIP, "O2"]
        # C3's only assignment ended in 2022: in 2021 it still routes to O3
        then = routing.route(areas, [points[1].x], [points[1].y], [dt.date(2021, 6, 1)])
        assert then.unit_code.tolist() == ["O3"]
        nowhere = routing.route(areas, [100.0], [30.0], [dt.date(2026, 11, 28)])
        assert nowhere.rule.tolist() == ["manual"] and nowhere.unit_code.isna().all()
    finally:
        engine.dispose()


def test_reports_in_gcj02_are_converted_and_outside_refused(zy, places):
    from gridgov.io.crs import wgs84_to_gcj02

    gx, gy = wgs84_to_gcj02(*places["compound"])
    case = _report(zy, (float(gx), float(gy)), crs="gcj02")
    assert case["compound_code"] == places["compound_code"]
    assert case["lon"] == pytest.approx(places["compound"][0], abs=1e-7)
    with pytest.raises(InputError, match="no county"):
        _report(zy, (116.4, 39.9))


# --- lifecycle --------------------------------------------------------------------------------

def _move(zy, case, action, who, **kw):
    with zy.begin() as conn:
        return lifecycle.move(conn, case["code"], action, who, **kw)


def test_full_lifecycle_with_return_rework_suspend_and_reopen(zy, places):
    case = _report(zy, places["compound"], reporter_name="王小明", reporter_phone="13912345678")
    unit = Principal("unit", "handler", case["unit_code"])
    other = Principal("other", "handler", "141129-P001" if case["unit_code"] != "141129-P001"
                      else "141129-P002")
    case = _move(zy, case, "file", CENTER)
    case = _move(zy, case, "dispatch", CENTER)
    assert case["handle_due"] is not None and case["warn_at"] < case["handle_due"]
    case = _move(zy, case, "return", unit, note="不属于本单位")
    assert case["status"] == "returned" and case["return_count"] == 1
    case = _move(zy, case, "dispatch", CENTER, unit=("org", unit.org_code))
    assert case["routing_rule"] == "manual"
    with pytest.raises(Forbidden):
        _move(zy, case, "sign", other)  # the wrong unit
    with pytest.raises(Forbidden):
        _move(zy, case, "sign", CENTER)  # not the center's move for an organization
    case = _move(zy, case, "sign", unit)
    case = _move(zy, case, "suspend", CENTER, note="等待雨停")
    due_before = case["handle_due"]
    later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=3)
    case = _move(zy, case, "resume", CENTER, now=later)
    assert case["status"] == "signed" and case["handle_due"] > due_before  # the clock stopped
    case = _move(zy, case, "handle", unit, note="已清运")
    case = _move(zy, case, "rework", CENTER, note="仍有残留")
    assert (case["status"], case["rework_count"]) == ("signed", 1)
    case = _move(zy, case, "handle", unit)
    with pytest.raises(StateConflict):
        _move(zy, case, "sign", unit)  # handled: nothing to sign
    case = _move(zy, case, "approve", CENTER, satisfaction=5)
    assert case["status"] == "closed" and case["satisfaction"] == 5
    case = _move(zy, case, "reopen", CENTER, note="群众反映未解决")
    assert (case["status"], case["reopen_count"]) == ("dispatched", 1)
    with zy.connect() as conn:
        history = lifecycle.events(conn, case["code"], case["county_code"])
    assert [e["action"] for e in history] == [
        "report", "file", "dispatch", "return", "dispatch", "sign", "suspend", "resume",
        "handle", "rework", "handle", "approve", "reopen"]
    assert all(e["actor"] for e in history) and history[3]["note"] == "不属于本单位"
    # the log is history: it cannot be changed
    with pytest.raises(Exception, match="append-only"), zy.begin() as conn:
        conn.execute(text("UPDATE case_events SET note = 'x' WHERE case_code = :c"),
                     {"c": case["code"]})


def test_duplicates_are_the_open_cases_of_the_category_within_50_m(zy, places):
    """East and north, just inside and just outside 50 m on the sphere (the index's box in
    degrees must not cut a true duplicate off), another category, and an old one."""
    import math

    lon, lat = places["village"]
    metre_lon = 1 / (111_320 * math.cos(math.radians(lat)))
    first = _report(zy, (lon, lat), category="0402")
    for dx, dy, offered in ((46, 0, True), (0, 46, True), (33, 33, True), (54, 0, False),
                            (0, 54, False)):
        with zy.begin() as conn:
            near = intake.duplicates(conn, "141129", "0402", lon + dx * metre_lon,
                                     lat + dy / 110_950, dt.datetime.now(dt.timezone.utc))
        assert (first["code"] in [d["code"] for d in near]) == offered, (dx, dy)
    with zy.begin() as conn:
        assert not intake.duplicates(conn, "141129", "0101", lon, lat,
                                     dt.datetime.now(dt.timezone.utc))
        assert not intake.duplicates(conn, "141129", "0402", lon, lat,
                                     dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=8))


def test_refusals_reject_merge_reopen_window_and_versions(zy, places):
    first = _report(zy, places["grid_cell"])
    again = _report(zy, places["grid_cell"])
    assert [d["code"] for d in again["duplicates_offered"]] == [first["code"]]
    merged = _move(zy, again, "merge", CENTER, into=first["code"])
    assert (merged["status"], merged["duplicate_of"]) == ("duplicate", first["code"])
    with pytest.raises(Forbidden):
        _move(zy, first, "file", RESIDENT)
    with pytest.raises(InputError):
        _move(zy, first, "merge", CENTER)  # into what?
    rejected = _move(zy, _report(zy, places["village"]), "reject", CENTER, note="非本县")
    assert rejected["status"] == "rejected"
    with pytest.raises(StateConflict, match="possible now: nothing"):
        _move(zy, rejected, "file", CENTER)
    with pytest.raises(Conflict):
        _move(zy, first, "file", CENTER, expected_version=first["version"] + 5)
    case = first
    for action in ("file", "dispatch"):
        case = _move(zy, case, action, CENTER)
    case = _move(zy, case, "sign", ADMIN)  # an admin may act for anyone
    case = _move(zy, case, "handle", ADMIN)
    case = _move(zy, case, "approve", CENTER)
    too_late = case["closed_at"] + dt.timedelta(days=8)
    with pytest.raises(StateConflict, match="cannot be reopened"):
        _move(zy, case, "reopen", CENTER, now=too_late)


def test_whistle_signs_within_30_minutes_and_deadlines_in_working_time(zy, places):
    with zy.begin() as conn:
        case = intake.file_report(conn, CENTER, category_code="0402", lon=places["compound"][0],
                                  lat=places["compound"][1], description="吹哨：占道严重",
                                  channel="whistle", reported_at=MONDAY)
    # intake Monday 09:00: dispatch within half a working hour
    assert case["dispatch_due"].astimezone(SHANGHAI).isoformat() == "2026-11-23T09:30:00+08:00"
    case = _move(zy, case, "file", CENTER)
    # dispatched on Friday 10 October 2025 at 17:30 (before the 调休 Saturday):
    friday = dt.datetime(2025, 10, 10, 17, 30, tzinfo=SHANGHAI)
    case = _move(zy, case, "dispatch", CENTER, now=friday)
    assert case["sign_due"].astimezone(SHANGHAI) == friday + dt.timedelta(minutes=30)
    # 2 working hours: 17:30-18:00 Friday, then Saturday 11 October (调休) 08:30-10:00
    assert case["handle_due"].astimezone(SHANGHAI).isoformat() == "2025-10-11T10:00:00+08:00"


def test_dispatch_across_the_national_day_holiday(zy, places):
    case = _report(zy, places["compound"])
    case = _move(zy, case, "file", CENTER)
    start = dt.datetime(2025, 9, 30, 16, 0, tzinfo=SHANGHAI)  # the Tuesday before 1-8 October
    case = _move(zy, case, "dispatch", CENTER, now=start)
    # one working day: the holiday does not count; Thursday 9 October at 16:00
    assert case["handle_due"].astimezone(SHANGHAI).isoformat() == "2025-10-09T16:00:00+08:00"


# --- KPIs and partitions -----------------------------------------------------------------------

def test_kpis_rates_and_the_ranking_rule(zy, places):
    unit = None
    for i in range(6):
        case = _report(zy, places["compound"])
        unit = Principal("u", "handler", case["unit_code"])
        # June 2025: before the bundle's year of cases, so only these six are due
        start = dt.datetime(2025, 6, 2, 9, 0, tzinfo=SHANGHAI) + dt.timedelta(days=i)
        case = _move(zy, case, "file", CENTER, now=start)
        case = _move(zy, case, "dispatch", CENTER, now=start)
        case = _move(zy, case, "sign", unit, now=start)
        # four on time, two a week late
        done = start + (dt.timedelta(hours=1) if i < 4 else dt.timedelta(days=7))
        case = _move(zy, case, "handle", unit, now=done)
        _move(zy, case, "approve", CENTER, now=done + dt.timedelta(hours=1))
    k = kpis.case_kpis(zy, level="unit", period="month", start=dt.date(2025, 6, 1),
                       end=dt.date(2025, 7, 1), counties=["141129"])
    row = k[k.key == unit.org_code].iloc[0]
    assert (row.due, row.closed, row.closed_on_time) == (6, 6, 4)
    assert row.on_time_rate == pytest.approx(4 / 6) and row.close_rate == 1.0
    assert row.ranked and row["rank"] == 1
    assert row["name"]
    few = kpis.case_kpis(zy, level="unit", period="week", start=dt.date(2025, 6, 1),
                         end=dt.date(2025, 7, 1), counties=["141129"])
    assert (~few.ranked).any() and few[~few.ranked]["rank"].isna().all()


def test_county_queries_read_one_partition(zy, databases, tmp_path):
    import_bundle(zy, fx.write(tmp_path / "second"))  # a second county: a second partition
    with zy.connect() as conn:
        parts = {r[0] for r in conn.execute(text(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = 'cases'::regclass"))}
        assert parts == {"cases__141129", "cases__990001"}
        plan = "\n".join(r[0] for r in conn.exec_driver_sql(
            "EXPLAIN " + kpis.query(),
            {"counties": ["141129"], "starts": [MONDAY], "ends": [MONDAY + dt.timedelta(days=30)],
             "only": ["141129"]}))
        assert "cases__141129" in plan and "cases__990001" not in plan
        plan = "\n".join(r[0] for r in conn.execute(text(
            "EXPLAIN SELECT * FROM case_events WHERE county_code = '990001' AND case_code = 'x'")))
        assert "case_events__990001" in plan and "case_events__141129" not in plan


def test_overdue_and_frequent_cases_rank_compounds_in_gaps(zy, places):
    from gridgov.analysis import gaps

    long_ago = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=20)
    case = _report(zy, places["compound"])
    case = _move(zy, case, "file", CENTER, now=long_ago)
    _move(zy, case, "dispatch", CENTER, now=long_ago)  # one working day: long past
    g = gaps.gaps(zy).set_index("code")
    row = g.loc[places["compound_code"]]
    assert "overdue_cases" in row["rules"] and row["score_overdue"] == 3.0
    assert "有1件工单逾期未办结" in row["reasons_zh"]
    assert row["cases_per_100"] > 0


def test_bulk_import_of_12345_orders_with_chinese_headers(zy, places, tmp_path):
    import pandas as pd

    from gridgov.io.crs import wgs84_to_bd09, wgs84_to_gcj02

    rows = []
    for i, (where, category) in enumerate([("compound", "0101"), ("grid_cell", "0103"),
                                           ("village", "0101"), ("compound", "5101")]):
        lon, lat = places[where]
        bx, by = wgs84_to_bd09(lon, lat)
        rows.append({"工单编号": f"12345-2026-{i:04d}", "类别编码": category,
                     "诉求内容": "市民来电反映问题", "来电时间": f"2026-11-{10 + i:02d} 09:30",
                     "经度": float(bx), "纬度": float(by), "联系电话": "13800138000",
                     "来电人": "李先生", "渠道": "hotline"})
    path = tmp_path / "12345工单.xlsx"
    pd.DataFrame(rows).to_excel(path, index=False)
    from gridgov.io.importer import import_layer

    result = import_layer(zy, "cases", path, crs="bd09")
    assert result.inserted == 4
    with zy.connect() as conn:
        got = {r.code: r for r in conn.execute(text(
            "SELECT code, routing_rule, unit_code, compound_code, handle_due, dispatch_due, "
            "reported_at FROM cases WHERE code LIKE '12345-%' ORDER BY code"))}
        events = conn.execute(text("SELECT count(*) FROM case_events WHERE action = 'import' "
                                   "AND case_code LIKE '12345-%'")).scalar()
    assert [got[f"12345-2026-{i:04d}"].routing_rule for i in range(4)] == [
        "compound", "grid_cell", "division", "override"]
    assert got["12345-2026-0000"].compound_code == places["compound_code"]  # BD-09 converted
    assert all(r.handle_due and r.dispatch_due for r in got.values()) and events == 4
    assert got["12345-2026-0000"].reported_at.astimezone(SHANGHAI).hour == 9  # Beijing time

    # one bad row refuses the whole file, naming row and field
    bad = pd.DataFrame([{**rows[0], "工单编号": "12345-2026-9000"},
                        {**rows[1], "工单编号": "12345-2026-9001", "类别编码": "9999"}])
    bad.to_excel(path, index=False)
    with pytest.raises(InputError, match=r"row 3, field 'category_code'"):
        import_layer(zy, "cases", path, crs="bd09")
    with zy.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM cases WHERE code LIKE '12345-2026-9%'")
                            ).scalar() == 0


def test_kpis_of_past_periods_are_kept_until_a_case_of_theirs_changes(zy):
    """Past months are read from case_kpi_periods (a planted figure shows through once the
    process forgets what it read, or the period's generation moves on), a write to one of
    their cases marks its day and the next call recomputes that month, and the figures are
    those PostgreSQL's own aggregates give on the spot."""
    march = dict(level="township", period="month", start=dt.date(2026, 3, 1),
                 end=dt.date(2026, 4, 1), counties=["141129"])
    first = kpis.case_kpis(zy, **march).set_index("key")
    town = first["due"].idxmax()
    with zy.connect() as conn:
        sql = conn.execute(text(
            "SELECT township_code AS key, count(*) AS due, "
            + ", ".join(f"count(*) FILTER (WHERE {expr}) AS {name}"
                        for name, expr in kpis.FLAGS.items())
            + ", " + ", ".join(
                f"percentile_cont({q}) WITHIN GROUP (ORDER BY extract(epoch FROM c.closed_at "
                f"- c.reported_at) / 3600) FILTER (WHERE c.closed_at IS NOT NULL) AS {name}"
                for q, name in ((0.5, "median_hours"), (0.9, "p90_hours")))
            + " FROM cases c WHERE county_code = '141129' AND status NOT IN ('rejected', "
            "'duplicate') AND handle_due >= '2026-03-01 00:00+08' AND handle_due < "
            "'2026-04-01 00:00+08' GROUP BY township_code")).mappings().all()
    sql = pd.DataFrame(sql).set_index("key")
    assert sorted(sql.index) == sorted(first.index) and len(sql) > 1
    for column in kpis.COUNTS:
        assert (first[column] == sql.loc[first.index, column]).all(), column
    for column in ("median_hours", "p90_hours"):
        assert np.allclose(first[column].astype(float),
                           sql.loc[first.index, column].astype(float), equal_nan=True), column
    planted = ("period_kind = 'month' AND period = '2026-03-01' AND county_code = '141129'")
    with zy.begin() as conn:
        conn.execute(text(f"UPDATE case_kpi_periods SET due[array_position(keys, :t)] = 99999 "
                          f"WHERE {planted} AND level = 'township'"), {"t": town})
    # this process keeps what it read while the period's generation stands
    assert kpis.case_kpis(zy, **march).set_index("key").loc[town, "due"] == first.loc[town, "due"]
    kpis.forget()
    assert kpis.case_kpis(zy, **march).set_index("key").loc[town, "due"] == 99999
    with zy.begin() as conn:
        conn.execute(text(f"UPDATE case_kpi_periods SET due[array_position(keys, :t)] = 88888 "
                          f"WHERE {planted} AND level = 'township'"), {"t": town})
        conn.execute(text(f"UPDATE case_kpi_state SET generation = DEFAULT WHERE {planted}"))
    assert kpis.case_kpis(zy, **march).set_index("key").loc[town, "due"] == 88888
    for _ in range(2):  # periods kept with no case due: nothing, from the table, then memory
        assert kpis.case_kpis(zy, level="unit", end=dt.date(2000, 1, 1), counties=["000000"]
                              ).empty
    with zy.begin() as conn:  # one case of that township due in March is rejected after all
        conn.execute(text(
            "UPDATE cases SET status = 'rejected' WHERE code = (SELECT code FROM cases WHERE "
            "township_code = :t AND status <> 'rejected' AND handle_due >= '2026-03-01 00:00+08' "
            "AND handle_due < '2026-04-01 00:00+08' ORDER BY code LIMIT 1)"), {"t": town})
    again = kpis.case_kpis(zy, **march).set_index("key")
    assert again.loc[town, "due"] == first.loc[town, "due"] - 1
    with zy.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM changed_days WHERE table_name = 'cases'")
                            ).scalar() == 0
