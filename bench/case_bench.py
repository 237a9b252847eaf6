"""Benchmark of bulk case intake and case KPIs over the 117-county synthetic province.

Targets (2-core machine), printed as ratios against baselines run in the same process:
- 1,000,000 synthetic 12345 orders routed and stored (gridgov.cases.bulk.route_and_store) in
  under 60 s, at no less than half the throughput of a shapely STRtree point-in-polygon lookup
  of the same points in the same compound, grid-cell, village/community and township polygons;
- case KPIs (gridgov.cases.kpis.case_kpis) over a year of about 3,000,000 cases in under 2 s,
  against the same KPIs computed client-side with pandas from the same rows. The KPIs of past
  months are kept and recomputed where cases changed, so the first call (which computes them
  all) is printed apart, and the unit level is timed again after --changes cases changed.

The orders are spread evenly over the province's counties (copy 800001 lies exactly on the base
county 141129, whose lower code takes its orders, as intake would). For the KPIs the stored
orders are copied with new codes until there are about --total cases. The scratch database is
dropped at the end.

    python bench/case_bench.py [--orders 1000000] [--total 3000000] [--counties 117]
"""

from __future__ import annotations

import argparse
import gc
import io
import re
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import shapely
from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, ms, print_table, scratch_database, timed  # noqa: E402
from province import BASE, build_province, ensure_case_categories  # noqa: E402

from gridgov.cases import kpis  # noqa: E402
from gridgov.cases.bulk import route_and_store  # noqa: E402
from gridgov.io.importer import import_bundle  # noqa: E402

SHANGHAI = "Asia/Shanghai"
FIRST_DAY = pd.Timestamp("2025-11-28", tz=SHANGHAI)  # a year of orders, up to the snapshot
DAYS = 365
NOW = FIRST_DAY + pd.Timedelta(days=DAYS)  # 2026-11-28 00:00, the day the statuses are cut at
# where an order lies: in a compound (by households), on the town's streets between them, in a
# village, anywhere in the county
MIX = {"compound": 0.55, "street": 0.20, "village": 0.20, "county": 0.05}
# 12345 calls by hour of the day (Beijing time): few at night, peaks mid-morning and evening
HOURLY = np.array([1, 1, 1, 1, 1, 2, 4, 7, 10, 11, 10, 9, 7, 8, 9, 9, 8, 8, 9, 10, 9, 6, 3, 2],
                  dtype=float)
WHAT = np.array(["市民来电反映楼下垃圾多日未清运", "市民反映小区门口车辆乱停放",
                 "来电反映路灯不亮", "来电反映夜间施工噪声扰民", "市民反映道路有坑洼积水"],
                dtype=object)
LEVELS = ("unit", "compound", "community", "township", "county")


# --- the synthetic orders ------------------------------------------------------------------------

def _base_geometry(engine):
    """The base county's compounds (with households), villages, town extent and outline, and
    each province county's offset from it (the province is the base county translated)."""
    def geoms(conn, sql):
        rows = conn.execute(text(sql), {"b": BASE}).all()
        return (shapely.from_wkb([bytes(r[0]) for r in rows]),
                np.array([r[1] for r in rows], dtype=float))

    with engine.connect() as conn:
        compounds, households = geoms(conn, "SELECT ST_AsBinary(geom), households FROM compounds "
                                            "WHERE county_code = :b ORDER BY code")
        villages, _ = geoms(conn, "SELECT ST_AsBinary(geom), 1 FROM divisions WHERE county_code "
                                  "= :b AND kind = 'village' AND geom IS NOT NULL ORDER BY code")
        outline, _ = geoms(conn, "SELECT ST_AsBinary(geom), 1 FROM counties WHERE code = :b")
        offsets = pd.DataFrame(conn.execute(text(
            "SELECT c.code, ST_X(ST_Centroid(c.geom)) - ST_X(ST_Centroid(b.geom)) AS dx, "
            "ST_Y(ST_Centroid(c.geom)) - ST_Y(ST_Centroid(b.geom)) AS dy FROM counties c, "
            "counties b WHERE b.code = :b ORDER BY c.code"), {"b": BASE}).all(),
            columns=["code", "dx", "dy"]).set_index("code")
    return compounds, np.nan_to_num(households, nan=1.0) + 1, villages, outline[0], offsets


