"""Self-checks on the files just written (read back from disk, not from memory); invents nothing.
The counts from the article, the tiling of the county, townships, divisions and cells, validity
and orientation of every geometry, unique codes, assignments and members consistent with each
other, the named demonstration stations, a connected road network that keeps off the compounds
and reaches every compound and every practice site in the town, case categories and cases
(statuses consistent with their times, points in the county, duplicates near their original),
check-ins (members at compounds their organisation covers, points in the county, distance, speed,
flags, status and hours as gridgov computes them, the shape of the year), activities, accounts
(prefilled from the check-ins), demands, key-task milestones and progress.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from pathlib import Path

import numpy as np
import shapely
from shapely.geometry import shape

from .calendar import CLOSING, add_workdays, is_workday
from .case_categories import LIMIT_TYPES
from .cases import CHANNEL_SHARE, CHANNELS, FIRST_DAY, LAST_DAY, NOW, T0, WRITE_DUPLICATE_OF
from .checkins import FENCE_M, GEOD, MAX_ACCURACY_M, MAX_SPEED_KMH, MIN_MINUTES
from .common import COUNTY, N_COMPOUNDS, N_MEMBERS, N_ORGS, to_m
from .roads import ROAD_KINDS
from .supervision import ACCOUNT_MONTHS, account_due


def read_layer(out: Path, name: str) -> list[tuple[dict, object]]:
    fc = json.loads((out / f"{name}.geojson").read_text(encoding="utf-8"))
    assert fc["type"] == "FeatureCollection"
    return [(f["properties"], shape(f["geometry"])) for f in fc["features"]]


def read_csv(out: Path, name: str) -> list[dict]:
    raw = (out / f"{name}.csv").read_bytes()
    assert not raw.startswith(b"\xef\xbb\xbf") and b"\r" not in raw
    return list(csv.DictReader(io.StringIO(raw.decode("utf-8"))))


def assert_tiles(whole, parts: list, what: str, rel: float = 1e-9) -> None:
    """parts cover whole with no gap and no overlap (areas in squared degrees)."""
    union = shapely.union_all(parts)
    assert abs(union.area - whole.area) <= rel * whole.area, f"{what}: union area differs"
    assert shapely.difference(whole, union).area <= rel * whole.area, f"{what}: gap"
    assert sum(p.area for p in parts) - whole.area <= rel * whole.area, f"{what}: overlap"


def self_check(out: Path) -> dict:
    L = {n: read_layer(out, n) for n in ("counties", "townships", "divisions", "compounds",
                                         "grid_cells", "party_orgs", "practice_sites", "roads")}
    C = {n: read_csv(out, n) for n in ("members", "assignments", "work_groups", "key_tasks",
                                       "case_categories", "cases", "checkins", "activities",
                                       "accounts", "demands", "key_task_milestones",
                                       "key_task_progress")}
    assert [len(L[n]) for n in ("counties", "townships", "divisions", "compounds", "party_orgs")] \
        == [1, 6, 89, N_COMPOUNDS, N_ORGS]
    assert len(C["members"]) == N_MEMBERS and len(C["work_groups"]) == 7 and len(C["key_tasks"]) == 12
    sites = L["practice_sites"]
    assert len(sites) == 96 and sum(p["demonstration"] for p, _ in sites) == 10
    assert [sum(p["tier"] == t for p, _ in sites) for t in ("center", "institute", "station")] == [1, 6, 89]

    for layer, feats in L.items():
        codes = [p["code"] for p, _ in feats]
        assert len(set(codes)) == len(codes), f"duplicate codes in {layer}"
        for p, g in feats:
            assert g.is_valid and not g.is_empty, f"invalid geometry {layer} {p['code']}"
            for poly in (g.geoms if g.geom_type == "MultiPolygon" else []):   # RFC 7946: exterior rings
                assert poly.exterior.is_ccw and not any(r.is_ccw for r in poly.interiors)  # counter-clockwise
            assert p["source"] in ("nbs2023", "amap", "synthetic") and p["source_note"]
    for name, rows in C.items():
        key = "code" if "code" in rows[0] else None
        if key:
            assert len({r[key] for r in rows}) == len(rows), f"duplicate codes in {name}"
    assert len({m["phone"] for m in C["members"]}) == N_MEMBERS

    county = L["counties"][0][1]
    county_ok = county.buffer(1e-9)
    for layer, feats in L.items():
        for p, g in feats:
            assert county_ok.covers(g), f"{layer} {p['code']} outside the county"

    town = {p["code"]: g for p, g in L["townships"]}
    div = {p["code"]: g for p, g in L["divisions"]}
    assert_tiles(county, list(town.values()), "townships / county")
    for code, g in list(town.items()) + list(div.items()):
        assert len(g.geoms) == 1, f"{code} is in several pieces"
    for p, g in L["divisions"]:
        if p["kind"] == "village":
            assert to_m(g).area > 1e6, f"village {p['code']} is smaller than 1 km2"
    for t, g in town.items():
        assert_tiles(g, [d for c, d in div.items() if c.startswith(t)], f"divisions / {t}")
    cells = {}
    for p, g in L["grid_cells"]:
        cells.setdefault(p["community_code"], []).append((p["seq"], p["code"], g))
    assert sorted(cells) == [c for c in sorted(div) if c.startswith("141129100") and c[9] == "0"]
    for comm, cs in cells.items():
        assert 2 <= len(cs) <= 6 and [s for s, _, _ in sorted(cs)] == list(range(1, len(cs) + 1))
        assert all(code == f"{comm}{s:02d}" for s, code, _ in cs)
        # Rows run north to south and tilt with the valley, so that the west cell of a row is
        # also its northern one: numbering by representative point from north to south is the
        # same as rows north to south, west to east within a row.
        by_lat = sorted(cs, key=lambda c: -c[2].representative_point().y)
        assert [s for s, _, _ in by_lat] == sorted(s for s, _, _ in cs), f"cell order in {comm}"
        assert all(len(g.geoms) == 1 for _, _, g in cs), f"multi-part cell in {comm}"
        assert_tiles(div[comm], [g for _, _, g in cs], f"cells / {comm}")
        assert shapely.union_all([g for _, _, g in cs]).equals(div[comm]), f"cells / {comm} not equal"
    comps = L["compounds"]
    per_comm = {}
    for p, g in comps:
        assert div[p["community_code"]].contains(g), f"compound {p['code']} leaves its community"
        assert any(c.contains(g) for _, _, c in cells[p["community_code"]]), f"{p['code']} spans cells"
        assert p["code"].startswith(p["community_code"]) and len(p["code"]) == 15
        per_comm[p["community_code"]] = per_comm.get(p["community_code"], 0) + 1
    assert sorted(per_comm) == sorted(cells) and min(per_comm.values()) >= 4
    geoms = [g for _, g in comps]
    tree = shapely.STRtree(geoms)
    pairs = tree.query(geoms, predicate="intersects")
    assert all(a == b for a, b in pairs.T), "compounds touch or overlap"
    assert len({p["name"] for p, _ in comps}) == N_COMPOUNDS

    orgs = {p["code"]: p for p, _ in L["party_orgs"]}
    assert sum(p["member_count"] for p in orgs.values()) == N_MEMBERS
    assert all(p["member_count"] >= 3 for p in orgs.values())
    for p, g in L["party_orgs"]:
        assert not any(c.contains(g) for c in geoms), f"office of {p['code']} inside a compound"
    per_org = {}
    for m in C["members"]:
        per_org[m["org_code"]] = per_org.get(m["org_code"], 0) + 1
    assert all(per_org.get(c, 0) == p["member_count"] for c, p in orgs.items())
    active = [a for a in C["assignments"] if not a["valid_to"]]
    active_pairs = {(a["org_code"], a["compound_code"]) for a in active}
    assert {a["compound_code"] for a in active} == {p["code"] for p, _ in comps}
    assert {a["org_code"] for a in active} == set(orgs)
    assert all((m["org_code"], m["compound_code"]) in active_pairs for m in C["members"])
    spans = {}
    for a in C["assignments"]:
        end = a["valid_to"] or "9999-12-31"
        for s, e in spans.get((a["org_code"], a["compound_code"]), []):
            assert end < s or a["valid_from"] > e, f"overlapping assignments {a}"
        spans.setdefault((a["org_code"], a["compound_code"]), []).append((a["valid_from"], end))
    ended = [a for a in C["assignments"] if a["valid_to"]]
    assert 4 <= len(ended) <= 6
    for a in ended:
        nxt = (dt.date.fromisoformat(a["valid_to"]) + dt.timedelta(days=1)).isoformat()
        assert any(b["org_code"] == a["org_code"] and b["valid_from"] == nxt and not b["valid_to"]
                   and b["compound_code"] != a["compound_code"] for b in C["assignments"])
    for t in C["key_tasks"]:
        resp = t["responsible_orgs"].split(";")
        assert 1 <= len(resp) <= 4 and all(r in orgs for r in resp)
        assert t["work_group_code"] in {w["code"] for w in C["work_groups"]}
    assert {p["work_group_code"] for p in orgs.values()} <= {w["code"] for w in C["work_groups"]}

    stations = {p["division_code"]: (p, g) for p, g in sites if p["tier"] == "station"}
    assert sorted(stations) == sorted(div)
    for code, (p, g) in stations.items():
        assert div[code].contains(g), f"station {p['code']} outside its division"
    for p, g in sites:
        if p["tier"] == "institute":
            assert town[p["township_code"]].contains(g)
    for code, theme in (("141129104218", "生态文明"), ("141129201213", "乡村旅游"), ("141129201203", "积分超市"),
                        ("141129100011", "民俗文化"), ("141129100014", "生态宜居")):
        assert stations[code][0]["demonstration"] is True and stations[code][0]["theme"] == theme
    check_roads(L)
    check_cases(L, C)
    check_checkins(L, C)
    check_supervision(L, C)
    return {"L": L, "C": C}


# the times each status has (+) and has not (-); the others may be either
STAGES = {
    "received": "-dispatched_at -signed_at -handled_at -closed_at -paused_at",
    "filed": "-dispatched_at -signed_at -handled_at -closed_at -paused_at",
    "dispatched": "+dispatched_at -signed_at -handled_at -closed_at -paused_at",
    "signed": "+dispatched_at +signed_at -handled_at -closed_at -paused_at",
    "handled": "+dispatched_at +signed_at +handled_at -closed_at -paused_at",
    "closed": "+dispatched_at +signed_at +handled_at +closed_at -paused_at",
    "returned": "+dispatched_at -signed_at -handled_at -closed_at -paused_at",
    "suspended": "+dispatched_at -handled_at -closed_at +paused_at",
    "rejected": "-dispatched_at -signed_at -handled_at -closed_at -paused_at",
    "duplicate": "-dispatched_at -signed_at -handled_at -closed_at -paused_at",
}
TIMES = ("reported_at", "dispatched_at", "signed_at", "handled_at", "closed_at")


def check_cases(L: dict, C: dict) -> None:
    """Categories: 30 unique codes, events in classes 01-06 and components in 51-56, a route org
    that exists. Cases: unique codes, known categories, times in the year and consistent with the
    status and with each other, points inside the county, reporters' data as the channel allows,
    duplicates within 50 m and 7 days after an earlier case of their category, the mixes."""
    cats = {c["code"]: c for c in C["case_categories"]}
    orgs = {p["code"] for p, _ in L["party_orgs"]}
    assert len(cats) == len(C["case_categories"]) == 30
    for code, c in cats.items():
        cls = int(code[:2])
        assert re.fullmatch(r"\d{4}", code) and c["service_code"] == code and c["active"] == "true"
        assert (c["kind"], cls <= 6) in (("event", True), ("component", False)) and cls <= 56
        assert float(c["time_limit"]) > 0 and c["limit_type"] in LIMIT_TYPES
        assert c["filing_condition"] and c["closing_condition"] and c["source_note"]
        assert not c["route_org_code"] or c["route_org_code"] in orgs

    cases = C["cases"]
    assert 19_000 <= len(cases) <= 21_000
    now = T0 + dt.timedelta(seconds=NOW)
    t = {k: [dt.datetime.fromisoformat(r[k]) if r[k] else None for r in cases]
         for k in (*TIMES, "paused_at")}
    for i, r in enumerate(cases):
        assert r["category_code"] in cats and r["channel"] in CHANNELS, r["code"]
        assert r["county_code"] == COUNTY and r["source"] == "synthetic" and r["source_note"]
        local = t["reported_at"][i]
        assert local.utcoffset() == dt.timedelta(hours=8) and FIRST_DAY <= local.date() <= LAST_DAY
        assert r["code"] == f"{COUNTY}-{local:%Y%m%d}-{r['code'][-6:]}", r["code"]
        for rule in STAGES[r["status"]].split():
            assert (t[rule[1:]][i] is not None) == (rule[0] == "+"), (r["code"], r["status"], rule)
        seq = [t[k][i] for k in TIMES if t[k][i] is not None]
        assert seq == sorted(seq) and seq[-1] <= now, r["code"]
        if t["paused_at"][i]:
            assert max(seq) <= t["paused_at"][i] <= now
        if r["status"] == "returned":
            assert int(r["return_count"]) >= 1
        if r["satisfaction"]:
            assert r["status"] == "closed" and r["channel"] in ("resident", "hotline")
            assert 1 <= int(r["satisfaction"]) <= 5
        if r["anonymous"] == "true":
            assert r["channel"] == "resident" and not r["reporter_name"] and not r["reporter_phone"]
        else:
            assert r["reporter_name"] and re.fullmatch(r"10[01]\d{8}", r["reporter_phone"])
        assert not r["duplicate_of"] or r["status"] == "duplicate", r["code"]
        assert r["duplicate_of"] or r["status"] != "duplicate" or not WRITE_DUPLICATE_OF, r["code"]

    lon = np.array([float(r["lon"]) for r in cases])
    lat = np.array([float(r["lat"]) for r in cases])
    county = L["counties"][0][1]
    assert shapely.contains_xy(county, lon, lat).all(), "a case outside the county"
    xy = shapely.get_coordinates(to_m(shapely.points(lon, lat)))
    index = {r["code"]: i for i, r in enumerate(cases)}
    when = np.array([(w - T0).total_seconds() for w in t["reported_at"]])
    category = np.array([r["category_code"] for r in cases])
    kept = np.array([r["status"] not in ("duplicate", "rejected") for r in cases])
    for i, r in enumerate(cases):
        if r["duplicate_of"]:
            j = index[r["duplicate_of"]]
            assert cases[j]["category_code"] == r["category_code"] and kept[j]
            assert 0 < when[i] - when[j] <= 7 * 86400 and np.hypot(*(xy[i] - xy[j])) <= 50, r["code"]
        elif r["status"] == "duplicate":    # its original: same category, 50 m, 7 days before
            assert np.any(kept & (category == r["category_code"]) & (when < when[i])
                          & (when >= when[i] - 7 * 86400)
                          & (np.hypot(*(xy - xy[i]).T) <= 50)), r["code"]

    share = {ch: sum(r["channel"] == ch for r in cases) / len(cases) for ch in CHANNELS}
    assert all(abs(share[ch] - s) < 0.02 for ch, s in zip(CHANNELS, CHANNEL_SHARE)), share
    assert 0.27 < sum(r["anonymous"] == "true" for r in cases) / len(cases) < 0.33
    assert 0.03 < sum(r["rework_count"] != "0" for r in cases) / len(cases) < 0.05
    assert 0.02 < sum(r["return_count"] != "0" for r in cases) / len(cases) < 0.04
    assert sum(r["status"] == "closed" for r in cases) > 0.9 * len(cases)
    recent = {r["status"] for r, when in zip(cases, t["reported_at"])
              if now - when <= dt.timedelta(days=14)}
    assert recent >= {"received", "filed", "dispatched", "signed", "handled", "returned",
                      "suspended", "rejected", "duplicate"}, recent


def check_roads(L: dict) -> None:
    """The road layer is a connected network whose lines meet at shared vertices, runs between
    the compounds, and reaches every compound and every practice site of the town within 150 m."""
    roads = L["roads"]
    assert [p["code"] for p, _ in roads] == [f"{COUNTY}-R{i:04d}" for i in range(1, len(roads) + 1)]
    assert all(p["kind"] in ROAD_KINDS and p["county_code"] == COUNTY for p, _ in roads)
    assert all(g.geom_type == "MultiLineString" for _, g in roads)
    lines = [line for _, g in roads for line in g.geoms]
    assert road_components(lines) == 1, "the road network is not connected"
    # Meeting only at shared vertices: noding adds no vertex of its own.
    def vertices(geoms):
        return {(round(x, 7), round(y, 7)) for x, y in shapely.get_coordinates(geoms)}
    assert vertices(shapely.node(shapely.multilinestrings(lines))) == vertices(lines), \
        "roads cross or meet between vertices"

    comps = [g for _, g in L["compounds"]]
    for p, g in roads:     # through a compound = the interiors meet; touching would be allowed
        hits = [c for c in comps if shapely.relate_pattern(g, c, "T********")]
        assert not hits, f"road {p['code']} runs through a compound"
    gaps = road_gaps(L)
    assert len(gaps["town sites"]) == 16   # the centre, 宁乡镇's institute, 14 community stations
    assert max(gaps["compounds"]) <= 150 and max(gaps["town sites"]) <= 150, "a place is off the roads"


def road_gaps(L: dict) -> dict:
    """Metres (EPSG:4546) from each compound's representative point and each practice site in the
    town (its communities) to the nearest road."""
    roads_m = to_m(shapely.union_all([g for _, g in L["roads"]]))
    town = shapely.union_all([g for p, g in L["divisions"]
                              if p["township_code"] == "141129100" and p["kind"] == "community"])
    reps = [to_m(g.representative_point()) for _, g in L["compounds"]]
    sites = [to_m(g) for _, g in L["practice_sites"] if town.covers(g)]
    return {"compounds": shapely.distance(roads_m, reps), "town sites": shapely.distance(roads_m, sites)}


def road_components(lines: list) -> int:
    """Connected pieces of a road network once noded where lines meet or cross (union-find over
    the end points of the noded lines, rounded to the 7 written decimals)."""
    noded = shapely.get_parts(shapely.node(shapely.multilinestrings(lines)))
    parent = {}

    def find(k):
        parent.setdefault(k, k)
        while parent[k] != k:
            parent[k] = parent[parent[k]]
            k = parent[k]
        return k

    for line in noded:
        (x0, y0), (x1, y1) = line.coords[0], line.coords[-1]
        a, b = find((round(x0, 7), round(y0, 7))), find((round(x1, 7), round(y1, 7)))
        parent[a] = b
    return len({find(k) for k in list(parent)})


FLAG_ORDER = ("accuracy", "mocked", "speed", "fence", "short", "auto_checkout")


def visit_days(C: dict) -> dict:
    """(YYYY-MM, compound code) -> set of local days with a verified visit: a valid, checked-out
    check-in by a member of an organisation assigned to the compound (gridgov/sql/visits.sql)."""
    out = {}
    for r in C["checkins"]:
        if r["status"] == "valid" and r["checked_out_at"]:
            out.setdefault((r["checked_in_at"][:7], r["compound_code"]), set()).add(r["checked_in_at"][:10])
    return out


def check_checkins(L: dict, C: dict) -> None:
    """Check-ins: members at compounds their organisation is assigned to on the day, times in
    the year, every point inside the county, and distance, speed, flags, status, hours and kind
    as gridgov.activity.checkins computes them from the written positions and times (with no
    distance or speed near a threshold, so that metres in EPSG:4546 and the ellipsoid give the
    same flags as PostGIS geography); then the shape of the year."""
    rows = C["checkins"]
    assert 38_000 <= len(rows) <= 60_000, len(rows)
    assert "county_code" not in rows[0]      # the importer takes it from the member
    member_org = {m["code"]: m["org_code"] for m in C["members"]}
    spans = {}
    for a in C["assignments"]:
        spans.setdefault((a["org_code"], a["compound_code"]), []).append(
            (a["valid_from"], a["valid_to"] or "9999-12-31"))
    comp = {p["code"]: g for p, g in L["compounds"]}
    comp_m = {code: to_m(g) for code, g in comp.items()}
    t_in = [dt.datetime.fromisoformat(r["checked_in_at"]) for r in rows]
    t_out = [dt.datetime.fromisoformat(r["checked_out_at"]) if r["checked_out_at"] else None
             for r in rows]
    keys = {(r["member_code"], r["checked_in_at"]) for r in rows}
    assert len(keys) == len(rows), "duplicate member and check-in time"
    lon = np.array([float(r["lon"]) for r in rows])
    lat = np.array([float(r["lat"]) for r in rows])
    assert shapely.contains_xy(L["counties"][0][1], lon, lat).all(), "a check-in outside the county"
    xy = shapely.get_coordinates(to_m(shapely.points(lon, lat)))
    dist = np.array([comp_m[r["compound_code"]].distance(shapely.Point(p)) for r, p in zip(rows, xy)])
    order = sorted(range(len(rows)), key=lambda i: (rows[i]["member_code"], t_in[i]))
    assert order == list(range(len(rows))), "check-ins not in member and time order"
    same = np.array([i > 0 and rows[i]["member_code"] == rows[i - 1]["member_code"]
                     for i in range(len(rows))])
    _, _, moved = GEOD.inv(np.roll(lon, 1), np.roll(lat, 1), lon, lat)
    gap = np.array([(t_in[i] - t_in[i - 1]).total_seconds() if i else 0 for i in range(len(rows))])
    speed = np.round(moved / 1000 / np.maximum(gap / 3600, 1 / 3600), 1)
    for i, r in enumerate(rows):
        local = t_in[i]
        assert local.utcoffset() == dt.timedelta(hours=8) and FIRST_DAY <= local.date() <= LAST_DAY
        assert member_org[r["member_code"]] == r["org_code"], r
        day = local.date().isoformat()
        assert any(a <= day < b for a, b in spans.get((r["org_code"], r["compound_code"]), [])), \
            ("not assigned on the day", r)
        assert r["client_crs"] == "wgs84" and r["source"] == "synthetic" and r["source_note"]
        assert abs(dist[i] - FENCE_M) > 0.5, ("distance near the fence", r)
        assert abs(float(r["distance_m"]) - round(dist[i], 1)) < 0.051, (r, dist[i])
        if same[i]:
            assert abs(speed[i] - MAX_SPEED_KMH) > 10, ("speed near the limit", r)
            assert abs(float(r["speed_kmh"]) - speed[i]) < 0.051 and r["kind"] == "service", r
        else:
            assert r["speed_kmh"] == "" and r["kind"] == "report", r
        auto = r["auto_checkout"] == "true"
        out = t_out[i]
        assert out is not None and out >= local
        minutes = (out - local).total_seconds() / 60
        if auto:
            assert out == local.replace(hour=23, minute=59, second=0) and float(r["hours"]) == 0
        else:
            assert float(r["hours"]) == round(minutes / 60, 2), r
        acc = float(r["accuracy_m"])
        expect = [f for f, on in zip(FLAG_ORDER, (
            acc > MAX_ACCURACY_M, r["mocked"] == "true", same[i] and speed[i] > MAX_SPEED_KMH,
            dist[i] > FENCE_M, not auto and minutes < MIN_MINUTES, auto)) if on]
        assert json.loads(r["flags"]) == expect, (r, expect)
        assert r["status"] == ("flagged" if expect else "valid"), r
    # a member is in one place at a time (a forgotten check-out aside)
    for i in range(1, len(rows)):
        if same[i] and rows[i - 1]["auto_checkout"] == "false":
            assert t_out[i - 1] <= t_in[i], rows[i]

    flags = [f for r in rows for f in json.loads(r["flags"])]
    assert set(flags) == set(FLAG_ORDER)
    assert 0.02 < sum(r["status"] == "flagged" for r in rows) / len(rows) < 0.05
    minutes = np.array([(b - a).total_seconds() / 60 for a, b, r in zip(t_in, t_out, rows)
                        if r["status"] == "valid"])
    assert minutes.min() >= 20 and minutes.max() <= 120
    days = visit_days(C)
    months = sorted({m for m, _ in days})
    assert months[0] == "2025-12" and months[-1] == "2026-11"
    codes = [p["code"] for p, _ in L["compounds"]]
    for m in months[:-1]:                                  # full months
        inactive = sum(len(days.get((m, c), ())) < 2 for c in codes)
        assert 0.10 <= inactive / len(codes) <= 0.40, (m, inactive)
    never = [c for c in codes if not any((m, c) in days for m in months)]
    assert 1 <= len(never) <= 5, never


def check_supervision(L: dict, C: dict) -> None:
    """Activities at existing sites by existing units (every demonstration theme held at its
    site); one account per organisation and month with the deadline rule (18:00 on a working
    day), its prefilled visits equal to the verified check-ins; demands to one addressee, times in
    order, due at 18:00 of the 5th, 7th or 10th working day after issue; 3 to 5 milestones per key
    task; monthly progress per responsible unit on working days, never going down."""
    now = T0 + dt.timedelta(seconds=NOW)
    orgs = {p["code"] for p, _ in L["party_orgs"]}
    sites = {p["code"]: p for p, _ in L["practice_sites"]}
    acts = C["activities"]
    assert 250 <= len(acts) <= 500 and len({a["code"] for a in acts}) == len(acts)
    for a in acts:
        assert a["site_code"] in sites and (not a["org_code"] or a["org_code"] in orgs), a
        assert FIRST_DAY.isoformat() <= a["held_on"] <= LAST_DAY.isoformat()
        assert int(a["participants"]) > 0 and float(a["volunteer_hours"]) > 0 and a["theme"]
        assert a["source"] == "synthetic" and a["source_note"]
    for code, p in sites.items():
        if p["demonstration"]:
            assert any(a["site_code"] == code and a["theme"] == p["theme"] for a in acts), code

    accounts = C["accounts"]
    assert len(accounts) == len(orgs) * len(ACCOUNT_MONTHS)
    assert len({(a["org_code"], a["month"]) for a in accounts}) == len(accounts)
    visits = {}
    for r in C["checkins"]:
        if r["status"] == "valid" and r["checked_out_at"]:
            key = (r["org_code"], r["checked_in_at"][:7] + "-01")
            visits[key] = visits.get(key, 0) + 1
    late = 0
    for a in accounts:
        month = dt.date.fromisoformat(a["month"])
        assert month in ACCOUNT_MONTHS and a["org_code"] in orgs
        due = dt.datetime.fromisoformat(a["due_at"])
        assert due == account_due(month) and is_workday(due.date()), a
        assert due.hour * 60 + due.minute == CLOSING and due.second == 0, a
        assert json.loads(a["prefilled"])["visits"] == visits.get((a["org_code"], a["month"]), 0)
        if a["status"] == "submitted":
            t = dt.datetime.fromisoformat(a["submitted_at"])
            assert month < t.date() and t < now and a["submitted_by"] and a["narrative"]
            late += t > dt.datetime.fromisoformat(a["due_at"])
        else:
            assert a["status"] == "draft" and not a["submitted_at"] and not a["submitted_by"]
    assert 0.05 < late / len(accounts) < 0.15
    assert 0 < sum(a["status"] == "draft" for a in accounts) < 0.03 * len(accounts)

    demands = C["demands"]
    groups = {w["code"] for w in C["work_groups"]}
    assert 30 <= len(demands) <= 50
    kinds = set()
    for d in demands:
        assert bool(d["org_code"]) != bool(d["work_group_code"]), d
        assert (d["org_code"] or None) in orgs | {None} and (d["work_group_code"] or None) in groups | {None}
        issued, due = dt.datetime.fromisoformat(d["issued_at"]), dt.datetime.fromisoformat(d["due_at"])
        assert T0 <= issued < due and issued < now and is_workday(issued.date())
        assert due in {dt.datetime.combine(add_workdays(issued.date(), n), dt.time(), due.tzinfo)
                       + dt.timedelta(minutes=CLOSING) for n in (5, 7, 10)}, d
        if d["answered_at"]:
            answered = dt.datetime.fromisoformat(d["answered_at"])
            assert issued < answered < now and d["answer"] and d["status"] in ("answered", "closed")
            kinds.add("late" if answered > due else "on time")
        else:
            assert d["status"] == "open" and not d["answer"]
            kinds.add("open")
    assert kinds == {"late", "on time", "open"}

    tasks = {t["code"] for t in C["key_tasks"]}
    per_task = {}
    for m in C["key_task_milestones"]:
        per_task.setdefault(m["task_code"], []).append(m)
        assert not m["done_on"] or m["done_on"] <= LAST_DAY.isoformat()
    assert sorted(per_task) == sorted(tasks)
    for code, ms in per_task.items():
        assert 3 <= len(ms) <= 5 and [int(m["seq"]) for m in ms] == list(range(1, len(ms) + 1))
        assert [m["due_on"] for m in ms] == sorted(m["due_on"] for m in ms)
    ms = C["key_task_milestones"]
    assert any(m["done_on"] > m["due_on"] for m in ms if m["done_on"])
    assert any(not m["done_on"] and m["due_on"] <= LAST_DAY.isoformat() for m in ms)

    responsible = {(t["code"], o) for t in C["key_tasks"] for o in t["responsible_orgs"].split(";")}
    series = {}
    for p in C["key_task_progress"]:
        assert (p["task_code"], p["org_code"]) in responsible
        assert 0 <= float(p["percent"]) <= 100 and p["reported_on"] <= LAST_DAY.isoformat()
        assert is_workday(dt.date.fromisoformat(p["reported_on"])), p
        series.setdefault((p["task_code"], p["org_code"]), []).append(float(p["percent"]))
    assert set(series) == responsible
    assert all(len(v) == 12 and v == sorted(v) for v in series.values())
