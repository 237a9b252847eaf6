"""The rural layout (invented; codes and names are real): township seats, village sites, and
which township and village every part of the county belongs to. The county is covered by about
2,000 "atoms", Voronoi cells of a jittered 1 km lattice. Each atom goes to the nearest invented
township point (a plausible seat plus helper points that steer the township's shape; 宁乡镇's seat
is the real GeoNames point, and the town with a 1.5 km belt around it is always 宁乡镇), then to the
nearest invented village site of its township (spread by Lloyd iterations; the village named after
the township sits at its seat). Works in EPSG:4546 metres; divisions.py turns the labelled atoms
into outlines.
"""
from __future__ import annotations

import math

import numpy as np
import shapely
from shapely.geometry import Point, Polygon, box

from .common import lonlat_to_m, nearest, rng_for
from .sources import SEAT_LONLAT
from .town import Valley

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
            xy.append(lonlat_to_m(lon, lat))
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
            seat = lonlat_to_m(*TOWNSHIP_POINTS[tcode][0])
            xy = village_sites(len(codes), atoms_pts[usable], seat, rng)
            # The seat gets the village named after the township; the others are shuffled.
            others = [c for c in codes if c != SEAT_VILLAGE[tcode]]
            others = [others[i] for i in rng.permutation(len(others))]
            codes = [SEAT_VILLAGE[tcode]] + others
        labels[mine] = np.array(codes, dtype=object)[nearest(xy, atoms_pts[mine])]
        for c, p in zip(codes, xy):
            sites[c] = (float(p[0]), float(p[1]))
    return labels, sites
