"""Benchmark of verified coverage (coverage by visits) over a year of check-ins in the province.

Target (issue 10, 2-core machine): verified coverage for the 117-county synthetic province
(~12,500 compounds) over a year of 10,000,000 check-ins in under 1 s per month queried, against a
client-side pandas baseline computed on the same data in the same run.

Ours is ``gridgov.analysis.coverage.coverage(engine, counties=province, basis="visits",
period=month)``, the function behind ``GET /coverage/visits``, ``gg.coverage(basis="visits")``,
the scorecard, the trends and the overview's month slider: coverage on paper as of the month's
last day, with the month's verified visits per compound read from the visits kept per county and
month (``checkin_visits``, gridgov.activity.checkins.keep_visits). The median per month is taken
over a few months of the year; the visits part alone (``coverage.visits``) is shown beside it.
The first query of a month nobody has read yet computes that month's kept visits on the way:
its time is printed apart, and the rest of the year is then kept before measuring.

The baseline fetches the same month's check-ins and the assignments to the client (COPY to CSV,
read by pandas: the fastest way to get rows out) and computes the verified visits per compound
there; each check-in carries its member's organization at the time, so the roster is not needed
to tell whose visits count. Both must agree on the compounds covered in fact and on the visits,
days, members and hours per compound. Then one county: a month, whose plan reads the kept visits
and no check-in partition, and a period across a month's start, whose days are read from that
county's two month partitions and no other (both checked against the baseline too).

The check-ins (generated in SQL, not measured): each member of an organization assigned to a
compound checks in there a few times a month; a quarter of members never do, 6 % of compounds are
never visited and 12 % rarely; about 1 % are flagged (accuracy, mocked, speed, fence), 1 % too
short and 1 % closed automatically at 23:59, and a planner has approved or rejected most of the
flagged ones. The scratch database is dropped at the end.

    python bench/checkin_bench.py [--checkins 10000000] [--counties 117] [--repeat 5]
        [--months 2026-02,2026-05,2026-08,2026-11]
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, ms, print_table, scratch_database, timed  # noqa: E402
from province import add_members, build_province  # noqa: E402

from gridgov.activity.checkins import keep_visits  # noqa: E402
from gridgov.analysis import coverage as cov_mod  # noqa: E402
from gridgov.io.importer import import_bundle  # noqa: E402
from gridgov.settings import ActivitySettings  # noqa: E402

FIRST_MONTH = dt.date(2025, 12, 1)  # the bundle's year of check-ins: December 2025 to November 2026
MONTHS = 12
TARGET_S = 1.0

# Who visits what, stable over the year and different in every county: drawn from hashes of the
# codes, so a member who never visits never does and a neglected compound stays neglected. ``w``
# is a pair's share of the mean rate (0: never).
PAIRS = """
    SELECT m.code AS member_code, m.org_code, a.compound_code, a.valid_from, a.valid_to,
           CASE WHEN hashtext(m.code) & 1023 < 256 THEN 0             -- a quarter never visit
                WHEN hashtext(a.compound_code) & 1023 < 61 THEN 0     -- 6 % nobody visits
                WHEN hashtext(a.compound_code) & 1023 < 184 THEN 0.05 -- 12 % rarely visited
                ELSE 0.4 + 1.2 * (hashtext(m.code || a.compound_code) & 1023) / 1023.0
           END AS w
    FROM members m JOIN assignments a ON a.org_code = m.org_code
    WHERE m.county_code = ANY(CAST(:counties AS text[]))
"""
MONTH_LIST = """
    SELECT m::date AS first, ((m + interval '1 month')::date - m::date) AS days
    FROM generate_series(CAST(:first AS timestamp),
                         CAST(:first AS timestamp) + (:months - 1) * interval '1 month',
                         interval '1 month') m