def _inside(polygons, which, rng):
    """A uniform random point inside ``polygons[which[i]]`` for each i (rejection sampling)."""
    bounds = shapely.bounds(polygons)[which]
    x, y = np.empty(len(which)), np.empty(len(which))
    todo = np.arange(len(which))
    while len(todo):
        b = bounds[todo]
        x[todo] = b[:, 0] + rng.random(len(todo)) * (b[:, 2] - b[:, 0])
        y[todo] = b[:, 1] + rng.random(len(todo)) * (b[:, 3] - b[:, 1])
        todo = todo[~shapely.contains_xy(polygons[which[todo]], x[todo], y[todo])]
    return x, y


def synthetic_orders(engine, counties: list[str], n: int, seed: int, prefix: str,
                     categories: list[str]) -> pd.DataFrame:
    """``n`` 12345 orders spread evenly over ``counties``, a year of them, with their histories
    (dispatch, handling, closing cut at NOW) so that the KPIs have something to measure; in
    the order they were taken, as the hotline's export lists them and as intake writes them
    (so a month's cases lie together in the table, as they do in a real one)."""
    rng = np.random.default_rng(seed)
    compounds, households, villages, outline, offsets = _base_geometry(engine)
    county = np.arange(n) % len(counties)
    where = rng.choice(list(MIX), n, p=list(MIX.values()))
    x, y = np.empty(n), np.empty(n)
    m = where == "compound"
    x[m], y[m] = _inside(compounds, rng.choice(len(compounds), m.sum(),
                                               p=households / households.sum()), rng)
    m = where == "village"
    x[m], y[m] = _inside(villages, rng.integers(0, len(villages), m.sum()), rng)
    m = where == "street"  # the town around its compounds: streets, shops, schools, cells
    town = shapely.buffer(shapely.envelope(shapely.union_all(compounds)), 0.003)
    x[m], y[m] = _inside(np.array([town]), np.zeros(m.sum(), dtype=int), rng)
    m = where == "county"
    x[m], y[m] = _inside(np.array([outline]), np.zeros(m.sum(), dtype=int), rng)
    shift = offsets.loc[counties].to_numpy()[county]
    code = np.array(counties, dtype=object)[county]

    day = rng.integers(0, DAYS, n)
    seconds = rng.choice(24, n, p=HOURLY / HOURLY.sum()) * 3600 + rng.integers(0, 3600, n)
    reported = FIRST_DAY + pd.to_timedelta(day * 86400 + seconds, unit="s")
    hours = pd.to_timedelta
    dispatched = reported + hours(rng.gamma(1.5, 0.6, n), unit="h")
    handled = dispatched + hours(rng.gamma(1.2, 20.0, n), unit="h")
    closed = handled + hours(rng.uniform(1, 30, n), unit="h")
    status = np.select([closed < NOW, handled < NOW, dispatched < NOW],
                       ["closed", "handled", "dispatched"], "received").astype(object)
    odd = rng.random(n)
    status[odd < 0.02] = "rejected"
    status[(odd >= 0.02) & (odd < 0.035)] = "duplicate"
    never = status == "rejected"
    orders = pd.DataFrame({
        "county": code,
        "category_code": np.array(categories, dtype=object)[rng.integers(0, len(categories), n)],
        "lon": x + shift[:, 0], "lat": y + shift[:, 1],
        "reported_at": reported,
        "channel": "hotline",
        "description": WHAT[rng.integers(0, len(WHAT), n)],
        "status": status,
        "dispatched_at": dispatched.where(~never & (dispatched < NOW)),
        "handled_at": handled.where(~never & (handled < NOW)),
        "closed_at": closed.where(status == "closed"),
        "rework_count": (rng.random(n) < 0.05).astype(np.int16),
        "return_count": (rng.random(n) < 0.03).astype(np.int16),
    }).sort_values("reported_at", kind="stable", ignore_index=True)
    # numbered in the order taken, as the hotline numbers them
    orders.insert(0, "code", prefix + "-" + orders.pop("county") + "-"
                  + pd.Series(np.arange(n)).astype(str).str.zfill(7))
    return orders


