"""Roads, for network walking distances: nothing real (the kinds arterial, street, lane, bridge are
the project's). In the town (the valley's (u, v) metres): the centre lines of the street grid the
compounds were laid out on, so streets run between blocks and never through a compound; a road
along each river bank; bridges about every 500 m; the lanes of split blocks. Out of town: winding
polylines to the two villages of 宁乡镇 and the other township seats, drawn from their own random
stream ("roads"), so adding the layer changed no other file. All lines are noded once in
EPSG:4546, so that roads meet only at shared vertices.
"""
from __future__ import annotations

import math

import numpy as np
import shapely
from shapely.geometry import LineString, MultiLineString, Point

from .common import COUNTY, GRID, lonlat_to_m, rng_for, to_ll, to_m
from .divisions import Geo
from .rural import TOWNSHIP_POINTS
from .town import V_NORTH, V_SOUTH, Town

BANK_OFFSET = 30.0     # embankment roads run 30 m from the river's centre line; compounds keep 45 m
ROAD_KINDS = ("arterial", "street", "lane", "bridge")

# Curated names. Longitudinal streets from the river outwards (the outer ones may miss the town);
# the 6 main cross streets on the slice borders and the other cross streets, north to south.
# The county government faces south onto 府前街 (build_roads checks it).
LONG_STREET_NAMES = {"W": ["文峰路", "西关街", "西山路", "西环路", "西坡路"],
                     "E": ["朝阳路", "东关街", "东山路", "东环路", "东坡路"]}
MAIN_STREET_NAMES = ["钢城路", "柳沟路", "新华街", "府前街", "阳坡路", "段家庄路"]
CROSS_STREET_NAMES = ["北环路", "钢苑街", "北关街", "兴隆街", "庞家会街", "文化街", "建设路", "团结路",
                      "人民路", "中心街", "解放路", "育才街", "和平街", "胜利路", "光明街", "永安街",
                      "南关街", "太高路", "南环路"]

NOTE_ROAD_STREET = "centre line of a street of the invented town grid, between compound blocks; geometry and name invented"
NOTE_ROAD_BANK = "road along the invented river, 30 m from its centre line; geometry and name invented"
NOTE_ROAD_BRIDGE = "bridge of an invented cross street over the invented river (about every 500 m); geometry and name invented"
NOTE_ROAD_LANE = "lane through an invented street block split in two; geometry invented, unnamed"
NOTE_ROAD_OUT = "simplified winding polyline, {}; not a surveyed alignment; geometry and name invented"


def build_roads(geo: Geo, compounds: list[dict], others: list[dict]) -> list[dict]:
    """The town's street grid (the centre lines of the streets the compounds were laid out
    between), the two river-bank roads, bridges about every 500 m, the lanes of split blocks, and
    roads out of town to the villages of 宁乡镇 and the other township seats. Rows carry the
    geometry in EPSG:4326, noded so that roads meet at shared vertices."""
    town = geo.town
    # The two parcels of a split block share their lane: keep it once, north to south.
    lanes = {p["lane"].wkb: p["lane"] for p in compounds + others if p["lane"] is not None}
    lanes = sorted(lanes.values(), key=lambda g: (-g.centroid.y, g.centroid.x))
    rows, ends, v_of = town_roads(town, lanes)
    gov = next(p for p in others if p["role"] == "government")
    assert 0 < gov["geom"].bounds[1] - v_of["府前街"] < 20, "府前街 no longer runs below the government"

    rows = [(name, kind, note, geo.valley.to_xy(line)) for name, kind, note, line in rows]
    ends = {k: geo.valley.to_xy(Point(p)) for k, p in ends.items()}
    rows += roads_out_of_town(geo, ends, rng_for("roads"))

    # Node in metres, where a street that ends on another ends exactly on its line: in degrees a
    # straight street bows by centimetres and the end would miss it. A shared vertex then maps
    # to the same rounded lon/lat in every road that has it.
    noded = node_roads([line for _, _, _, line in rows], grid=0.001)
    noded = [shapely.set_precision(to_ll(g), GRID) for g in noded]
    return [{"code": f"{COUNTY}-R{i:04d}", "name": name, "kind": kind, "note": note, "ll": ll}
            for i, ((name, kind, note, _), ll) in enumerate(zip(rows, noded), start=1)]


