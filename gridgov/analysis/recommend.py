"""Recommendations: (a) who should take on uncovered and under-covered compounds, (b) where new
practice sites reach the most households.

(a) is a capacitated min-cost flow in member units. Supply: members an organization can spare
without pushing any of its compounds below the thresholds (all members of an idle organization;
the surplus share of compounds it over-covers). Demand: members each compound lacks. Arcs: each
compound to its ``k`` nearest organizations with spare members, costing the office-to-compound
distance in metres. OR-tools solves it exactly (max flow at min cost), so the result is optimal for
the arcs kept; a compound-gets-exactly-one-org model would often be infeasible, since ~17 members per
organization cannot cover a 600-household compound alone. Pruning to ``k`` nearest keeps province
scale fast; ``k=None`` keeps every arc.

(b) is the maximal covering location problem: choose ``n_sites`` candidate points maximizing the
households whose compound lies within the target life circle (settings.access_target, default the
10-minute walk) of an existing or new site (straight-line × detour factor), solved as an integer
program (OR-tools with CBC).

Example:
    >>> from datetime import date
    >>> rec = recommend_assignments(engine, as_of=date(2026, 11, 28))   # 38 new assignments
    >>> rec[["org_name", "compound_name", "members", "distance_m"]].head(3)
             org_name compound_name  members  distance_m
    0   中阳县就业服务中心党支部          昌盛小区        2       103.7
    1   中阳县就业服务中心党支部          龙城佳苑        1       306.8
    2  中阳县农业农村局机关党总支         段家庄小区        2       221.1
    >>> rec.attrs["kpis_before"]["under_covered"], rec.attrs["kpis_after"]["under_covered"]
    (29, 0)
    >>> sites = recommend_sites(engine, n_sites=3)
    >>> sites.attrs["households_covered_before"], sites.attrs["households_covered_after"]
    (21064, 26099)
"""

from __future__ import annotations

import datetime as dt
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import Transformer
from scipy.spatial import cKDTree
from sqlalchemy import Connection, Engine, text

from gridgov.analysis.sqlfiles import connection
from gridgov.analysis.coverage import coverage
from gridgov.settings import AnalysisSettings, current

def _local_metric(lon: np.ndarray, lat: np.ndarray) -> Transformer:
    """An azimuthal equidistant projection centred on the data: metres, any county or province."""
    return Transformer.from_proj(
        4326, f"+proj=aeqd +lat_0={np.mean(lat):.6f} +lon_0={np.mean(lon):.6f} +datum=WGS84",
        always_xy=True)


def _links(conn, as_of: dt.date) -> pd.DataFrame:
    rows = conn.execute(text(
        "SELECT l.org_code, l.compound_code, l.members, bool_and(a.members IS NULL) AS implicit "
        "FROM gridgov_links(:d) l JOIN assignments a ON a.org_code = l.org_code "
        "AND a.compound_code = l.compound_code AND a.valid_from <= :d "
        "AND (a.valid_to IS NULL OR a.valid_to > :d) GROUP BY 1, 2, 3"), {"d": as_of}).all()
    return pd.DataFrame(rows, columns=["org_code", "compound_code", "members", "implicit"])


def _orgs(conn, counties) -> pd.DataFrame:
    rows = conn.execute(text(
        "SELECT code, name, member_count, ST_X(geom), ST_Y(geom) FROM party_orgs "
        "WHERE geom IS NOT NULL AND (county_code = ANY(:c) OR :all)"),
        {"c": list(counties or []), "all": not counties}).all()
    return pd.DataFrame(rows, columns=["org_code", "org_name", "member_count", "lon", "lat"])