"""
ACTIVE = ("p.w > 0 AND p.valid_from < mo.first + mo.days "
          "AND (p.valid_to IS NULL OR p.valid_to > mo.first)")
COLUMNS = ("member_code, county_code, org_code, compound_code, kind, checked_in_at, "
           "checked_out_at, auto_checkout, accuracy_m, client_crs, mocked, distance_m, speed_kmh, "
           "flags, status, hours, decided_by, decided_at, geom, source, source_note")
# One county's year: n = floor(lam * w * 2U + V) check-ins per pair and month (mean lam * w), each
# on a random day between 08:00 and 20:00 Beijing time, then its duration, flags and decision.
GENERATE = f"""
WITH pairs AS ({PAIRS}), months AS ({MONTH_LIST}),
drawn AS MATERIALIZED (
    SELECT p.member_code, p.org_code, p.compound_code,
           ((mo.first + floor(random() * mo.days)::int)
            + make_interval(secs => 28800 + floor(random() * 43200)::int))
           AT TIME ZONE 'Asia/Shanghai' AS at,
           random() AS r_dur, random() AS r_flag, random() AS r_dec, random() AS r_pos,
           random() AS r_ang
    FROM pairs p CROSS JOIN months mo
    CROSS JOIN LATERAL generate_series(1, floor(:lam * p.w * 2 * random() + random())::int)
    WHERE {ACTIVE}
), kinds AS (
    SELECT d.*, r_dur < 0.012 AS short, r_dur >= 0.012 AND r_dur < 0.022 AS auto,
           r_flag < 0.006 AS vague, r_flag >= 0.006 AND r_flag < 0.007 AS mocked,
           r_flag >= 0.007 AND r_flag < 0.010 AS fence, r_flag >= 0.010 AND r_flag < 0.011 AS fast
    FROM drawn d
), flagged AS (
    SELECT k.*,
           to_jsonb(array_remove(ARRAY[CASE WHEN vague THEN 'accuracy' END,
                                       CASE WHEN mocked THEN 'mocked' END,
                                       CASE WHEN fast THEN 'speed' END,
                                       CASE WHEN fence THEN 'fence' END,
                                       CASE WHEN short THEN 'short' END,
                                       CASE WHEN auto THEN 'auto_checkout' END], NULL)) AS flags,
           CASE WHEN auto THEN 0 WHEN short THEN 1 + floor(r_dur * 300)::int
                ELSE 15 + floor(r_dur * 12000)::int % 106 END AS minutes
    FROM kinds k
), decided AS (
    SELECT f.*, CASE WHEN flags = '[]' THEN 'valid' WHEN r_dec < 0.45 THEN 'approved'
                     WHEN r_dec < 0.75 THEN 'rejected' ELSE 'flagged' END AS status
    FROM flagged f
)
SELECT DISTINCT ON (d.member_code, d.at)
       d.member_code, CAST(:county AS text), d.org_code, d.compound_code,
       CASE WHEN d.r_pos < 0.04 THEN 'report' ELSE 'service' END,
       d.at,
       CASE WHEN d.auto THEN ((d.at AT TIME ZONE 'Asia/Shanghai')::date + time '23:59')
                             AT TIME ZONE 'Asia/Shanghai'
            ELSE d.at + make_interval(mins => d.minutes) END,
       d.auto,
       CASE WHEN d.vague THEN 120 + round(d.r_pos * 400) ELSE 5 + round(d.r_pos * 35) END,
       CASE WHEN d.r_ang < 0.3 THEN 'gcj02' ELSE 'wgs84' END,
       d.mocked,
       CASE WHEN d.fence THEN 120 + round(d.r_pos * 500) ELSE 0 END,
       CASE WHEN d.fast THEN 130 + round(d.r_pos * 300) ELSE round(d.r_ang * 20) END,
       d.flags, d.status,
       CASE WHEN d.status = 'rejected' THEN 0 WHEN d.auto AND d.status = 'approved' THEN 1.0
            ELSE round(d.minutes / 60.0, 2) END,
       CASE WHEN d.status IN ('approved', 'rejected') THEN 'planner' END,
       CASE WHEN d.status IN ('approved', 'rejected') THEN d.at + interval '2 days' END,
       ST_Translate(k.p, (CASE WHEN d.fence THEN 0.006 ELSE 0.0003 END) * d.r_pos
                         * cos(d.r_ang * 6.2832),
                         (CASE WHEN d.fence THEN 0.005 ELSE 0.0002 END) * d.r_pos
                         * sin(d.r_ang * 6.2832)),
       'synthetic', 'bench check-in'