def town_roads(town: Town, lanes: list) -> tuple[list, dict, dict]:
    """The roads inside the town in (u, v) metres, as rows (name, kind, source note, line); the
    points on the town edge where roads out of town can start, by (road name, side or end); and
    the v of each cross street by name.

    Streets that end on another road end exactly on its line (their end points are computed as
    intersections), so node_roads can join them."""
    rows, ends, v_of = [], {}, {}
    bank = {}
    for side, sign, name in (("W", 1, "滨河西路"), ("E", -1, "滨河东路")):
        line = town.river.offset_curve(sign * BANK_OFFSET, join_style="mitre").intersection(town.polygon)
        assert line.geom_type == "LineString", f"{name} leaves the town"
        bank[side] = line
        rows.append((name, "arterial", NOTE_ROAD_BANK, line))
        ends[(name, "south")], ends[(name, "north")] = sorted([line.coords[0], line.coords[-1]],
                                                              key=lambda c: c[1])

    mains = town.slice_bounds[1:-1]
    inside = [v for v in town.cross_streets if V_SOUTH < v < V_NORTH]   # the others miss the town
    bridges = bridge_streets(inside, mains)
    main_names, other_names = iter(MAIN_STREET_NAMES), iter(CROSS_STREET_NAMES)
    cross_lines = []
    for v in sorted(inside, reverse=True):                             # north to south
        main = v in mains
        name = next(main_names) if main else next(other_names)
        kind = "arterial" if main else "street"
        v_of[name] = v
        west, east = sorted(LineString([(-3000, v), (3000, v)]).intersection(town.polygon).coords)
        across = LineString([west, east])
        pw, pe = across.intersection(bank["W"]), across.intersection(bank["E"])
        assert pw.geom_type == pe.geom_type == "Point"
        pieces = [LineString([west, pw])] + ([LineString([pw, pe])] if v in bridges else []) \
            + [LineString([pe, east])]
        cross_lines += [pieces[0], pieces[-1]]
        rows.append((name, kind, NOTE_ROAD_STREET, pieces[0]))
        if v in bridges:
            rows.append((name[:-1] + "桥", "bridge", NOTE_ROAD_BRIDGE, pieces[1]))
        rows.append((name, kind, NOTE_ROAD_STREET, pieces[-1]))
        ends[(name, "W")], ends[(name, "E")] = west, east
    assert next(main_names, None) is None and next(other_names, None) is None, "street names unused"

    grid = list(cross_lines)
    for side in ("W", "E"):
        assert len(LONG_STREET_NAMES[side]) >= len(town.long_streets[side])
        for u, name in zip(town.long_streets[side], LONG_STREET_NAMES[side]):
            parts = attached_parts(LineString([(u, V_SOUTH - 100), (u, V_NORTH + 100)]), town, cross_lines)
            if parts:
                rows.append((name, "street", NOTE_ROAD_STREET, MultiLineString(parts)))
                grid += parts
    for lane in lanes:
        for part in attached_parts(lane, town, grid):
            rows.append((None, "lane", NOTE_ROAD_LANE, part))
    return rows, ends, v_of


def bridge_streets(vs: list[float], mains: list[float]) -> set[float]:
    """The cross streets that cross the river. From about 250 m inside the south end, each next
    bridge is 400-600 m north of the previous one (on a main street if one is in that range, else
    the street nearest 500 m), until the north end is less than 400 m away."""
    vs = sorted(vs)
    chosen = [min(vs, key=lambda v: abs(v - (V_SOUTH + 250)))]
    while chosen[-1] < V_NORTH - 400:
        last = chosen[-1]
        ahead = [v for v in vs if v > last]
        if not ahead:
            break
        in_range = [v for v in ahead if 400 <= v - last <= 600]
        if in_range:
            chosen.append(min(in_range, key=lambda v: (v not in mains, abs(v - last - 500))))
        else:   # cross streets are 150-250 m apart, so the miss is small
            chosen.append(min(ahead, key=lambda v: abs(v - last - 500)))
    return set(chosen)


def attached_parts(line: LineString, town: Town, grid: list) -> list[LineString]:
    """The parts of line inside the town that meet a road of grid. A part cut off from the grid
    by a bulge of the town edge would be an island in the network, so it is dropped."""
    parts = [p for p in shapely.get_parts(line.intersection(town.polygon)) if p.geom_type == "LineString"]
    return [p for p in parts if p.length > 1.0 and min(p.distance(g) for g in grid) < 1e-6]