# --- (a) the baseline and (b) ours: routing and storing a million orders --------------------------

def shapely_baseline(engine, orders: pd.DataFrame) -> tuple[float, dict]:
    """Baseline: shapely STRtree point-in-polygon of the same points in the same polygons (the
    province's compounds, grid cells, villages/communities and townships, as stored), one
    tree per layer, every point queried at once. Returns (seconds, layer -> first hit or -1)."""
    polygons = {}
    with engine.connect() as conn:
        for layer, code in (("compounds", "code"), ("grid_cells", "code"),
                            ("divisions", "code"), ("townships", "code")):
            rows = conn.execute(text(f"SELECT {code}, ST_AsBinary(geom) FROM {layer} "
                                     "WHERE geom IS NOT NULL ORDER BY code")).all()
            polygons[layer] = (np.array([r[0] for r in rows], dtype=object),
                               shapely.from_wkb([bytes(r[1]) for r in rows]))
    t = time.perf_counter()
    points = shapely.points(orders["lon"].to_numpy(), orders["lat"].to_numpy())
    hits = {}
    for layer, (codes, geoms) in polygons.items():
        src, idx = shapely.STRtree(geoms).query(points, predicate="intersects")
        first = np.full(len(points), len(geoms))
        np.minimum.at(first, src, idx)  # where outlines overlap the lowest code wins, as ours
        hits[layer] = np.where(first < len(geoms), codes[np.minimum(first, len(geoms) - 1)], None)
    return time.perf_counter() - t, hits


def _agreement(engine, orders, hits) -> float:
    """Share of orders whose stored compound is the baseline's (both None counts as agreeing)."""
    with engine.connect() as conn:
        stored = dict(conn.execute(text("SELECT code, compound_code FROM cases "
                                        "WHERE code LIKE '12345-%'")).all())
    ours = orders["code"].map(stored).to_numpy(dtype=object, na_value=None)
    return float(np.mean(ours == hits["compounds"]))


# --- (c) case KPIs over about three million cases ------------------------------------------------

def fill_cases(engine, rounds: int) -> float:
    """More cases for the KPIs, quickly: each round copies the stored orders with new codes,
    one day earlier per round (their routing and deadlines shift with them; no events, which
    the KPIs do not read). Returns seconds."""
    t = time.perf_counter()
    with engine.begin() as conn:
        conn.execute(text("SET LOCAL statement_timeout = 0"))
        # copies of stored rows, whose references hold: no per-row foreign-key checks
        conn.execute(text("SET LOCAL session_replication_role = replica"))
        columns = [c for c in conn.execute(text(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'cases' "
            "AND table_schema = current_schema() ORDER BY ordinal_position")).scalars()
            if c not in ("code", "updated_at", "version")]
        times = {c for c in columns if c.endswith(("_at", "_due"))}
        for k in range(1, rounds + 1):
            values = [f"{c} - interval '{k} day'" if c in times else c for c in columns]
            conn.execute(text(
                f"INSERT INTO cases (code, {', '.join(columns)}) SELECT code || '/{k}', "
                f"{', '.join(values)} FROM cases WHERE code LIKE '12345-%' "
                f"AND code NOT LIKE '%/%'"))
    with engine.begin() as conn:  # the statistics the KPI query is planned with
        conn.execute(text("ANALYZE cases (county_code, handle_due, status, unit_code, "
                          "compound_code, division_code, township_code)"))
    return time.perf_counter() - t