FROM decided d
JOIN (SELECT code, ST_PointOnSurface(geom) AS p FROM compounds
      WHERE county_code = :county) k ON k.code = d.compound_code
ORDER BY d.member_code, d.at
"""


def _month_partitions(county: str) -> list[tuple[str, str, str]]:
    """(name, from, to) of a county's month partitions, named and bounded as
    gridgov_month_partitions makes them (Beijing-time months)."""
    firsts = [dt.date(FIRST_MONTH.year + (FIRST_MONTH.month - 1 + i) // 12,
                      (FIRST_MONTH.month - 1 + i) % 12 + 1, 1) for i in range(MONTHS + 1)]
    return [(f"checkins__{county}__{m:%Y_%m}", f"{m} 00:00+08", f"{n} 00:00+08")
            for m, n in zip(firsts, firsts[1:])]


def generate_checkins(engine, counties: list[str], total: int, seed: float = 0.42) -> int:
    """About ``total`` check-ins over the year in ``counties``, county by county: each county's
    partition is built apart (month partitions of its own, no indexes or foreign keys while it
    fills) and then attached, which builds its indexes and checks its foreign keys in bulk, not row
    by row. Returns the number of rows."""
    with engine.connect() as conn:
        weight = conn.execute(text(
            f"SELECT sum(p.w) FROM ({PAIRS}) p CROSS JOIN ({MONTH_LIST}) mo WHERE {ACTIVE}"),
            {"counties": counties, "first": FIRST_MONTH, "months": MONTHS}).scalar()
    lam = total / float(weight)
    rows = 0
    for i, county in enumerate(counties):
        with engine.begin() as conn:
            conn.execute(text("SET LOCAL statement_timeout = 0"))
            conn.execute(text("SELECT setseed(:s)"), {"s": (seed * 1000 + i) % 1000 / 1000})
            # the county's partition, as the counties trigger made it, is empty: build it anew
            conn.execute(text(f"DROP TABLE checkins__{county}"))
            conn.execute(text(
                f"CREATE TABLE checkins__{county} (LIKE checkins INCLUDING DEFAULTS INCLUDING "
                "CONSTRAINTS) PARTITION BY RANGE (checked_in_at)"))
            conn.execute(text(f"CREATE TABLE checkins__{county}__default PARTITION OF "
                              f"checkins__{county} DEFAULT"))
            for name, lo, hi in _month_partitions(county):
                conn.execute(text(f"CREATE TABLE {name} PARTITION OF checkins__{county} "
                                  f"FOR VALUES FROM ('{lo}') TO ('{hi}')"))
            rows += conn.execute(text(f"INSERT INTO checkins__{county} ({COLUMNS}) {GENERATE}"),
                                 {"counties": [county], "county": county, "lam": lam,
                                  "first": FIRST_MONTH, "months": MONTHS}).rowcount
            conn.execute(text(f"ALTER TABLE checkins ATTACH PARTITION checkins__{county} "
                              f"FOR VALUES IN ('{county}')"))
    return rows


# --- the baseline: the month's rows fetched to the client, verified coverage in pandas ----------

CODES = {"code": str, "member_code": str, "org_code": str, "compound_code": str}


def _copy(conn, sql: str, **read) -> pd.DataFrame:
    buffer = io.StringIO()
    conn.connection.dbapi_connection.cursor().copy_expert(
        f"COPY ({sql}) TO STDOUT WITH (FORMAT csv, HEADER)", buffer)
    buffer.seek(0)
    return pd.read_csv(buffer, dtype=CODES, **read)


def pandas_coverage(engine, counties: list[str], start: dt.date, end: dt.date,
                    min_visit_days: int) -> pd.DataFrame:
    """Baseline: verified visits per compound in [start, end), and who is covered in fact, from
    the period's check-ins, the assignments and the compounds fetched to the client."""
    where = "county_code IN (" + ", ".join(f"'{c}'" for c in counties) + ")"
    with engine.connect() as conn:
        checkins = _copy(conn, (
            "SELECT id, member_code, org_code, compound_code, status, "
            "CAST(checked_out_at IS NOT NULL AS int) AS closed, hours, "
            "extract(epoch FROM checked_in_at)::float8 AS at FROM checkins "
            f"WHERE {where} AND checked_in_at >= '{start} 00:00+08' "
            f"AND checked_in_at < '{end} 00:00+08'"))
        assignments = _copy(conn, "SELECT org_code, compound_code, valid_from, valid_to "
                                  f"FROM assignments WHERE {where}",
                            parse_dates=["valid_from", "valid_to"])
        compounds = _copy(conn, f"SELECT code FROM compounds WHERE {where}")
    # days since the epoch, Beijing time, for the check-ins and the assignment periods
    c = checkins[checkins["status"].isin(["valid", "approved"])
                 & (checkins["closed"] == 1)].copy()
    c["day"] = ((c["at"] + 8 * 3600) // 86400).astype(np.int64)
    a = assignments.assign(
        lo=assignments["valid_from"].to_numpy("datetime64[D]").astype(np.int64),
        hi=assignments["valid_to"].to_numpy("datetime64[D]").astype(np.int64))
    a.loc[assignments["valid_to"].isna(), "hi"] = np.iinfo(np.int64).max
    v = c.merge(a[["org_code", "compound_code", "lo", "hi"]], on=["compound_code", "org_code"])
    v = v[(v["lo"] <= v["day"]) & (v["day"] < v["hi"])].drop_duplicates("id")
    per = v.groupby("compound_code").agg(
        visits=("day", "size"), visit_days=("day", "nunique"),
        visiting_members=("member_code", "nunique"), verified_hours=("hours", "sum"))
    out = compounds.set_index("code").join(per).fillna(0)
    last_day = np.datetime64(end, "D").astype(np.int64) - 1  # coverage on paper: as of then
    assigned = set(a.loc[(a["lo"] <= last_day) & (last_day < a["hi"]), "compound_code"])
    out["covered_in_fact"] = out.index.isin(assigned) & (out["visit_days"] >= min_visit_days)
    return out


def _compare(ours: pd.DataFrame, base: pd.DataFrame) -> None:
    o = ours.set_index("code")
    fact = ~o["status"].isin(["uncovered", "inactive"])
    assert set(o.index[fact]) == set(base.index[base["covered_in_fact"]]), "covered in fact"
    for col in ("visits", "visit_days", "visiting_members"):
        assert (o[col] == base[col].reindex(o.index).astype(int)).all(), col
    assert np.allclose(o["verified_hours"], base["verified_hours"].reindex(o.index)), "hours"


# --- one county: what its plan reads ---------------------------------------------------------

def plan_reads(engine, counties: list[str], start: dt.date, end: dt.date) -> set[str]:
    """The tables the verified-visits query of ``counties`` in [start, end) reads (EXPLAIN)."""
    found = set()

    def walk(node):
        if "Relation Name" in node:
            found.add(node["Relation Name"])
        for child in node.get("Plans", []):
            walk(child)
    with engine.connect() as conn:
        statement, params = cov_mod.visits_statement(conn, counties, start, end)
        plan = conn.execute(text("EXPLAIN (FORMAT JSON) " + statement.text), params).scalar()
    walk(plan[0]["Plan"])
    return found


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--checkins", type=int, default=10_000_000)
    ap.add_argument("--counties", type=int, default=117)
    ap.add_argument("--months", default="2026-02,2026-05,2026-08,2026-11")
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    months = args.months.split(",")
    min_days = ActivitySettings().min_visit_days
    with scratch_database("checkins") as engine:
        import_bundle(engine, ROOT / "geodata" / "zhongyang")
        province = build_province(engine, args.counties)
        members = add_members(engine, province)
        t = time.perf_counter()
        n = generate_checkins(engine, province, args.checkins)
        t_gen = time.perf_counter() - t
        t = time.perf_counter()
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("SET statement_timeout = 0"))
            conn.execute(text("VACUUM (ANALYZE) checkins"))
        t_vac = time.perf_counter() - t
        with engine.connect() as conn:
            n_c = conn.execute(text("SELECT count(*) FROM compounds WHERE county_code <> '141129'"
                                    )).scalar()
        print(f"synthetic province: {args.counties} counties, {n_c:,} compounds, {members:,} "
              f"members; {n:,} check-ins generated in {t_gen:.0f} s, VACUUM ANALYZE "
              f"{t_vac:.0f} s (not measured)")
        # the first query of a month keeps its visits (checkin_visits); then the rest of the year
        t = time.perf_counter()
        cov_mod.coverage(engine, counties=province, basis="visits", period=months[0])
        t_cold = time.perf_counter() - t
        t = time.perf_counter()
        kept = keep_visits(engine, province, [
            dt.date(FIRST_MONTH.year + (FIRST_MONTH.month - 1 + i) // 12,
                    (FIRST_MONTH.month - 1 + i) % 12 + 1, 1) for i in range(MONTHS)])
        t_keep = time.perf_counter() - t
        print(f"first query of {months[0]}, its visits not kept yet: {t_cold:.2f} s; the other "
              f"{kept:,} (county, month)s of the year kept in {t_keep:.0f} s (not measured)\n")

        rows, ours_s, base_s = [], [], []
        for month in months:
            start, end = cov_mod.visit_period(month)
            t_ours, cov = timed(lambda: cov_mod.coverage(
                engine, counties=province, basis="visits", period=month), args.repeat)
            t_visits, _ = timed(lambda: cov_mod.visits(engine, province, start, end),
                                args.repeat)
            t_base, base = timed(lambda: pandas_coverage(engine, province, start, end, min_days),
                                 max(1, args.repeat // 2))
            _compare(cov, base)
            fact = int((~cov["status"].isin(["uncovered", "inactive"])).sum())
            ours_s.append(t_ours)
            base_s.append(t_base)
            rows.append([month, f"{int(cov['visits'].sum()):,}", f"{fact:,}",
                         f"{int((cov['status'] == 'inactive').sum()):,}", f"{t_ours:.3f}",
                         f"{t_visits:.3f}", f"{t_base:.3f}", f"{t_base / t_ours:.1f}x"])
        med, med_base = statistics.median(ours_s), statistics.median(base_s)
        rows.append(["median per month", "", "", "", f"{med:.3f}", "", f"{med_base:.3f}",
                     f"{med_base / med:.1f}x"])
        print(f"VERIFIED COVERAGE, province ({len(cov):,} compounds; seconds, median of "
              f"{args.repeat})   target: < {TARGET_S:g} s per month")
        print_table(["month", "verified visits", "covered in fact", "inactive",
                     "ours: coverage()", "of which visits()", "baseline: pandas", "speed-up"],
                    rows)
        print(f"ours vs target: {med / TARGET_S:.2f} of {TARGET_S:g} s per month; the same "
              "compounds covered in fact, and visits, days and members per compound, as the "
              "baseline\n")

        county, month = province[len(province) // 2], months[-1]
        start, end = cov_mod.visit_period(month)
        t_county, one = timed(lambda: cov_mod.coverage(
            engine, counties=[county], basis="visits", period=month), args.repeat)
        reads = plan_reads(engine, [county], start, end)
        assert not {r for r in reads if r.startswith("checkins")}, reads  # all of it kept
        # half a month each side of the month's start: those days come from the check-ins
        mid_start, mid_end = start - dt.timedelta(days=15), start + dt.timedelta(days=15)
        t_mid, mid = timed(lambda: cov_mod.coverage(
            engine, counties=[county], basis="visits", period=(mid_start, mid_end)),
            args.repeat)
        _compare(mid, pandas_coverage(engine, [county], mid_start, mid_end, min_days))
        parts = {r for r in plan_reads(engine, [county], mid_start, mid_end)
                 if r.startswith("checkins__")}
        assert parts == {f"checkins__{county}__{d:%Y_%m}" for d in (mid_start, mid_end)}, parts
        print(f"ONE COUNTY ({county}, {len(one)} compounds): {month} {ms(t_county)} ms, read "
              f"from the visits kept for that month (no check-in partition in its plan); "
              f"{mid_start} to {mid_end} {ms(t_mid)} ms, its days read from "
              f"{', '.join(sorted(parts))} and no other partition; both as the baseline")


if __name__ == "__main__":
    main()
