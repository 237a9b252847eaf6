"""Bulk intake (gridgov.cases.bulk): a few thousand orders over Zhongyang routed and stored as
intake routes one report at a time, each with its import event and deadlines, all or nothing."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import shapely
from sqlalchemy import text

from conftest import fingerprint
from gridgov.auth import Principal
from gridgov.cases import intake
from gridgov.cases.bulk import check_references, route_and_store
from gridgov.db.tables import table
from gridgov.errors import InputError
from test_cases import ensure_categories

N = 3000
ROUTED = ("county_code", "routing_rule", "unit_kind", "unit_code", "co_units", "compound_code",
          "grid_cell_code", "division_code", "township_code", "near_boundary", "routing_note",
          "dispatch_due")


@pytest.fixture
def zy(seeded_copy, tmp_path):
    ensure_categories(seeded_copy, tmp_path)
    return seeded_copy


def _orders(engine, n=N, seed=7) -> pd.DataFrame:
    """Half in compounds, half anywhere in the county; a year of times, three categories (one
    routed to a department whatever the place)."""
    rng = np.random.default_rng(seed)
    with engine.connect() as conn:
        county = shapely.from_wkb(bytes(conn.execute(text(
            "SELECT ST_AsBinary(geom) FROM counties WHERE code = '141129'")).scalar()))
        compounds = shapely.from_wkb([bytes(r) for r in conn.execute(text(
            "SELECT ST_AsBinary(geom) FROM compounds WHERE county_code = '141129'")).scalars()])
    where = np.r_[shapely.bounds(compounds), [shapely.bounds(county)]]
    polygons = np.r_[compounds, [county]]
    which = np.where(rng.random(n) < 0.5, rng.integers(0, len(compounds), n), len(compounds))
    x, y, todo = np.empty(n), np.empty(n), np.arange(n)
    while len(todo):  # a uniform point in each one's polygon: draw in the box until inside
        b = where[which[todo]]
        x[todo] = b[:, 0] + rng.random(len(todo)) * (b[:, 2] - b[:, 0])
        y[todo] = b[:, 1] + rng.random(len(todo)) * (b[:, 3] - b[:, 1])
        todo = todo[~shapely.contains_xy(polygons[which[todo]], x[todo], y[todo])]
    reported = (pd.Timestamp("2025-12-01", tz="Asia/Shanghai")
                + pd.to_timedelta(rng.integers(0, 360 * 86400, n), unit="s"))
    return pd.DataFrame({
        "code": [f"12345-T-{i:05d}" for i in range(n)],
        "category_code": rng.choice(["0101", "0402", "5101"], n, p=[0.6, 0.3, 0.1]),
        "lon": x, "lat": y, "reported_at": reported, "channel": "hotline",
        "description": "市民来电反映问题",
        "status": "dispatched",
        "dispatched_at": reported + pd.Timedelta(hours=1),
    })


def test_route_and_store_routes_as_intake_does_with_events_and_deadlines(zy):
    orders = _orders(zy)
    result = route_and_store(zy, orders)
    assert (result["orders"], result["cases"], result["events"]) == (N, N, N)
    assert {"compound", "override", "division"} <= set(result["rules"])
    assert result["references_in_bulk"]  # scripts/lib.sh grants the role replica mode
    assert set(result["seconds"]) >= {"locate", "areas", "route", "deadlines", "encode",
                                      "copy cases", "check references", "copy events"}
    assert _broken_references(zy) == {}
    with zy.connect() as conn:  # the statement triggers replica mode skipped were fired
        assert conn.execute(text("SELECT count(*) FROM data_versions WHERE table_name IN "
                                 "('cases', 'case_events') AND changed_at = ("
                                 "SELECT max(at) FROM case_events)")).scalar() == 2
    with zy.connect() as conn:
        stored = pd.DataFrame(conn.execute(text(
            f"SELECT code, {', '.join(ROUTED)}, handle_due, warn_at FROM cases "
            "WHERE code LIKE '12345-T-%' ORDER BY code")).mappings().all())
        events = conn.execute(text(
            "SELECT count(*), count(DISTINCT (e.county_code, e.case_code)) FROM case_events e "
            "JOIN cases c ON c.county_code = e.county_code AND c.code = e.case_code "
            "WHERE e.action = 'import' AND c.code LIKE '12345-T-%'")).one()
    assert len(stored) == N and tuple(events) == (N, N)  # one import event per case
    assert stored[["dispatch_due", "handle_due", "warn_at"]].notna().all().all()
    assert (stored.warn_at < stored.handle_due).all()

    # the same orders one at a time through intake: the same county, unit, rule and deadline
    sample = orders.sample(40, random_state=1).sort_values("code")
    stored = stored.set_index("code")
    with zy.begin() as conn:  # intake numbers its cases past the bundle's (same date, same N)
        conn.execute(text("SELECT setval('case_numbers', 900000)"))
    for order in sample.itertuples():
        with zy.connect() as conn:
            trans = conn.begin()
            case = intake.file_report(
                conn, Principal("center", "dispatcher"), category_code=order.category_code,
                lon=order.lon, lat=order.lat, description=order.description,
                channel="hotline", reported_at=order.reported_at.to_pydatetime())
            trans.rollback()
        bulk = stored.loc[order.code]
        assert {k: case[k] for k in ROUTED} == {
            k: None if not isinstance(bulk[k], list) and pd.isna(bulk[k]) else bulk[k]
            for k in ROUTED}, order.code


def _broken_references(engine) -> dict:
    """Per foreign key of cases and case_events: rows whose reference is not stored."""
    broken = {}
    with engine.connect() as conn:
        for name in ("cases", "case_events"):
            for fk in table(name).foreign_key_constraints:
                cols = [c.name for c in fk.columns]
                refs = [e.column.name for e in fk.elements]
                target = fk.elements[0].column.table.name
                on = " AND ".join(f"r.{r} = t.{c}" for c, r in zip(cols, refs))
                n = conn.execute(text(
                    f"SELECT count(*) FROM {name} t WHERE t.{cols[0]} IS NOT NULL AND NOT "
                    f"EXISTS (SELECT FROM {target} r WHERE {on})")).scalar()
                if n:
                    broken[(name, *cols)] = n
    return broken


def test_references_are_checked_once_per_key_or_row_by_row_alike(zy):
    """The two ways of checking foreign keys store the same rows; in bulk, a key that is not
    stored (a compound deleted while the orders were routed) refuses the import."""
    orders = _orders(zy, n=300, seed=5)
    result = route_and_store(zy, orders.assign(code="R-" + orders.code),
                             references_in_bulk=False)
    assert not result["references_in_bulk"] and "analyze" in result["seconds"]
    route_and_store(zy, orders.assign(code="B-" + orders.code), references_in_bulk=True)
    with zy.connect() as conn:
        both = [pd.DataFrame(conn.execute(text(
            f"SELECT substr(code, 3) AS code, {', '.join(ROUTED)}, handle_due, warn_at, "
            f"ST_AsText(geom) AS geom FROM cases WHERE code LIKE '{p}-%' ORDER BY code"))
            .mappings().all()) for p in ("R", "B")]
    pd.testing.assert_frame_equal(*both)
    with zy.begin() as conn:
        with pytest.raises(InputError, match="field 'compound_code'.*nowhere-1 is not in "
                                             "compounds"):
            check_references(conn, {"compound_code": {"nowhere-1"}, "county_code": {"141129"}})


def test_route_and_store_refuses_a_rerun_and_bad_orders_with_nothing_written(zy):
    orders = _orders(zy, n=500, seed=11)
    route_and_store(zy, orders)
    before = fingerprint(zy)
    again = pd.concat([_orders(zy, n=20, seed=12).assign(
        code=lambda f: "12345-U-" + f.code), orders.iloc[:5]])  # new orders and old codes
    with pytest.raises(InputError, match="already exists.*duplicate key"):
        route_and_store(zy, again)
    outside = orders.iloc[:3].assign(code=["x1", "x2", "x3"], lon=[116.4, 111.2, 111.2])
    with pytest.raises(InputError, match="row 1, field 'lat/long'"):
        route_and_store(zy, outside)
    twice = orders.iloc[:2].assign(code="x")
    with pytest.raises(InputError, match="the same code twice"):
        route_and_store(zy, twice)
    naive = orders.iloc[:2].assign(reported_at=lambda f: f.reported_at.dt.tz_localize(None))
    with pytest.raises(InputError, match="time zone"):
        route_and_store(zy, naive)
    assert fingerprint(zy) == before