def client_side_kpis(engine, start, end) -> tuple[float, pd.DataFrame]:
    """Baseline, part 1: the rows the KPIs count, fetched to the client (COPY to CSV, times as
    epoch seconds). Returns (seconds, rows)."""
    t = time.perf_counter()
    sql = ("COPY (SELECT c.county_code, c.unit_code, c.compound_code, c.division_code, "
           "c.township_code, c.status, c.rework_count, c.return_count, "
           + ", ".join(f"extract(epoch FROM c.{col})::float8 AS {col}" for col in (
               "handle_due", "handled_at", "dispatched_at", "dispatch_due", "closed_at",
               "reported_at"))
           + f" FROM cases c WHERE c.handle_due >= '{start.isoformat()}' AND c.handle_due < "
             f"'{end.isoformat()}' AND c.status NOT IN ('rejected', 'duplicate')) "
             "TO STDOUT WITH (FORMAT csv, HEADER)")
    buffer = io.StringIO()
    raw = engine.raw_connection()
    try:
        raw.cursor().copy_expert(sql, buffer)
    finally:
        raw.close()
    buffer.seek(0)
    rows = pd.read_csv(buffer, dtype={c: "string" for c in (
        "county_code", "unit_code", "compound_code", "division_code", "township_code")})
    month = (pd.to_datetime(rows["handle_due"], unit="s", utc=True).dt.tz_convert(SHANGHAI)
             .dt.tz_localize(None).to_numpy().astype("datetime64[M]"))
    rows["period"] = month
    return time.perf_counter() - t, rows


def pandas_kpis(rows: pd.DataFrame, level: str) -> pd.DataFrame:
    """Baseline, part 2: the KPI counts and close times per month and ``level`` in pandas."""
    key = {"unit": "unit_code", "compound": "compound_code", "community": "division_code",
           "township": "township_code", "county": "county_code"}[level]
    closed = rows["status"] == "closed"
    dispatched = rows["dispatched_at"].notna()
    frame = pd.DataFrame({
        "period": rows["period"], "key": rows[key], "due": 1, "closed": closed,
        "closed_on_time": closed & (rows["handled_at"] <= rows["handle_due"]),
        "reworked": closed & (rows["rework_count"] > 0), "dispatched": dispatched,
        "dispatched_on_time": rows["dispatched_at"] <= rows["dispatch_due"],
        "returned": dispatched & (rows["return_count"] > 0),
        "hours": (rows["closed_at"] - rows["reported_at"]) / 3600})
    groups = frame.groupby(["period", "key"], dropna=False, sort=True)
    out = groups[["due", "closed", "closed_on_time", "reworked", "dispatched",
                  "dispatched_on_time", "returned"]].sum()
    out["median_hours"] = groups["hours"].quantile(0.5)
    out["p90_hours"] = groups["hours"].quantile(0.9)
    out["on_time_rate"] = out["closed_on_time"] / out["due"]
    return out.reset_index()


def touch(engine, n: int, seed: int) -> int:
    """A day's work arriving between two reads of the KPIs: ``n`` cases picked at random over
    the year and the province change (a rework counted), each marking its county and day for
    recomputing. (Not TABLESAMPLE: with one seed it samples the same places of every
    partition, so the cases it picks cluster in a few counties and days.)"""
    with engine.begin() as conn:
        conn.execute(text("SET LOCAL max_parallel_workers_per_gather = 0"))  # one random stream
        conn.execute(text("SELECT setseed(:s)"), {"s": (seed % 1000) / 1000})
        total = conn.execute(text("SELECT count(*) FROM cases")).scalar()
        return conn.execute(text(
            "UPDATE cases c SET rework_count = c.rework_count + 1 FROM (SELECT county_code, code "
            "FROM cases WHERE random() < :p ORDER BY random() LIMIT :n) s "
            "WHERE c.county_code = s.county_code AND c.code = s.code"),
            {"n": n, "p": min(1.0, 20 * n / max(total, 1))}).rowcount