def spare_members(cov: pd.DataFrame, links: pd.DataFrame, orgs: pd.DataFrame) -> pd.Series:
    """Whole members each organization can commit elsewhere without leaving a compound short.

    A new explicit commitment of x members reduces each of the organization's implicit (evenly
    shared) links by x / n_implicit. Each link may give up at most its proportional part of its
    compound's surplus (so two organizations on one compound never spend the same surplus);
    explicit links are untouched, and members committed nowhere are free.
    """
    have = cov.set_index("code")["members"]
    surplus = (have - cov.set_index("code")["members_needed"]).clip(lower=0)
    count = orgs.set_index("org_code")["member_count"].astype(float)
    spare = count.copy()  # idle organizations: every member
    if len(links):
        l = links[links["compound_code"].isin(have.index)].copy()
        l["room"] = surplus.reindex(l["compound_code"]).values * l["members"].values / \
            have.reindex(l["compound_code"]).replace(0, np.nan).values
        implicit = l[l["implicit"]]
        by_org = implicit.groupby("org_code").agg(n=("room", "size"), tight=("room", "min"))
        explicit_total = l[~l["implicit"]].groupby("org_code")["members"].sum()
        active = l["org_code"].unique()
        spare.loc[spare.index.isin(active)] = 0.0
        free = (count - explicit_total.reindex(count.index).fillna(0)).clip(lower=0)
        all_explicit = [o for o in active if o not in by_org.index]
        spare.loc[spare.index.isin(all_explicit)] = free.loc[free.index.isin(all_explicit)]
        spare.loc[by_org.index.intersection(spare.index)] = (by_org["n"] * by_org["tight"].fillna(0))
    return np.floor(spare.reindex(orgs["org_code"]).fillna(0).values + 1e-9).astype(int)


def solve_transport(supply: np.ndarray, demand: np.ndarray, arcs_from: np.ndarray,
                    arcs_to: np.ndarray, cost: np.ndarray) -> np.ndarray:
    """Max flow at min cost from supplies to demands over the given arcs; returns arc flows."""
    from ortools.graph.python import min_cost_flow

    n_s, n_d = len(supply), len(demand)
    source, sink = n_s + n_d, n_s + n_d + 1
    mcf = min_cost_flow.SimpleMinCostFlow()
    arc_idx = mcf.add_arcs_with_capacity_and_unit_cost(
        arcs_from.astype(np.int32), (arcs_to + n_s).astype(np.int32),
        np.minimum(supply[arcs_from], demand[arcs_to]).astype(np.int64),
        np.round(cost).astype(np.int64))
    mcf.add_arcs_with_capacity_and_unit_cost(
        np.full(n_s, source, np.int32), np.arange(n_s, dtype=np.int32),
        supply.astype(np.int64), np.zeros(n_s, np.int64))
    mcf.add_arcs_with_capacity_and_unit_cost(
        np.arange(n_s, n_s + n_d, dtype=np.int32), np.full(n_d, sink, np.int32),
        demand.astype(np.int64), np.zeros(n_d, np.int64))
    total = int(min(supply.sum(), demand.sum()))
    mcf.set_node_supply(source, total)
    mcf.set_node_supply(sink, -total)
    status = mcf.solve_max_flow_with_min_cost()
    if status != mcf.OPTIMAL:
        raise RuntimeError(f"min-cost flow failed with status {status}")
    return np.array([mcf.flow(int(a)) for a in arc_idx], dtype=np.int64)


def _candidate_arcs(orgs_xy, comp_xy, k):
    if k is None or k >= len(orgs_xy):
        n_o, n_c = len(orgs_xy), len(comp_xy)
        return np.tile(np.arange(n_o), n_c), np.repeat(np.arange(n_c), n_o)
    _, idx = cKDTree(orgs_xy).query(comp_xy, k=k)
    idx = np.asarray(idx).reshape(len(comp_xy), -1)  # k=1 comes back one-dimensional
    return idx.ravel(), np.repeat(np.arange(len(comp_xy)), idx.shape[1])


