"""The county town of 宁乡镇 (invented): an elongated valley town around the real GeoNames seat,
with a river down the middle and a street grid aligned with the valley, in a local (u, v) frame of
metres: u across the valley (+ towards ESE), v along it (+ NNE). 7 slices along the valley x 2
river banks give the 14 communities of 宁乡镇; their codes and names are real (NBS 2023), where
they lie is invented, as are the town's shape, river and streets. The real town of 宁乡 lies in the
same valley, but this layout is not it.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from shapely import affinity
from shapely.geometry import LineString, Polygon, box

from .common import rng_for, to_ll

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


def slice_of(town: Town, v: float):
    """The slice (0 = south .. 6) that v lies strictly inside, or None."""
    for k in range(7):
        if town.slice_bounds[k] < v < town.slice_bounds[k + 1]:
            return k
    return None


def community_cut_lines_uv(town: Town) -> list:
    """The lines that cut the town into communities: its edge, the river and the main streets
    between slices. Each overshoots by 0.5 m so that it certainly crosses the line it ends on;
    the overshoot is a dangle that polygonize drops."""
    lines = [town.polygon.exterior, town.river.intersection(town.polygon.buffer(0.5))]
    for v in town.slice_bounds[1:-1]:
        lines.append(LineString([(-3000, v), (3000, v)]).intersection(town.polygon.buffer(0.5)))
    return lines
