"""The summary printed after a build: the figures of the bundle that the README quotes (counts,
households, distances, access gaps, road lengths, cases by channel and status, check-ins, their
flags and the compounds without visits by month, activities, accounts, demands, key tasks).
Reads the checked files; invents nothing.
"""
from __future__ import annotations

import datetime as dt
import json
import math
from collections import Counter
from pathlib import Path

import numpy as np
import shapely

from .cases import CHANNELS, NEAR_M, T0, WorkClock
from .check import road_gaps, visit_days
from .common import to_m
from .roads import ROAD_KINDS


def summarize(data: dict, out: Path) -> None:
    L, C = data["L"], data["C"]
    comps = [(p, to_m(g)) for p, g in L["compounds"]]
    stations = [to_m(g) for p, g in L["practice_sites"] if p["tier"] == "station"]
    all_sites = [to_m(g) for _, g in L["practice_sites"]]
    offices = {p["code"]: to_m(g) for p, g in L["party_orgs"]}
    comp_m = {p["code"]: g for p, g in comps}
    far_station = sum(min(g.distance(s) for s in stations) > 500 for _, g in comps)
    far_site = sum(min(g.distance(s) for s in all_sites) > 500 for _, g in comps)
    far_centroid = sum(min(g.centroid.distance(s) for s in stations) > 500 for _, g in comps)
    active = [a for a in C["assignments"] if not a["valid_to"]]
    d_active = [offices[a["org_code"]].distance(comp_m[a["compound_code"]].centroid) for a in active]
    members = {}
    for m in C["members"]:
        members[m["compound_code"]] = members.get(m["compound_code"], 0) + 1
    per_comp = {}
    for a in active:
        per_comp.setdefault(a["compound_code"], set()).add(a["org_code"])
    hh = sum(p["households"] for p, _ in comps)
    # Under-covered: fewer than 2 members per 100 households.
    under = [p for p, _ in comps if members.get(p["code"], 0) * 100 < 2 * p["households"]]
    under_big = [p for p in under if p["households"] >= 400]
    sides = [math.sqrt(g.area) for _, g in comps]
    size = sum(f.stat().st_size for f in out.iterdir())
    print(f"gridgov Zhongyang bundle -> {out}  ({size / 1024:.0f} KiB, {len(list(out.iterdir()))} files)")
    print(f"  townships 6, divisions 89 (15 communities, 74 villages), grid cells {len(L['grid_cells'])}")
    print(f"  compounds {len(comps)}: households {hh:,}, population {sum(p['population'] for p, _ in comps):,}, "
          f"sqrt(area) {min(sides):.0f}-{max(sides):.0f} m")
    print(f"  party orgs {len(L['party_orgs'])}, members {len(C['members']):,}, "
          f"assignments {len(C['assignments'])} ({len(active)} active, "
          f"{sum(a['kind'] == 'leader' for a in active)} leader, "
          f"{len(C['assignments']) - len(active)} ended)")
    print(f"  active assignments with office > 1.5 km from the compound: {sum(d > 1500 for d in d_active)}"
          f" (median {np.median(d_active):.0f} m, max {max(d_active):.0f} m)")
    print(f"  compounds with 2-3 orgs: {sum(len(v) >= 2 for v in per_comp.values())}; "
          f"with < 2 members per 100 households: {len(under)} ({len(under_big)} of >= 400 households); "
          f"members per compound {min(members.values())}-{max(members.values())}")
    print(f"  practice sites {len(L['practice_sites'])} (demonstration 10); compounds > 500 m from the "
          f"nearest station: {far_station} (centroid: {far_centroid}), from any practice site: {far_site}")
    roads = L["roads"]
    km = {k: sum(to_m(g).length for p, g in roads if p["kind"] == k) / 1000 for k in ROAD_KINDS}
    gaps = road_gaps(L)
    clear = min(to_m(r).distance(g) for _, r in roads for _, g in comps)
    print(f"  roads {len(roads)}, one connected network ({(out / 'roads.geojson').stat().st_size / 1024:.0f} KiB): "
          + ", ".join(f"{k} {sum(p['kind'] == k for p, _ in roads)} / {km[k]:.1f} km" for k in ROAD_KINDS))
    print(f"  nearest road within {max(gaps['compounds']):.0f} m of every compound's representative point "
          f"and {max(gaps['town sites']):.0f} m of the {len(gaps['town sites'])} practice sites in the town; "
          f"streets keep >= {clear:.1f} m off the compounds")
    print_cases(L, C, out)
    print_activity(L, C, out)