def recommend_assignments(bind: Engine | Connection, as_of: dt.date | None = None,
                          counties: list[str] | None = None, k: int | None = 20,
                          settings: AnalysisSettings | None = None,
                          evaluate: bool = True,
                          scenario_changes: list[dict] | None = None, *, basis: str = "paper",
                          period: tuple[dt.date, dt.date] | str | None = None
                          ) -> gpd.GeoDataFrame:
    """New assignments (org → compound, members) closing the member shortfall at least total
    distance. ``attrs`` holds ``changes`` (for :func:`gridgov.analysis.scenario.scenario`),
    ``unmet_members``, and ``kpis_before`` / ``kpis_after`` when ``evaluate``.

    With ``scenario_changes`` the recommendation is made for the state after those changes
    (applied in a transaction that is rolled back), and its KPIs compare that state with the
    state after the recommendation too.

    ``basis="visits"``: compounds covered on paper but not visited in ``period`` need members
    too, and an organization can give only members who actually serve (members with a verified
    visit in the period), not its roster.
    """
    as_of = as_of or dt.date.today()
    if scenario_changes:
        from gridgov.analysis.scenario import run_changes, scenario

        if not isinstance(bind, Engine):
            raise TypeError("recommend_assignments with scenario_changes needs an Engine")
        with bind.connect() as conn:
            trans = conn.begin()
            try:
                run_changes(conn, scenario_changes, as_of)
                result = recommend_assignments(conn, as_of, counties, k, settings, evaluate=False)
            finally:
                trans.rollback()
        if evaluate:
            base = scenario(bind, scenario_changes, as_of, counties, settings)
            after = scenario(bind, scenario_changes + result.attrs["changes"], as_of, counties,
                             settings)
            result.attrs["kpis_before"] = base.kpis_after
            result.attrs["kpis_after"] = after.kpis_after
        return result
    with connection(bind) as conn:
        cov = coverage(conn, as_of, counties, settings, basis=basis, period=period)
        links = _links(conn, as_of)
        orgs = _orgs(conn, counties)
        if basis == "visits":
            orgs = _serving(conn, orgs, cov.attrs["period"])
    problem = transport_problem(cov, links, orgs, k)
    result = _empty_result()
    if problem is not None:
        flow = solve_transport(problem["supply"], problem["demand"], problem["arc_from"],
                               problem["arc_to"], problem["cost"])
        result = _result_frame(problem, flow)
    result = result.sort_values(["compound_code", "distance_m"]).reset_index(drop=True)
    changes = changes_for(result, as_of)
    result.attrs["changes"] = changes
    result.attrs["total_distance_m"] = float((result["members"] * result["distance_m"]).sum())
    demand = int(problem["demand"].sum()) if problem is not None else _total_deficit(cov)
    result.attrs["unmet_members"] = int(demand - result["members"].sum())
    if evaluate and isinstance(bind, Engine):
        from gridgov.analysis.scenario import scenario

        outcome = scenario(bind, changes, as_of, counties, settings)
        result.attrs["kpis_before"] = outcome.kpis_before
        result.attrs["kpis_after"] = outcome.kpis_after
    return result


def _serving(conn, orgs: pd.DataFrame, period: tuple[str, str]) -> pd.DataFrame:
    """Organizations' capacity in fact: at most the members with a verified visit in ``period``."""
    serving = dict(conn.execute(text(
        "SELECT org_code, count(DISTINCT member_code) FROM checkins WHERE status IN ('valid', "
        "'approved') AND checked_out_at IS NOT NULL AND checked_in_at >= CAST(:a AS date) "
        "AND checked_in_at < CAST(:b AS date) GROUP BY org_code"),
        {"a": period[0], "b": period[1]}).all())
    return orgs.assign(serving=orgs["org_code"].map(serving).fillna(0).astype(int))


def _deficits(cov: pd.DataFrame) -> pd.DataFrame:
    short = cov[cov["status"].isin(["uncovered", "under_covered", "inactive"])].copy()
    # a compound no one visits needs members who will: all it needs, whatever the paper says
    have = np.where(short["status"] == "inactive", 0.0, short["members"])
    short["deficit"] = np.maximum(np.ceil(short["members_needed"] - have - 1e-9), 0)
    return short[short["deficit"] > 0].reset_index(drop=True)


def _total_deficit(cov: pd.DataFrame) -> int:
    return int(_deficits(cov)["deficit"].sum())


