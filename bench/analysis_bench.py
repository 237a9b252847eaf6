"""Benchmark of the analysis core: county and a 117-county synthetic province.

Prints the median time of each step and, as ratios, against baselines run in the same process:
- coverage: a client-side implementation (read the tables into GeoDataFrames, join and measure in
  pandas/shapely), the obvious way to do it without the store;
- optimizer: networkx's network simplex on the identical min-cost flow instance.
Targets (2-core machine): county coverage < 50 ms, province < 1 s; optimizer < 0.5 s county,
< 20 s province.

    python bench/analysis_bench.py [--counties 117] [--repeat 5]
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, ms, print_table, scratch_database, timed  # noqa: E402
from province import build_province  # noqa: E402

from gridgov.analysis import coverage as cov_mod  # noqa: E402
from gridgov.analysis import recommend  # noqa: E402
from gridgov.analysis.sqlfiles import scope, sql  # noqa: E402
from gridgov.io.importer import import_bundle  # noqa: E402

DAY = dt.date(2026, 11, 28)


def client_side_coverage(engine, counties):
    """Baseline: the same numbers computed in Python from whole tables."""
    where = "WHERE county_code = ANY(%(c)s)"
    params = {"c": counties}
    comp = gpd.read_postgis(f"SELECT code, households, geom FROM compounds {where}", engine,
                            params=params)
    orgs = gpd.read_postgis(f"SELECT code, member_count, geom FROM party_orgs {where}", engine,
                            params=params)
    asg = pd.read_sql(f"SELECT org_code, compound_code, members FROM assignments {where} AND "
                      "valid_from <= %(d)s AND (valid_to IS NULL OR valid_to > %(d)s)", engine,
                      params={**params, "d": DAY})
    asg = asg.drop_duplicates(["org_code", "compound_code"])
    n = asg.groupby("org_code").size().rename("n")
    links = asg.join(n, on="org_code").merge(orgs, left_on="org_code", right_on="code")
    links["share"] = links["member_count"] / links["n"]
    office = gpd.GeoSeries(links["geom"].values, crs=4326).to_crs(4546)
    target = comp.set_index("code").geom.to_crs(4546).reindex(links["compound_code"]).values
    links["office_m"] = office.distance(gpd.GeoSeries(target, crs=4546), align=False).values
    per = links.groupby("compound_code").agg(members=("share", "sum"), orgs=("org_code", "size"),
                                             max_office_m=("office_m", "max"))
    out = comp.join(per, on="code")
    out["status"] = np.where(out["orgs"].isna(), "uncovered", np.where(
        out["households"] > out["members"] * 25, "under_covered", "covered"))
    return out


def networkx_flow(problem):
    """Baseline: networkx's network simplex on the same instance (max flow, then min cost)."""
    g = nx.DiGraph()
    supply, demand = problem["supply"], problem["demand"]
    total = int(min(supply.sum(), demand.sum()))
    g.add_node("s", demand=-total)
    g.add_node("t", demand=total)
    for i, s in enumerate(supply):
        g.add_edge("s", ("o", i), capacity=int(s), weight=0)
    for j, d in enumerate(demand):
        g.add_edge(("c", j), "t", capacity=int(d), weight=0)
    for i, j, c in zip(problem["arc_from"], problem["arc_to"], problem["cost"]):
        g.add_edge(("o", int(i)), ("c", int(j)), capacity=int(min(supply[i], demand[j])),
                   weight=int(round(c)))
    cost, flow = nx.network_simplex(g)
    return cost