def print_cases(L: dict, C: dict, out: Path) -> None:
    cats, cases = C["case_categories"], C["cases"]
    kinds = Counter(c["kind"] for c in cats)
    channels = Counter(r["channel"] for r in cases)
    statuses = Counter(r["status"] for r in cases)
    size = (out / "cases.csv").stat().st_size / 2**20
    print(f"  case categories {len(cats)} ({kinds['event']} events, {kinds['component']} components); "
          f"cases {len(cases):,} ({size:.1f} MiB) by channel: "
          + ", ".join(f"{ch} {channels[ch]:,}" for ch in CHANNELS)
          + "; by status: " + ", ".join(f"{s} {n:,}" for s, n in statuses.most_common()))
    pts = to_m(shapely.points([float(r["lon"]) for r in cases], [float(r["lat"]) for r in cases]))
    areas = [to_m(g) for layer in ("compounds", "grid_cells", "divisions", "townships")
             for _, g in L[layer]]
    near = len(np.unique(shapely.STRtree(shapely.boundary(areas)).query(
        pts, predicate="dwithin", distance=NEAR_M)[0]))
    inside = len(np.unique(shapely.STRtree([to_m(g) for _, g in L["compounds"]]).query(
        pts, predicate="intersects")[0]))
    # handled within the category's limit, counted from the (last) dispatch on the working calendar
    limit = {c["code"]: (float(c["time_limit"]), c["limit_type"]) for c in cats}
    done = [r for r in cases if r["handled_at"]]

    def sec(s):
        return int((dt.datetime.fromisoformat(s) - T0).total_seconds())
    due = WorkClock().clock(np.array([sec(r["dispatched_at"]) for r in done]),
                            np.array([limit[r["category_code"]][0] for r in done]),
                            np.array([limit[r["category_code"]][1] for r in done]))
    on_time = np.array([sec(r["handled_at"]) for r in done]) <= due
    rated = [int(r["satisfaction"]) for r in cases if r["satisfaction"]]
    print(f"  cases in a compound {inside:,}, within {NEAR_M:g} m of a boundary {near:,}; handled within "
          f"the limit {on_time.mean():.1%} of {len(done):,}; reworked {sum(r['rework_count'] != '0' for r in cases)}, "
          f"returned {sum(r['return_count'] != '0' for r in cases)}, anonymous "
          f"{sum(r['anonymous'] == 'true' for r in cases):,}; rated {len(rated):,} "
          f"(4-5: {sum(x >= 4 for x in rated) / len(rated):.0%})")


def print_activity(L: dict, C: dict, out: Path) -> None:
    rows = C["checkins"]
    size = (out / "checkins.csv").stat().st_size / 2**20
    flags = Counter(f for r in rows for f in json.loads(r["flags"]))
    flagged = sum(r["status"] == "flagged" for r in rows)
    valid = [r for r in rows if r["status"] == "valid"]
    print(f"  check-ins {len(rows):,} ({size:.1f} MiB) by {len({r['member_code'] for r in rows}):,} "
          f"members; valid {len(valid):,} ({sum(float(r['hours']) for r in valid):,.0f} hours), "
          f"flagged {flagged:,}: " + ", ".join(f"{f} {flags[f]}" for f in
                                              ("short", "auto_checkout", "accuracy", "fence", "mocked", "speed")))
    inside = sum(r["distance_m"] == "0" for r in rows)
    print(f"  check-ins inside their compound {inside:,}, kind report {sum(r['kind'] == 'report' for r in rows):,}")
    days = visit_days(C)
    codes = [p["code"] for p, _ in L["compounds"]]
    months = sorted({m for m, _ in days})
    per = {m: sum(len(days.get((m, c), ())) < 2 for c in codes) for m in months}
    never = [c for c in codes if not any((m, c) in days for m in months)]
    counts = Counter(r["checked_in_at"][:7] for r in valid)
    print("  compounds with < 2 visit days (valid check-ins per month): "
          + ", ".join(f"{m[2:]} {per[m]} ({counts[m]:,})" for m in months)
          + f"; never visited {len(never)}")
    q = {r["member_code"] for r in valid if "2026-08" <= r["checked_in_at"][:7] <= "2026-10"}
    print(f"  members without a verified visit in 2026-08..10: {len(C['members']) - len(q):,}; "
          f"without any check-in: {len(C['members']) - len({r['member_code'] for r in rows}):,}")
    acts = C["activities"]
    demo = {p["code"] for p, _ in L["practice_sites"] if p["demonstration"]}
    print(f"  activities {len(acts)} ({sum(a['site_code'] in demo for a in acts)} at demonstration sites, "
          f"{sum(not a['org_code'] for a in acts)} without an organisation), participants "
          f"{sum(int(a['participants']) for a in acts):,}, volunteer hours "
          f"{sum(float(a['volunteer_hours']) for a in acts):,.0f}")
    accounts = C["accounts"]
    late = [a for a in accounts if a["submitted_at"] and a["submitted_at"] > a["due_at"]]
    by_org = Counter(a["org_code"] for a in late)
    print(f"  accounts {len(accounts):,}: submitted {sum(a['status'] == 'submitted' for a in accounts):,} "
          f"(late {len(late)}), draft {sum(a['status'] == 'draft' for a in accounts)}; late in 4+ months: "
          f"{sum(n >= 4 for n in by_org.values())} organisations")
    demands = C["demands"]
    answered = [d for d in demands if d["answered_at"]]
    print(f"  demands {len(demands)} ({sum(bool(d['work_group_code']) for d in demands)} to work groups): "
          f"answered on time {sum(d['answered_at'] <= d['due_at'] for d in answered)}, late "
          f"{sum(d['answered_at'] > d['due_at'] for d in answered)}, open "
          f"{sum(d['status'] == 'open' for d in demands)}")
    ms = C["key_task_milestones"]
    end = dt.date(2026, 11, 27).isoformat()
    print(f"  key-task milestones {len(ms)}: done on time {sum(bool(m['done_on']) and m['done_on'] <= m['due_on'] for m in ms)}, "
          f"late {sum(bool(m['done_on']) and m['done_on'] > m['due_on'] for m in ms)}, overdue "
          f"{sum(not m['done_on'] and m['due_on'] <= end for m in ms)}, not yet due "
          f"{sum(not m['done_on'] and m['due_on'] > end for m in ms)}; progress reports "
          f"{len(C['key_task_progress'])}")