def roads_out_of_town(geo: Geo, ends: dict, rng) -> list[tuple]:
    """Roads from the edge of the town to the two villages of 宁乡镇 and to the other township
    seats, in EPSG:4546: the main valley roads north and south from the ends of the river roads,
    the others from the end of a cross street. 下枣林乡 is reached on from 暖泉镇."""
    def seat(code):
        return Point(lonlat_to_m(*TOWNSHIP_POINTS[code][0]))

    plan = [   # name, kind, from, to, route (for the source note)
        ("宁金公路", "arterial", ends[("滨河西路", "north")], seat("141129101"), "the town to the invented seat of 金罗镇"),
        ("宁武公路", "arterial", ends[("府前街", "E")], seat("141129103"), "the town to the invented seat of 武家庄镇"),
        ("宁枝公路", "arterial", ends[("滨河东路", "south")], seat("141129102"), "the town to the invented seat of 枝柯镇"),
        ("宁暖公路", "arterial", ends[("阳坡路", "W")], seat("141129104"), "the town to the invented seat of 暖泉镇"),
        ("暖下公路", "arterial", seat("141129104"), seat("141129201"), "the invented seat of 暖泉镇 to that of 下枣林乡"),
        ("郝家岭村道", "street", ends[("新华街", "W")], Point(geo.sites_m["141129100201"]), "the town to the invented site of 郝家岭村"),
        ("冯家岭村道", "street", ends[("育才街", "E")], Point(geo.sites_m["141129100202"]), "the town to the invented site of 冯家岭村"),
    ]
    inside = to_m(geo.county).buffer(-100)
    town = geo.valley.to_xy(geo.town.polygon)
    return [(name, kind, NOTE_ROAD_OUT.format(route), winding_road(a, b, rng, inside, town))
            for name, kind, a, b, route in plan]


def winding_road(a: Point, b: Point, rng, inside, town) -> LineString:
    """A country road from a to b: the straight line bent sideways by a smooth random wave that
    vanishes at both ends (as a road following valleys would), plus a few metres of noise, with a
    vertex every 250 m or so. Drawn again, less bent, until it stays inside the county and out of
    the town (it may only touch the town edge where it starts)."""
    a, b = np.array(a.coords[0]), np.array(b.coords[0])
    d = b - a
    length = float(np.hypot(*d))
    normal = np.array([-d[1], d[0]]) / length
    t = np.linspace(0.0, 1.0, max(3, math.ceil(length / 250.0)) + 1)
    for attempt in range(12):
        amp = rng.uniform(0.02, 0.06) * length * 0.7 ** attempt
        wave = np.sin(np.pi * t) * np.sin(int(rng.integers(1, 4)) * np.pi * t + rng.uniform(0, 2 * np.pi))
        noise = np.concatenate([[0.0], rng.normal(0.0, 10.0, len(t) - 2), [0.0]])
        road = LineString(a + np.outer(t, d) + np.outer(amp * wave + noise, normal))
        # (a start on the town edge may graze the town by rounding: allow a centimetre)
        if inside.covers(road) and road.intersection(town).length < 0.01:
            return road
    raise AssertionError(f"no road from {a} to {b} stays inside the county and out of the town")


def node_roads(lines: list, grid: float) -> list[MultiLineString]:
    """Split the roads wherever they meet or cross and give each road back its pieces: roads then
    meet only at shared vertices, which is what a network needs. Snap rounding on a grid of
    `grid` (as for the boundaries) also joins a street to the road it ends on when its computed
    end is a hair off that road's line."""
    noded = shapely.union_all(lines, grid_size=grid)
    # Cut into two-point segments, so that no piece runs on past a junction into another road,
    # and hand each segment to the one road it lies on.
    segs = []
    for part in shapely.get_parts(noded):
        xy = shapely.get_coordinates(part)
        segs += [LineString(xy[i:i + 2]) for i in range(len(xy) - 1)]
    segs = np.array(segs, dtype=object)
    mids = shapely.line_interpolate_point(segs, 0.5, normalized=True)
    seg_idx, road_idx = shapely.STRtree(lines).query(mids, predicate="dwithin", distance=2 * grid)
    assert np.array_equal(np.sort(seg_idx), np.arange(len(segs))), "a road segment is ambiguous or lost"
    out = []
    for r in range(len(lines)):
        merged = shapely.line_merge(shapely.multilinestrings(segs[seg_idx[road_idx == r]]))
        out.append(merged if merged.geom_type == "MultiLineString" else MultiLineString([merged]))
    return out


def road_features(roads: list[dict]) -> list[tuple[dict, object]]:
    """roads.geojson: one MultiLineString per road."""
    return [(
        {"code": r["code"], "county_code": COUNTY, "name": r["name"], "kind": r["kind"],
         "source": "synthetic", "source_note": r["note"]}, r["ll"]) for r in roads]