def kpi_steps(engine, counties, repeat, changes):
    """Ours: the first call (which computes and keeps every past month), then each level with
    the past months kept, read as a new process and again in the same process, then the unit
    level after ``changes`` cases changed (in the process that read it before, and in a new
    one). The baseline: the same rows fetched and counted by pandas."""
    start, end = FIRST_DAY.date().replace(day=1), NOW.date()  # whole months; the last runs
    t = time.perf_counter()
    kpis.case_kpis(engine, level="county", start=start, end=end)
    cold = time.perf_counter() - t
    ours = {}
    for level in LEVELS:
        def first():  # in a process that has read nothing yet: every row from the database
            kpis.forget()
            return kpis.case_kpis(engine, level=level, start=start, end=end)
        ours[level], frame = timed(first, repeat)
        if level == "township":
            township = frame
    for level in LEVELS:  # the rows this process read before are kept in its memory
        ours[f"{level}, again in the process"], _ = timed(lambda: kpis.case_kpis(
            engine, level=level, start=start, end=end), repeat)
    after, fresh = [], []
    for k in range(repeat):
        touched = touch(engine, changes, seed=k)
        t = time.perf_counter()
        kpis.case_kpis(engine, level="unit", start=start, end=end)
        after.append(time.perf_counter() - t)
        touch(engine, changes, seed=500 + k)
        kpis.forget()
        t = time.perf_counter()
        kpis.case_kpis(engine, level="unit", start=start, end=end)
        fresh.append(time.perf_counter() - t)
    ours[f"unit, after {touched} cases changed"] = float(np.median(after))
    ours[f"unit, after {touched} cases changed, in a new process"] = float(np.median(fresh))
    one = counties[len(counties) // 2]
    ours[f"unit, one county ({one})"], _ = timed(lambda: kpis.case_kpis(
        engine, level="unit", start=start, end=end, counties=[one]), repeat)
    month = kpis.periods("month", start, end)[0]
    with engine.connect() as conn:  # one county reads one partition
        plan = "\n".join(r[0] for r in conn.exec_driver_sql(
            "EXPLAIN " + kpis.query(), {"counties": [one], "starts": [month.lo],
                                        "ends": [month.hi], "only": [one]}))
    assert set(re.findall(r"cases__\d+", plan)) == {f"cases__{one}"}, plan

    def scan():  # the floor under any query of these rows at the time of the call: reading them
        with engine.connect() as conn:
            return conn.execute(text(
                "SELECT count(*) FROM cases c WHERE c.handle_due >= :s AND c.handle_due < now() "
                "AND c.status NOT IN ('rejected', 'duplicate')"), {"s": month.lo}).scalar()
    floor, _ = timed(scan, repeat)
    fetch, rows = client_side_kpis(engine, pd.Timestamp(month.lo),
                                   pd.Timestamp.now(tz="UTC"))
    base = {}
    for level in LEVELS:
        t = time.perf_counter()
        got = pandas_kpis(rows, level)
        base[level] = fetch + time.perf_counter() - t
        if level == "township":  # the same numbers as the SQL, over the past months
            def keyed(f):
                f = f.assign(period=pd.to_datetime(f["period"]),
                             key=f["key"].astype(object).fillna(""))
                return f[f["period"] < pd.Timestamp(end.replace(day=1))]
            mine = keyed(township)
            both = mine.merge(keyed(got), on=["period", "key"], suffixes=("", "_pd"))
            assert len(both) == len(mine) == len(keyed(got))
            for col in ("due", "closed", "closed_on_time", "dispatched_on_time", "returned"):
                assert (both[col] == both[f"{col}_pd"]).all(), col
            assert np.allclose(both["median_hours"], both["median_hours_pd"], equal_nan=True)
    return cold, ours, base, floor, fetch, len(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--orders", type=int, default=1_000_000)
    ap.add_argument("--total", type=int, default=3_000_000, help="cases for the KPIs")
    ap.add_argument("--counties", type=int, default=117)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--seed", type=int, default=12345)
    ap.add_argument("--changes", type=int, default=100,
                    help="cases changed between two reads of the KPIs")
    args = ap.parse_args()
    with scratch_database("cases") as engine:
        t = time.perf_counter()
        import_bundle(engine, ROOT / "geodata" / "zhongyang")
        province = build_province(engine, args.counties)
        categories = ensure_case_categories(engine)
        orders = synthetic_orders(engine, province, args.orders, args.seed, "12345", categories)
        with engine.connect() as conn:
            n_c, stored = conn.execute(text(
                "SELECT (SELECT count(*) FROM compounds WHERE county_code <> :b), "
                "(SELECT count(*) FROM cases)"), {"b": BASE}).one()
        print(f"synthetic province: {args.counties} counties, {n_c:,} compounds; "
              f"{len(orders):,} orders over {DAYS} days, {len(categories)} categories; "
              f"{stored:,} cases already in the bundle (built in {time.perf_counter() - t:.0f} s)\n")

        base_s, hits = shapely_baseline(engine, orders)
        t = time.perf_counter()
        result = route_and_store(engine, orders)
        ours_s = time.perf_counter() - t
        agree = _agreement(engine, orders, hits)
        n = len(orders)
        steps = result["seconds"]
        routing_s = steps["locate"] + steps["areas"] + steps["route"]
        rows = [[step, f"{s:.2f}", f"{n / s:,.0f}" if s > 0.01 else ""]
                for step, s in steps.items()]
        rows += [["routing alone (locate + areas + route)", f"{routing_s:.2f}",
                  f"{n / routing_s:,.0f}"],
                 ["route_and_store() end to end", f"{ours_s:.2f}", f"{n / ours_s:,.0f}"],
                 ["baseline: shapely STRtree point-in-polygon, 4 layers", f"{base_s:.2f}",
                  f"{n / base_s:,.0f}"]]
        print(f"ROUTE AND STORE {n:,} ORDERS   target: < 60 s, and at least half the baseline's "
              "throughput")
        print_table(["step", "seconds", "points/s"], rows)
        print(f"rules: {result['rules']}; {result['counties']} counties; {result['cases']:,} "
              f"cases and {result['events']:,} events stored; compound as the baseline's for "
              f"{agree:.4%}")
        print(f"throughput ours/baseline: end to end {base_s / ours_s:.2f} (target >= 0.5), "
              f"routing alone {base_s / routing_s:.2f}; end to end {ours_s:.1f} s = "
              f"{ours_s / 60:.2f} of 60 s\n")
        del orders, hits
        gc.collect()

        rounds = max(0, round(args.total / n) - 1)
        fill_s = fill_cases(engine, rounds)
        with engine.connect() as conn:
            total = conn.execute(text("SELECT count(*) FROM cases")).scalar()
        cold, ours, base, floor, fetch, fetched = kpi_steps(engine, province, args.repeat,
                                                            args.changes)
        rows = [[label, ms(s), ms(base[label]) if label in base else "",
                 f"{base[label] / s:.1f}x" if label in base else "", f"{s / 2:.2f}"]
                for label, s in ours.items()]
        rows.append(["floor: count(*) of the same rows", ms(floor), "", "", ""])
        print(f"CASE KPIs over {total:,} cases (+{rounds} copies of the orders in {fill_s:.0f} s; "
              f"{fetched:,} due in the months asked)   target: < 2 s")
        print(f"first call, which computes and keeps every past month of every level: "
              f"{cold:.1f} s")
        print_table(["query (median ms)", "ours", "baseline: fetch + pandas", "speed-up",
                     "of 2 s"], rows)
        print(f"baseline fetch (COPY to the client, read_csv): {ms(fetch)} ms; same due, closed, "
              "on-time, dispatch counts and median hours as the SQL (township level, past "
              "months)")


if __name__ == "__main__":
    main()
