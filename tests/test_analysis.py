"""Coverage, load, access, gaps, recommendations and scenarios on a county with known answers."""

from __future__ import annotations

import datetime as dt
import itertools

import numpy as np
import pytest
import shapely
from pyproj import Geod

import fixture_county as fx
from conftest import fingerprint
from gridgov.analysis import access, coverage, gaps, load, recommend, scenario
from gridgov.errors import InputError
from gridgov.io.importer import import_bundle

GEOD = Geod(ellps="WGS84")
DAY = dt.date(2026, 11, 28)


@pytest.fixture(scope="module")
def county(databases, migrated_template, tmp_path_factory):
    from gridgov.db import make_engine

    engine = make_engine(databases.create(migrated_template, "fixture"))
    import_bundle(engine, fx.write(tmp_path_factory.mktemp("fixture")))
    yield engine
    engine.dispose()


def geodesic_to_polygon(point, polygon):
    """Geodesic distance from a point to the nearest of densely sampled polygon boundary points."""
    ring = polygon.geoms[0].exterior if polygon.geom_type == "MultiPolygon" else polygon.exterior
    pts = [ring.interpolate(f, normalized=True) for f in np.linspace(0, 1, 4001)]
    return min(GEOD.inv(point.x, point.y, p.x, p.y)[2] for p in pts)


def test_coverage_status_members_and_distances(county):
    cov = coverage.coverage(county, DAY).set_index("code")
    assert cov.loc["C1", "status"] == "under_covered" and cov.loc["C1", "members"] == 10
    assert cov.loc["C1", "households_per_member"] == 30
    assert cov.loc["C2", "status"] == "covered" and cov.loc["C2", "far_assignment"]
    assert cov.loc["C3", "status"] == "uncovered" and cov.loc["C3", "orgs"] == 0
    # office distances against an independent geodesic computation, within 0.5 %
    expected_c1 = geodesic_to_polygon(fx.pt(0, 500), cov.loc["C1", "geometry"])
    expected_c2 = geodesic_to_polygon(fx.pt(3000, 0), cov.loc["C2", "geometry"])
    assert expected_c1 == pytest.approx(450, rel=0.005)
    assert cov.loc["C1", "max_office_m"] == pytest.approx(expected_c1, rel=0.005)
    assert cov.loc["C2", "max_office_m"] == pytest.approx(expected_c2, rel=0.005)


def test_coverage_respects_validity_dates(county):
    then = coverage.coverage(county, dt.date(2021, 6, 1)).set_index("code")
    assert then.loc["C3", "status"] != "uncovered"  # O3 covered C3 until 2022
    before_campaign = coverage.coverage(county, dt.date(2020, 1, 1))
    assert set(before_campaign["status"]) == {"uncovered"}


def test_rollups_and_kpis(county):
    cov = coverage.coverage(county, DAY)
    k = coverage.kpis(cov)
    assert (k["compounds"], k["covered"], k["under_covered"], k["uncovered"]) == (3, 1, 1, 1)
    assert k["coverage_rate"] == pytest.approx(2 / 3)
    assert k["members_sunk"] == 30 and k["households"] == 450
    assert k["worst_office_m"] == pytest.approx(1950, rel=0.005)
    town = coverage.rollup(cov, "township")
    assert town.loc[0, "compounds"] == 3 and town.loc[0, "uncovered"] == 1
    assert coverage.rollup(cov, "county").loc[0, "households"] == 450
    with pytest.raises(ValueError):
        coverage.rollup(cov, "planet")


def test_org_load_and_balance(county):
    ld = load.org_load(county, DAY).set_index("code")
    assert ld.loc["O3", "idle"] and not ld.loc["O1", "idle"]
    assert ld.loc["O1", "households_per_member"] == 30 and ld.loc["O2", "households_per_member"] == 5
    b = load.balance(ld.reset_index())
    assert b["idle"] == 1 and b["idle_codes"] == ["O3"]
    assert b["gini"] == pytest.approx(load.gini([30, 5]))
    assert load.gini([1, 1, 1]) == 0 and load.gini([0, 0, 3]) == pytest.approx(2 / 3)