def transport_problem(cov: pd.DataFrame, links: pd.DataFrame, orgs: pd.DataFrame,
                      k: int | None = 20) -> dict | None:
    """The min-cost flow instance: donors' spare members, compounds' deficits, candidate arcs
    (each compound to its ``k`` nearest donors) and their costs in metres. None if nothing to do."""
    short = _deficits(cov)
    spare = spare_members(cov, links, orgs)
    if "serving" in orgs:  # by visits: members who actually serve bound what can be given
        spare = np.minimum(spare, orgs["serving"].to_numpy())
    orgs = orgs.assign(spare=spare)
    donors = orgs[orgs["spare"] > 0].reset_index(drop=True)
    if not len(short) or not len(donors):
        return None
    pts = short.geometry.representative_point()
    tr = _local_metric(donors["lon"].values, donors["lat"].values)
    oxy = np.column_stack(tr.transform(donors["lon"].values, donors["lat"].values))
    cxy = np.column_stack(tr.transform(pts.x.values, pts.y.values))
    a_from, a_to = _candidate_arcs(oxy, cxy, k)
    # an organization already on a compound gives it what it can through its existing link
    held = set(zip(links["org_code"], links["compound_code"]))
    keep = np.array([(o, c) not in held for o, c in zip(donors["org_code"].values[a_from],
                                                        short["code"].values[a_to])], bool)
    a_from, a_to = a_from[keep], a_to[keep]
    # cost: office → compound outline distance in the local equidistant projection (distances
    # of a few km: the projection error is far below 0.1 %)
    comp_m = shapely.transform(short.geometry.values,
                               lambda xy: np.column_stack(tr.transform(xy[:, 0], xy[:, 1])))
    cost = shapely.distance(shapely.points(oxy[a_from]), comp_m[a_to])
    return {"donors": donors, "short": short, "points": pts, "supply": donors["spare"].values,
            "demand": short["deficit"].values.astype(int), "arc_from": a_from, "arc_to": a_to,
            "cost": cost}


def _result_frame(problem: dict, flow: np.ndarray) -> gpd.GeoDataFrame:
    donors, short, pts = problem["donors"], problem["short"], problem["points"]
    a_from, a_to, cost = problem["arc_from"], problem["arc_to"], problem["cost"]
    used = flow > 0
    frame = pd.DataFrame({
        "org_code": donors["org_code"].values[a_from[used]],
        "org_name": donors["org_name"].values[a_from[used]],
        "compound_code": short["code"].values[a_to[used]],
        "compound_name": short["name"].values[a_to[used]],
        "members": flow[used],
        "distance_m": cost[used].round(1),
    })
    lines = shapely.linestrings(np.stack(
        [np.column_stack([donors["lon"].values[a_from[used]], donors["lat"].values[a_from[used]]]),
         np.column_stack([pts.x.values[a_to[used]], pts.y.values[a_to[used]]])], axis=1)) \
        if used.any() else []
    return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(lines, crs=4326), crs=4326)


def _empty_result() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"org_code": [], "org_name": [], "compound_code": [],
                             "compound_name": [], "members": np.array([], dtype=int),
                             "distance_m": []}, geometry=gpd.GeoSeries([], crs=4326), crs=4326)


def changes_for(result: pd.DataFrame, as_of: dt.date) -> list[dict]:
    """Scenario changes that enact ``result``: one explicit-members assignment per arc used."""
    return [{"op": "add_assignment", "org_code": r.org_code, "compound_code": r.compound_code,
             "members": int(r.members), "valid_from": as_of.isoformat(),
             "note": "recommended by gridgov (min-cost flow)"}
            for r in result.itertuples()]


