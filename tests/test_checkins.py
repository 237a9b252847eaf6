"""Check-ins: the fence, the duration, every spoofing flag (a GCJ-02 position inside only after
conversion), decisions, the hours cap, month partitions, and coverage by visits (inactive)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import text

from gridgov.activity import checkins
from gridgov.analysis import coverage
from gridgov.calendar import SHANGHAI
from gridgov.errors import InputError, StateConflict
from gridgov.io.crs import wgs84_to_gcj02

# November 2025: before the bundle's year of check-ins, so only these count
NOV = dt.datetime(2025, 11, 3, 9, 0, tzinfo=SHANGHAI)


@pytest.fixture
def member(seeded_copy):
    """A member, the compound their organization is assigned to, and points in and out of it."""
    with seeded_copy.connect() as conn:
        row = conn.execute(text(
            "SELECT m.code AS member, a.compound_code AS compound, ST_X(p) AS lon, ST_Y(p) AS lat,"
            " ST_X(o) AS out_lon, ST_Y(o) AS out_lat FROM members m JOIN assignments a ON "
            "a.org_code = m.org_code AND a.valid_to IS NULL JOIN compounds k ON k.code = "
            "a.compound_code, LATERAL (SELECT ST_PointOnSurface(k.geom) AS p, ST_Project("
            "ST_PointOnSurface(k.geom)::geography, 600, 0)::geometry AS o) pts "
            "ORDER BY m.code, a.compound_code LIMIT 1")).mappings().one()
    return dict(row)


def _in(engine, member, at, **kw):
    args = {"lon": member["lon"], "lat": member["lat"], "accuracy_m": 15, "at": at, **kw}
    with engine.begin() as conn:
        return checkins.check_in(conn, member["member"], member["compound"], **args)


def _out(engine, c, minutes):
    with engine.begin() as conn:
        return checkins.check_out(conn, c["id"], c["checked_in_at"] + dt.timedelta(
            minutes=minutes))


def test_fence_duration_and_every_flag(seeded_copy, member):
    ok = _out(seeded_copy, _in(seeded_copy, member, NOV), 45)
    assert (ok["status"], ok["flags"], ok["hours"]) == ("valid", [], 0.75)
    assert ok["lon"] == pytest.approx(member["lon"])
    short = _out(seeded_copy, _in(seeded_copy, member, NOV + dt.timedelta(hours=3)), 3)
    assert (short["status"], short["flags"]) == ("flagged", ["short"])
    vague = _in(seeded_copy, member, NOV + dt.timedelta(hours=5), accuracy_m=350)
    assert vague["flags"] == ["accuracy"] and vague["status"] == "flagged"
    fake = _in(seeded_copy, member, NOV + dt.timedelta(hours=7), mocked=True)
    assert fake["flags"] == ["mocked"]
    outside = _in(seeded_copy, member, NOV + dt.timedelta(hours=9), lon=member["out_lon"],
                  lat=member["out_lat"])
    assert "fence" in outside["flags"] and outside["distance_m"] > 100
    # 600 m in one minute after the last one: 36 km/h is fine; 600 m in 10 s is not
    fast = _in(seeded_copy, member, NOV + dt.timedelta(hours=9, seconds=10))
    assert "speed" in fast["flags"] and fast["speed_kmh"] > 120


def test_a_wechat_position_is_inside_only_after_conversion(seeded_copy, member):
    glon, glat = wgs84_to_gcj02(member["lon"], member["lat"])  # what WeChat reports
    as_if_wgs84 = _in(seeded_copy, member, NOV, lon=float(glon), lat=float(glat))
    assert "fence" in as_if_wgs84["flags"]  # ~560 m east: outside
    converted = _in(seeded_copy, member, NOV + dt.timedelta(days=1), lon=float(glon),
                    lat=float(glat), crs="gcj02")
    assert converted["flags"] == [] and converted["client_crs"] == "gcj02"
    assert converted["lon"] == pytest.approx(member["lon"], abs=1e-6)


def test_auto_checkout_decisions_and_the_manual_hours_cap(seeded_copy, member):
    forgot = _in(seeded_copy, member, NOV + dt.timedelta(days=2))
    with seeded_copy.begin() as conn:
        assert checkins.auto_checkout(conn, NOV.date() + dt.timedelta(days=2)) == 1
        closed = checkins.decide(conn, forgot["id"], True, "planner", hours=2, note="电话核实")
    assert (closed["status"], closed["hours"], closed["auto_checkout"]) == ("approved", 2, True)
    with seeded_copy.begin() as conn, pytest.raises(StateConflict):
        checkins.decide(conn, forgot["id"], False, "planner")
    with seeded_copy.begin() as conn:
        checkins.add_hours(conn, member["member"], NOV.date(), 6, "入户走访登记", "planner")
    with seeded_copy.begin() as conn, pytest.raises(InputError, match="cap is 8 h"):
        checkins.add_hours(conn, member["member"], NOV.date(), 3, "补录", "planner")
    with seeded_copy.begin() as conn, pytest.raises(InputError, match="reason"):
        checkins.add_hours(conn, member["member"], NOV.date(), 1, " ", "planner")


def test_month_partitions_and_pruning(seeded_copy, member):
    _in(seeded_copy, member, NOV)
    _in(seeded_copy, member, NOV - dt.timedelta(days=40))  # September
    with seeded_copy.connect() as conn:
        parts = {r[0] for r in conn.execute(text(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = 'checkins__141129'::regclass"))}
        assert {"checkins__141129__2025_11", "checkins__141129__2025_09",
                "checkins__141129__default"} <= parts
        plan = "\n".join(r[0] for r in conn.execute(text(
            "EXPLAIN SELECT count(*) FROM checkins WHERE county_code = '141129' AND "
            "checked_in_at >= '2025-11-01 00:00+08' AND checked_in_at < '2025-12-01 00:00+08'")))
        assert "checkins__141129__2025_11" in plan and "2025_09" not in plan


def test_coverage_by_visits_marks_unvisited_compounds_inactive(seeded_copy, member):
    paper = coverage.coverage(seeded_copy, dt.date(2026, 11, 28))
    assert (paper.status != "inactive").all()
    for day in (3, 10):  # two days: covered in fact
        _out(seeded_copy, _in(seeded_copy, member, NOV + dt.timedelta(days=day)), 60)
    cov = coverage.coverage(seeded_copy, basis="visits", period="2025-11").set_index("code")
    visited = cov.loc[member["compound"]]
    assert visited["visit_days"] == 2 and visited["status"] != "inactive"
    assert visited["verified_hours"] == pytest.approx(2.0)
    others = cov.drop(index=member["compound"])
    assert (others[others.paper_status != "uncovered"].status == "inactive").all()
    k = coverage.kpis(cov.reset_index())
    assert k["paper_coverage_rate"] == 1.0 and k["verified_coverage_rate"] == pytest.approx(
        1 / len(cov))
    assert k["coverage_gap"] == pytest.approx(1 - 1 / len(cov))
    town = coverage.rollup(cov.reset_index(), "township").iloc[0]
    assert town["inactive"] == len(cov) - 1 and town["visits"] == 2


def test_inactive_compounds_lead_the_gaps_and_draw_recommendations(seeded_copy, member):
    from gridgov.analysis import gaps, recommend

    for day in (3, 10):
        _out(seeded_copy, _in(seeded_copy, member, NOV + dt.timedelta(days=day)), 60)
    g = gaps.gaps(seeded_copy, basis="visits", period="2025-11")
    top = g.iloc[0]
    assert "inactive" in top["rules"] and top["score_inactive"] > 80
    assert "有名无实：2025年11月党员走访仅0天" in top["reasons_zh"]
    thin = g[g.rules.map(lambda r: "under_covered" in r and "inactive" not in r)]
    assert thin.empty or thin.priority.max() < g[g.score_inactive > 0].priority.min()
    assert member["compound"] not in set(g[g.score_inactive > 0].code)
    rec = recommend.recommend_assignments(seeded_copy, dt.date(2025, 11, 28), evaluate=False,
                                          basis="visits", period="2025-11")
    # only the one member who serves can be given, by its own organization
    assert rec["members"].sum() <= 1