def test_access_distances_and_life_circles(county):
    acc = access.access(county).set_index(["kind", "code"])
    c1, c2 = acc.loc[("compound", "C1")], acc.loc[("compound", "C2")]
    # straight distances from the compound's inner point, checked against the geodesic
    p1 = shapely.Point(*fx.pt(0, 0).coords[0])
    s1 = fx.pt(0, 400)
    assert c1["station_m"] == pytest.approx(GEOD.inv(p1.x, p1.y, s1.x, s1.y)[2], rel=0.005)
    assert c1["station_walk_m"] == pytest.approx(c1["station_m"] * 1.3)
    assert c1["life_circle"] == "15min"  # 400 m × 1.3 = 520 m
    assert c2["institute_m"] == pytest.approx(200, rel=0.005)
    assert c2["nearest_tier"] == "institute" and c2["life_circle"] == "5min"
    assert c2["station_m"] == pytest.approx(np.hypot(1000, 400), rel=0.005)
    assert acc.loc[("compound", "C3"), "life_circle"] == "beyond"  # 1,600 m × 1.3
    assert ("division", fx.VILLAGE) in acc.index


def test_detour_sensitivity(county):
    table = access.detour_sensitivity(county, (1.2, 1.3, 1.4))
    # C1: 400 m straight → 480 (10 min at 1.2), 520 and 560 (15 min at 1.3 and 1.4)
    assert table.loc["10min", ("compounds", 1.2)] == 1
    assert table.loc["15min", ("compounds", 1.3)] == 1 and table.loc["15min", ("compounds", 1.4)] == 1


def test_gaps_ranked_with_reasons(county):
    g = gaps.gaps(county, DAY)
    assert list(g["code"]) == ["C3", "C1", "C2"]
    top = g.iloc[0]
    assert top["rules"] == ["uncovered", "no_site_nearby"]
    assert top["score_uncovered"] == 105  # 100 + 50 households / 10
    assert top["priority"] == pytest.approx(top[["score_uncovered", "score_shortfall",
                                                 "score_distance", "score_access",
                                                 "score_fragmented", "score_overdue",
                                                 "score_cases"]].sum())
    assert "未包联" in top["reasons_zh"]
    c1 = g.set_index("code").loc["C1"]
    assert c1["shortfall"] == 2 and "需增加2名党员" in c1["reasons_zh"]


def test_gaps_xlsx(county, tmp_path):
    import pandas as pd

    path = gaps.to_xlsx(gaps.gaps(county, DAY), tmp_path / "gaps.xlsx")
    sheet = pd.read_excel(path, sheet_name="问题小区")
    assert list(sheet.columns[:3]) == ["排序", "小区编码", "小区名称"]
    assert sheet.loc[0, "小区名称"] == "丙小区"


def brute_force_transport(supply, demand, cost):
    """Max flow, then min cost, by enumerating every integer allocation (tiny cases only)."""
    n_s, n_d = len(supply), len(demand)
    best = None
    cells = list(itertools.product(range(n_s), range(n_d)))
    ranges = [range(min(supply[i], demand[j]) + 1) for i, j in cells]
    for flows in itertools.product(*ranges):
        f = np.array(flows).reshape(n_s, n_d)
        if (f.sum(axis=1) > supply).any() or (f.sum(axis=0) > demand).any():
            continue
        key = (-f.sum(), (f * cost).sum())
        if best is None or key < best:
            best = key
    return -best[0], best[1]