def coverage_steps(engine, counties, repeat):
    params = {**scope(DAY, counties), **cov_mod.thresholds(None)}
    steps = {}

    def links():
        with engine.connect() as conn:
            return conn.execute(text("SELECT count(*) FROM gridgov_links(:d, CAST(:c AS text[]))"),
                                {"d": DAY, "c": counties}).scalar()

    def query():
        with engine.connect() as conn:
            return conn.execute(sql("coverage"), params).all()

    steps["links (SQL function)"], _ = timed(links, repeat)
    steps["coverage query + fetch"], _ = timed(query, repeat)
    steps["coverage() → GeoDataFrame"], cov = timed(
        lambda: cov_mod.coverage(engine, DAY, counties), repeat)
    steps["rollup by community + township"], _ = timed(
        lambda: (cov_mod.rollup(cov, "community"), cov_mod.rollup(cov, "township")), repeat)
    steps["kpis"], _ = timed(lambda: cov_mod.kpis(cov), repeat)
    baseline, base = timed(lambda: client_side_coverage(engine, counties), max(1, repeat // 2))
    assert (base.set_index("code")["status"] == cov.set_index("code")["status"]).all()
    return steps, baseline, len(cov)


def optimizer_steps(engine, counties, repeat, k=20):
    with engine.connect() as conn:
        cov = cov_mod.coverage(conn, DAY, counties)
        links = recommend._links(conn, DAY)
        orgs = recommend._orgs(conn, counties)
    links = links[links["compound_code"].isin(cov["code"])]
    t_build, problem = timed(lambda: recommend.transport_problem(cov, links, orgs, k), repeat)
    t_solve, flow = timed(lambda: recommend.solve_transport(
        problem["supply"], problem["demand"], problem["arc_from"], problem["arc_to"],
        problem["cost"]), repeat)
    t_full, rec = timed(lambda: recommend.recommend_assignments(engine, DAY, counties, k,
                                                                evaluate=False), repeat)
    t_nx, nx_cost = timed(lambda: networkx_flow(problem), 1, warmup=0)
    ours = int((flow * np.round(problem["cost"]).astype(int)).sum())
    assert ours == nx_cost, (ours, nx_cost)  # both optimal: same objective
    return {"build instance (spare, k-nearest arcs)": t_build, "solve (OR-tools min-cost flow)":
            t_solve, "recommend_assignments() end to end": t_full}, t_nx, problem, rec


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--counties", type=int, default=117)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    with scratch_database("analysis") as engine:
        import_bundle(engine, ROOT / "geodata" / "zhongyang")
        province = build_province(engine, args.counties)
        with engine.connect() as conn:
            n_c, n_o = conn.execute(text("SELECT (SELECT count(*) FROM compounds WHERE county_code"
                                         " <> '141129'), (SELECT count(*) FROM party_orgs WHERE "
                                         "county_code <> '141129')")).one()
        print(f"synthetic province: {args.counties} counties, {n_c:,} compounds, {n_o:,} orgs\n")

        rows = []
        c_steps, c_base, c_n = coverage_steps(engine, ["141129"], args.repeat)
        p_steps, p_base, p_n = coverage_steps(engine, province, max(1, args.repeat // 2))
        for step in c_steps:
            rows.append([step, ms(c_steps[step]), ms(p_steps[step]), "", ""])
        cov_c, cov_p = c_steps["coverage() → GeoDataFrame"], p_steps["coverage() → GeoDataFrame"]
        rows.append(["baseline: client-side pandas", ms(c_base), ms(p_base),
                     f"{c_base / cov_c:.1f}x", f"{p_base / cov_p:.1f}x"])
        print("COVERAGE (median ms)   target: county < 50 ms, province < 1,000 ms")
        print_table(["step", f"county ({c_n})", f"province ({p_n:,})", "speed-up county",
                     "speed-up province"], rows)
        print(f"coverage() vs target: county {cov_c / 0.050:.2f} of 50 ms, province "
              f"{cov_p / 1.0:.2f} of 1 s\n")

        rows = []
        o_c, nx_c, prob_c, _ = optimizer_steps(engine, ["141129"], args.repeat)
        o_p, nx_p, prob_p, rec_p = optimizer_steps(engine, province, 1)
        for step in o_c:
            rows.append([step, ms(o_c[step]), ms(o_p[step]), "", ""])
        rows.append(["baseline: networkx network simplex (solve)", ms(nx_c), ms(nx_p),
                     f"{nx_c / o_c['solve (OR-tools min-cost flow)']:.1f}x",
                     f"{nx_p / o_p['solve (OR-tools min-cost flow)']:.1f}x"])
        print("OPTIMIZER (median ms)   target: county < 500 ms, province < 20,000 ms")
        print(f"instance: county {len(prob_c['supply'])} donors × {len(prob_c['demand'])} "
              f"compounds, {len(prob_c['cost'])} arcs; province {len(prob_p['supply']):,} donors × "
              f"{len(prob_p['demand']):,} compounds, {len(prob_p['cost']):,} arcs (k=20)")
        print_table(["step", "county", "province", "speed-up county", "speed-up province"], rows)
        full_c, full_p = o_c["recommend_assignments() end to end"], o_p[
            "recommend_assignments() end to end"]
        print(f"recommend vs target: county {full_c / 0.5:.2f} of 0.5 s, province "
              f"{full_p / 20:.2f} of 20 s; same optimum as networkx on both")


if __name__ == "__main__":
    main()