def recommend_sites(bind: Engine | Connection, n_sites: int = 3,
                    counties: list[str] | None = None, spacing_m: float = 150.0,
                    settings: AnalysisSettings | None = None) -> gpd.GeoDataFrame:
    """Best ``n_sites`` new station locations (maximal covering location problem).

    Candidates: a ``spacing_m`` lattice over the compounds' extent plus every compound's
    representative point. Demand: compound households; covered when the walk (straight ×
    detour) to any existing or chosen site is within the target circle. ``attrs`` holds
    households covered before and after.
    """
    from ortools.linear_solver import pywraplp

    s = settings or current(AnalysisSettings)
    radius = s.access_target_m / s.detour_factor  # straight-line reach of the target walk
    with connection(bind) as conn:
        comp = conn.execute(text(
            "SELECT code, name, community_code, households, ST_X(ST_PointOnSurface(geom)), "
            "ST_Y(ST_PointOnSurface(geom)) FROM compounds WHERE county_code = ANY(:c) OR :all "
            "ORDER BY code"), {"c": list(counties or []), "all": not counties}).all()
        sites = conn.execute(text("SELECT ST_X(geom), ST_Y(geom) FROM practice_sites")).all()
    comp = pd.DataFrame(comp, columns=["code", "name", "community_code", "households", "lon", "lat"])
    tr = _local_metric(comp["lon"].values, comp["lat"].values)
    cxy = np.column_stack(tr.transform(comp["lon"].values, comp["lat"].values))
    sxy = np.column_stack(tr.transform([r[0] for r in sites], [r[1] for r in sites])) \
        if sites else np.empty((0, 2))
    covered_now = (cKDTree(sxy).query(cxy, k=1)[0] <= radius) if len(sxy) else \
        np.zeros(len(cxy), bool)
    lo, hi = cxy.min(axis=0) - radius / 2, cxy.max(axis=0) + radius / 2
    gx, gy = np.meshgrid(np.arange(lo[0], hi[0], spacing_m), np.arange(lo[1], hi[1], spacing_m))
    cand = np.vstack([cxy, np.column_stack([gx.ravel(), gy.ravel()])])
    reach = cKDTree(cand).query_ball_point(cxy[~covered_now], r=radius)
    demand = comp["households"].values[~covered_now]

    solver = pywraplp.Solver.CreateSolver("CBC")
    x = [solver.BoolVar(f"x{j}") for j in range(len(cand))]
    y = [solver.BoolVar(f"y{i}") for i in range(len(demand))]
    for i, js in enumerate(reach):
        solver.Add(y[i] <= sum(x[j] for j in js))
    solver.Add(sum(x) <= n_sites)
    solver.Maximize(sum(float(d) * y[i] for i, d in enumerate(demand)))
    status = solver.Solve()
    if status != pywraplp.Solver.OPTIMAL:
        raise RuntimeError(f"siting model not solved to optimality (status {status})")
    chosen = [j for j in range(len(cand)) if x[j].solution_value() > 0.5]
    inv = Transformer.from_proj(tr.target_crs, 4326, always_xy=True)
    newly = np.zeros(len(cxy), bool)
    rows = []
    for rank, j in enumerate(chosen, start=1):
        reached = np.linalg.norm(cxy - cand[j], axis=1) <= radius
        gain = reached & ~covered_now & ~newly
        newly |= gain
        lon, lat = inv.transform(*cand[j])
        rows.append({"rank": rank, "lon": lon, "lat": lat,
                     "compounds_gained": int(gain.sum()),
                     "households_gained": int(comp["households"].values[gain].sum()),
                     "compound_codes": list(comp["code"].values[gain])})
    out = gpd.GeoDataFrame(rows, geometry=gpd.points_from_xy([r["lon"] for r in rows],
                                                             [r["lat"] for r in rows]), crs=4326) \
        if rows else gpd.GeoDataFrame(
            {c: [] for c in ("rank", "lon", "lat", "compounds_gained", "households_gained",
                             "compound_codes")}, geometry=gpd.GeoSeries([], crs=4326), crs=4326)
    total = int(comp["households"].sum())
    out.attrs["households_total"] = total
    out.attrs["households_covered_before"] = int(comp["households"].values[covered_now].sum())
    out.attrs["households_covered_after"] = int(out.attrs["households_covered_before"]
                                                + comp["households"].values[newly].sum())
    out.attrs["objective"] = solver.Objective().Value()
    return out