@pytest.mark.parametrize("seed", range(6))
def test_min_cost_flow_matches_brute_force(seed):
    rng = np.random.default_rng(seed)
    supply = rng.integers(0, 4, 3)
    demand = rng.integers(0, 4, 2)
    cost = rng.integers(1, 50, (3, 2)).astype(float)
    a_from, a_to = np.repeat(np.arange(3), 2), np.tile(np.arange(2), 3)
    flow = recommend.solve_transport(supply, demand, a_from, a_to, cost[a_from, a_to])
    total, total_cost = brute_force_transport(supply, demand, cost)
    assert flow.sum() == total
    assert (flow * cost[a_from, a_to]).sum() == total_cost


def test_recommendation_fills_gaps_from_idle_org(county):
    rec = recommend.recommend_assignments(county, DAY)
    # O3 (idle, 8 members) is the only donor: C3 needs 5, C1 lacks 2 → 7 members, nearest first
    assert set(zip(rec["org_code"], rec["compound_code"], rec["members"])) == {
        ("O3", "C3", 5), ("O3", "C1", 2)}
    assert rec.attrs["unmet_members"] == 0
    assert rec.attrs["kpis_before"]["uncovered"] == 1
    assert rec.attrs["kpis_after"]["uncovered"] == 0
    assert rec.attrs["kpis_after"]["under_covered"] == 0


def test_recommendation_after_a_scenario(county):
    before = fingerprint(county)
    ended = [{"op": "end_assignment", "org_code": "O2", "compound_code": "C2"}]
    rec = recommend.recommend_assignments(county, DAY, scenario_changes=ended)
    assert fingerprint(county) == before
    # O2 (20 members, idle once ended) takes C2 back; O3 serves C3 and C1's shortfall, nearer
    assert set(zip(rec["org_code"], rec["compound_code"], rec["members"])) == {
        ("O3", "C3", 5), ("O3", "C1", 2), ("O2", "C2", 5)}
    assert rec.attrs["kpis_before"]["uncovered"] == 2
    assert rec.attrs["kpis_after"]["uncovered"] == 0 and rec.attrs["kpis_after"]["under_covered"] == 0


def test_seeded_county_findings_and_refill(seeded_engine):
    """The bundle shows real problems, and ending assignments then recommending fills the holes."""
    cov = coverage.coverage(seeded_engine, DAY)
    k = coverage.kpis(cov)
    assert k["coverage_rate"] == 1.0 and k["under_covered"] > 0 and k["far_assignments"] > 0
    acc = access.access(seeded_engine)
    assert (acc["life_circle"] != "5min").any()
    g = gaps.gaps(seeded_engine, DAY)
    assert {"under_covered", "far_assignment", "no_site_nearby"} <= set(g["rules"].sum())
    far = cov[cov["far_assignment"]].sort_values("max_office_m", ascending=False).head(3)
    ended = [{"op": "end_assignment", "org_code": org, "compound_code": code}
             for code, orgs in zip(far["code"], far["org_codes"]) for org in orgs]
    rec = recommend.recommend_assignments(seeded_engine, DAY, scenario_changes=ended)
    assert rec.attrs["kpis_before"]["uncovered"] >= 1
    assert rec.attrs["kpis_after"]["uncovered"] == 0
    assert rec.attrs["kpis_after"]["under_covered"] < k["under_covered"]
    assert rec.attrs["unmet_members"] == 0


def test_pruned_flow_equals_full_flow_on_the_county(seeded_engine):
    full = recommend.recommend_assignments(seeded_engine, DAY, k=None, evaluate=False)
    pruned = recommend.recommend_assignments(seeded_engine, DAY, k=20, evaluate=False)
    assert pruned.attrs["total_distance_m"] == pytest.approx(full.attrs["total_distance_m"], rel=1e-6)


def test_scenario_rolls_back_and_reports(county):
    before = fingerprint(county)
    res = scenario.scenario(county, [
        {"op": "end_assignment", "org_code": "O2", "compound_code": "C2"},
        {"op": "move_site", "code": "S1", "lon": fx.pt(0, 1800).x, "lat": fx.pt(0, 1800).y},
    ], DAY)
    assert fingerprint(county) == before
    diff = res.kpi_diff
    assert diff.loc["uncovered", "before"] == 1 and diff.loc["uncovered", "after"] == 2
    changed = res.compounds.set_index("code")
    assert changed.loc["C2", "status_after"] == "uncovered" and changed.loc["C2", "changed"]
    # 10-minute target (500 m walk): C1 (520 m) and C3 are out of reach; moving the station
    # next to C3 brings C3 (50 households) in and leaves C1 (300) out
    assert res.access_before["households_out_of_reach"] == 350
    assert res.access_after["households_out_of_reach"] == 300


def test_scenario_errors_name_the_change(county):
    with pytest.raises(InputError, match=r"scenario, row 2: no party_orgs row with code 'O9'"):
        scenario.scenario(county, [
            {"op": "end_assignment", "org_code": "O2", "compound_code": "C2"},
            {"op": "add_assignment", "org_code": "O9", "compound_code": "C2"}], DAY)
    with pytest.raises(InputError, match="unknown operation 'paint'"):
        scenario.scenario(county, [{"op": "paint"}], DAY)


def test_saved_scenarios(county):
    changes = [{"op": "end_assignment", "org_code": "O1", "compound_code": "C1"}]
    scenario.save_scenario(county, "撤回一支部", changes, "test", DAY)
    loaded, as_of = scenario.load_scenario(county, "撤回一支部")
    assert loaded == changes and as_of == DAY
    assert "撤回一支部" in list(scenario.list_scenarios(county)["name"])


def test_site_recommendation_maximizes_households_reached(county):
    from gridgov.settings import AnalysisSettings

    # 10-minute target (500 m walk): only C2 is reached now; one new site best serves C1 (300)
    sites = recommend.recommend_sites(county, n_sites=1, spacing_m=100)
    assert len(sites) == 1 and sites.iloc[0]["compound_codes"] == ["C1"]
    assert (sites.attrs["households_covered_before"], sites.attrs["households_covered_after"]) == (
        100, 400)
    # 15-minute target: C1 and C2 are reached; the far compound C3 is what is left
    wide = recommend.recommend_sites(county, n_sites=1, spacing_m=100,
                                     settings=AnalysisSettings(access_target="15min"))
    assert wide.iloc[0]["compound_codes"] == ["C3"]
    assert wide.attrs["households_covered_after"] == 450


def test_network_walks_along_roads(databases, migrated_template, tmp_path):
    from gridgov.db import make_engine
    from gridgov.io.importer import import_layer

    engine = make_engine(databases.create(migrated_template, "roads"))
    try:
        import_bundle(engine, fx.write(tmp_path / "county"))
        import_layer(engine, "roads", fx.write_roads(tmp_path))
        acc = access.access(engine).set_index(["kind", "code"])
        c1, c2, c3 = (acc.loc[("compound", c)] for c in ("C1", "C2", "C3"))
        assert c1["station_method"] == "network" and c1["station_walk_m"] == pytest.approx(400, rel=0.005)
        assert c2["station_method"] == "network" and c2["station_walk_m"] == pytest.approx(2000, rel=0.005)
        assert c2["station_code"] == "S1"
        # the institute stands 200 m off the road end at C2: joined by its snap distance
        assert c2["institute_walk_m"] == pytest.approx(200, rel=0.005)
        # C3 is 1,600 m from any road: straight line × detour factor instead
        assert c3["station_method"] == "detour"
        assert c3["station_walk_m"] == pytest.approx(c3["station_m"] * 1.3)
        straight = access.access(engine, network=False).set_index(["kind", "code"])
        assert (straight["station_method"] == "detour").all()
    finally:
        engine.dispose()


@pytest.mark.parametrize("k", [1, 2, None])
def test_recommendation_with_few_candidates(county, k):
    """k=1 once broke the arc indexing (found by schemathesis)."""
    rec = recommend.recommend_assignments(county, DAY, k=k, evaluate=False)
    assert rec["members"].sum() + rec.attrs["unmet_members"] == 7
